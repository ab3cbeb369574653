// Public surface of src/terminal (empty until this concern is built).
export {};
