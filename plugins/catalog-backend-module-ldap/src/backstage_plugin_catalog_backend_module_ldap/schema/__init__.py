"""The ldap provider module's config schema (`config.schema.json` beside this module)."""
