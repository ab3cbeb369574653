// Public surface of src/audit (empty until this concern is built).
export {};
