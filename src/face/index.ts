// Public surface of src/face (empty until this concern is built).
export {};
