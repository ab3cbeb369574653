// Public surface of src/crypto (empty until this concern is built).
export {};
