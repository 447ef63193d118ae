"""The type knowledge the merge needs, per document kind, of one Talos minor.

That minor (``_talos`` in ``rules.json``, :func:`rules_version`) is the one place that
says which Talos the rules describe; :mod:`talos.ops.fallback` merges through talosctl
where a cluster or a patch goes beyond it.

``rules.json`` (shipped in the package) holds, for every registered document kind, its
apiVersion, whether its identity includes ``name``, and a tree of its fields with one
merge code each (the codes are listed in the file's ``_about`` entry). This module
turns it into :class:`Rule` trees.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# Leaf codes (see rules.json "_about").
STRING, NUMBER, ENUM, BOOL, DURATION = "s", "i", "e", "b", "d"
PTR_BOOL, PTR_NUMBER, PTR_ENUM = "pb", "pi", "pe"
BYTES, BASE64, LIST_REPLACE = "B", "B64", "R"
MAP_STRINGS, MAP_BOOLS = "Ms", "Mb"
FREE, FREE_REPLACE = "U", "UR"
ALWAYS, SIZE, OPAQUE = "A", "Z", "X"
DISK_SIZE = "DS"  # bytes: 1073741824, "10GB" or "1 GiB"; written back the way Talos writes it
URL, PTR_URL = "URL", "PURL"
# List codes: "L" plus the element kind.
LIST = "L"
ITEMS_STRINGS, ITEMS_VALUES, ITEMS_FREE, ITEMS_OBJECTS = "s", "v", "u", "o"
ITEMS_PORTS = "p"  # port ranges: 443 or "8000-8080" (a range of one port is written as a number)
# Container codes.
STRUCT, PTR_STRUCT, MAP_STRUCTS, KEYED = "S", "P", "M", "K"

SCALARS = frozenset({STRING, NUMBER, ENUM, BOOL, DURATION, PTR_BOOL, PTR_NUMBER, PTR_ENUM})
POINTERS = frozenset({PTR_BOOL, PTR_NUMBER, PTR_ENUM, PTR_STRUCT, PTR_URL, OPAQUE, SIZE})


@dataclass(frozen=True, slots=True)
class Rule:
    """How one field merges.

    ``code`` is a leaf code or a container code (``S``, ``P``, ``M``, ``K``, ``L``).
    ``fields`` are the fields of a struct, of a map's struct values, or of a keyed
    list's items. ``keys`` are a keyed list's key fields, or the fields a list item can
    be selected by with ``$patch: delete``. ``items`` is a list's element kind.
    ``always`` names fields merged even when the patch lacks them (plain bools and
    always-replaced values reset, as Talos does when it merges the enclosing struct).
    ``zero`` is the text of an enum's zero value (``accept``, ``none``): a Go enum is a
    number, so its zero value does not overwrite, like ``""`` and ``0``.
    ``item`` is the struct of an appended list's items, where it is known (``_items`` in
    rules.json): items are then decoded like any struct (types, unknown keys).
    """

    code: str
    fields: Mapping[str, Rule] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    items: str = ""
    always: tuple[str, ...] = ()
    zero: str = ""
    item: Rule | None = None

    @property
    def is_struct(self) -> bool:
        return self.code in (STRUCT, PTR_STRUCT, MAP_STRUCTS, KEYED)


@dataclass(frozen=True, slots=True)
class KindRules:
    """A registered document kind: identity and field rules."""

    kind: str
    api_version: str
    named: bool
    root: Rule


def _leaf(code: str) -> Rule:
    if code.startswith("L:"):
        parts = code.split(":")
        keys = tuple(parts[2].split(",")) if len(parts) > 2 else ()
        return Rule(LIST, items=parts[1], keys=keys)
    if code.startswith(ENUM + ":"):
        return Rule(ENUM, zero=code[2:])
    if code == LIST_REPLACE + "/" + ITEMS_PORTS:
        return Rule(LIST_REPLACE, items=ITEMS_PORTS)
    if code.startswith(LIST_REPLACE + ":"):
        return Rule(LIST_REPLACE, keys=tuple(code[2:].split(",")))
    return Rule(code)


def _container(spec: Mapping[str, Any]) -> Rule:
    head = str(spec["@"])
    fields = {name: _build(sub) for name, sub in spec.items() if name != "@"}
    always = tuple(name for name, rule in fields.items() if _merged_when_absent(rule))
    if head.startswith("K:"):
        return Rule(KEYED, fields=fields, keys=tuple(head[2:].split("|")), always=always)
    return Rule(head, fields=fields, always=always)


def _merged_when_absent(rule: Rule) -> bool:
    if rule.code in (BOOL, ALWAYS):
        return True
    return rule.code == STRUCT and bool(rule.always)


def _build(spec: Any) -> Rule:
    if isinstance(spec, str):
        return _leaf(spec)
    return _container(spec)


def _raw() -> dict[str, Any]:
    # Package data beside this module, read directly: importlib.resources (with the
    # tempfile and zipfile machinery it loads) takes longer to import than this to read.
    text = Path(__file__).with_name("rules.json").read_text(encoding="utf-8")
    raw: dict[str, Any] = json.loads(text)
    return raw


@functools.cache
def rules_version() -> str:
    """The Talos minor the rules describe, e.g. ``v1.12``."""
    return str(_raw()["_talos"])


@functools.cache
def all_kinds() -> Mapping[str, KindRules]:
    """Every registered kind, by kind name (``v1alpha1`` is the legacy machine config)."""
    raw = _raw()
    items: dict[str, dict[str, Any]] = raw.get("_items", {})
    kinds: dict[str, KindRules] = {}
    for kind, spec in raw.items():
        if kind.startswith("_"):
            continue
        root = _container({"@": STRUCT, **spec["doc"]})
        for path, item in items.get(kind, {}).items():
            root = _with_item(root, path.split("."), _item(item))
        kinds[kind] = KindRules(kind, str(spec["api"]), bool(spec["named"]), root)
    return kinds


def _item(spec: Mapping[str, Any]) -> Rule:
    """An item struct: fields as in ``doc``; a field ``{"@": "L:...", ...}`` is a list of them."""
    fields: dict[str, Rule] = {}
    for name, sub in spec.items():
        if isinstance(sub, Mapping) and str(sub["@"]).startswith("L:"):
            inner = {k: v for k, v in sub.items() if k != "@"}
            fields[name] = replace(_leaf(str(sub["@"])), item=_item(inner))
        else:
            fields[name] = _build(sub)
    return Rule(STRUCT, fields=fields)


def _with_item(rule: Rule, path: list[str], item: Rule) -> Rule:
    """``rule`` with the list at ``path`` (field names) given its item struct."""
    if not path:
        if rule.code != LIST:
            raise ValueError(f"rules.json _items: not an appended list ({rule.code})")
        return replace(rule, item=item)
    name, rest = path[0], path[1:]
    if name not in rule.fields:
        raise ValueError(f"rules.json _items: no field {name}")
    fields = dict(rule.fields)
    fields[name] = _with_item(fields[name], rest, item)
    return replace(rule, fields=fields)


def kind_rules(kind: str, api_version: str) -> KindRules | None:
    """The rules of a registered (kind, apiVersion) pair, or None."""
    found = all_kinds().get(kind)
    if found is None or found.api_version != api_version:
        return None
    return found


LEGACY_KIND = "v1alpha1"
LINK_KINDS = frozenset(
    {"BondConfig", "BridgeConfig", "DummyLinkConfig", "LinkConfig", "VLANConfig", "WireguardConfig"}
)
CONFLICTING_KINDS: tuple[frozenset[str], ...] = (
    LINK_KINDS,
    frozenset({"Layer2VIPConfig", "HCloudVIPConfig"}),
    frozenset({"UserVolumeConfig", "ExistingVolumeConfig"}),
)
