"""backstage_plugin_catalog_backend_module_github (being built)."""
