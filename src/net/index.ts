// Public surface of src/net (empty until this concern is built).
export {};
