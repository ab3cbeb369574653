// Public surface of src/web (empty until this concern is built).
export {};
