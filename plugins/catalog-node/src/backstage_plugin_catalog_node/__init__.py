"""backstage_plugin_catalog_node: what other plugins and modules use of the catalog."""

__all__: list[str] = []
