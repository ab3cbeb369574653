// Public surface of src/bureau (empty until this concern is built).
export {};
