"""Integrations with web frameworks and ORMs; each module imports its framework lazily."""
