"""The permission plugin's config schema (`config.schema.json`)."""
