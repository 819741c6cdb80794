"""The events plugin's config schema (`config.schema.json`)."""
