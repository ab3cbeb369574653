// Public surface of src/cs (empty until this concern is built).
export {};
