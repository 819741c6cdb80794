"""Reading catalog files: YAML parsing, the reading allow list and URL readers."""

from backstage_integration import FetchTarget, ReadingAllowList, parse_fetch_url

from backstage_plugin_catalog_backend.readers._url_readers import UrlReaders
from backstage_plugin_catalog_backend.readers._yaml import (
    MAX_DOCUMENT_BYTES,
    MAX_EXPANDED_NODES,
    parse_entity_yaml,
    parse_yaml_documents,
)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_EXPANDED_NODES",
    "FetchTarget",
    "ReadingAllowList",
    "UrlReaders",
    "parse_entity_yaml",
    "parse_fetch_url",
    "parse_yaml_documents",
]
