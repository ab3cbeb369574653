// Public surface of src/register (empty until this concern is built).
export {};
