"""The sample revisions, oldest first."""
