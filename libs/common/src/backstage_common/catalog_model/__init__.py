"""The catalog's entity model: entities, refs, validation rules, relations and annotations.

Entities are plain JSON data (`Entity`). `validate_entity` checks the envelope every entity
shares and, for the built-in kinds, their `spec`, reporting every violation with its JSON path.
Entity refs (`kind:namespace/name`) are parsed into `CompoundEntityRef` and stringified in their
canonical lowercase form. `builtin_relations` gives the relations a built-in kind's spec implies.

Isomorphic: nothing here imports a backend package.
"""

# The package's API is each module's `__all__` (only `_schemas` keeps a name to itself), so a
# name is listed once, beside its definition.
from . import (
    _builtin_relations,
    _constants,
    _formats,
    _location_ref,
    _ref,
    _relations,
    _types,
    _validate,
)
from ._builtin_relations import *  # noqa: F403
from ._constants import *  # noqa: F403
from ._formats import *  # noqa: F403
from ._location_ref import *  # noqa: F403
from ._ref import *  # noqa: F403
from ._relations import *  # noqa: F403
from ._schemas import KIND_SCHEMAS, KindSchema
from ._types import *  # noqa: F403
from ._validate import *  # noqa: F403

__all__ = ["KIND_SCHEMAS", "KindSchema"]
__all__ += _builtin_relations.__all__
__all__ += _constants.__all__
__all__ += _formats.__all__
__all__ += _location_ref.__all__
__all__ += _ref.__all__
__all__ += _relations.__all__
__all__ += _types.__all__
__all__ += _validate.__all__
