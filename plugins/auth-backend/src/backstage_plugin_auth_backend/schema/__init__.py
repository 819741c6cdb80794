"""The auth plugin's config schema (`config.schema.json`)."""
