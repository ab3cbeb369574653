// Public surface of src/agency (empty until this concern is built).
export {};
