"""The event bus tables."""
