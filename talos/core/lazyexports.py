"""A package's public names, each imported from its module on first use.

A package ``__init__`` that imported every module behind its names would make any one
of its modules cost the whole package: reading YAML would load go-yaml's emitter, the
merge rules the whole merger. Instead the ``__init__`` says where each name lives:

    if TYPE_CHECKING:  # what type checkers and readers see
        from talos.core.merge.loading import apply_patches as apply_patches
    else:
        __getattr__ = exported_on_first_use(globals(), {
            "talos.core.merge.loading": ("apply_patches",),
        })
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def exported_on_first_use(
    namespace: dict[str, Any], homes: Mapping[str, Iterable[str]]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``namespace`` (a package's ``globals()``): each name of
    ``homes`` (module -> names) is imported from its module when first asked for, then
    kept in the namespace."""
    home_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        home = home_of.get(name)
        if home is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__
