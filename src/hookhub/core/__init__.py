"""The domain with no I/O: conditions, templates, signing, retry schedules, numeric limits, the
outbound network policy."""
