"""backstage_plugin_permission_backend: the permission plugin (being built)."""
