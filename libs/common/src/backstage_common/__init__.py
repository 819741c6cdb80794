"""backstage_common: config loading, typed errors and shared types.

This package is isomorphic: it depends on no backend package.
"""

__all__: list[str] = []
