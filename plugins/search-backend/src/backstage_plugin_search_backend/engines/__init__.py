"""The built-in search engines: in memory (the default) and Postgres."""

__all__: list[str] = []
