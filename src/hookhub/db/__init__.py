"""Storage: the schema, the named queries and the store, the only code that executes SQL."""
