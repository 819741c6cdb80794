"""The github provider module's config schema (`config.schema.json` beside this module)."""
