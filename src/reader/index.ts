// Public surface of src/reader (empty until this concern is built).
export {};
