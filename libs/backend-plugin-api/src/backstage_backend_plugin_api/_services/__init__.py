"""One Protocol per core service."""
