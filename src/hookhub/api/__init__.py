"""HTTP: the ASGI app, the management API (`/api/v1`) and its error bodies."""
