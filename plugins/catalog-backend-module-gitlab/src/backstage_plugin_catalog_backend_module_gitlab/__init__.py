"""backstage_plugin_catalog_backend_module_gitlab (being built)."""
