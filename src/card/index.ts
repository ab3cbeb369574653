// Public surface of src/card (empty until this concern is built).
export {};
