"""The app plugin's config schema (`config.schema.json`), found through the
`backstage.config_schemas` entry-point group."""
