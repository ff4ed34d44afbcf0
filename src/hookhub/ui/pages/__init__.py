"""The UI's pages, one module per resource."""
