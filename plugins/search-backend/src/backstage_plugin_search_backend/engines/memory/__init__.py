"""The in-memory search engine, the embedded default."""

from backstage_plugin_search_backend.engines.memory._engine import MemorySearchEngine

__all__ = ["MemorySearchEngine"]
