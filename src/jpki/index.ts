// Public surface of src/jpki (empty until this concern is built).
export {};
