"""Glue for web frameworks (optional dependencies, imported only when used)."""
