"""The package's rules table against the reference schema of Talos v1.12 (shared, read-only).

The table in ``talos/core/merge/rules.json`` is our own compact form; this checks that every
field of every kind in the reference has a rule of the right family, so a hand edit
cannot drift from Talos. Skipped when the shared reference is absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from talos.core.merge import rules as R
from talos.core.merge.rules import Rule, all_kinds

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "reference" / "talos" / (
    "configpatcher-schema-v1.12.json"
)

pytestmark = pytest.mark.skipif(not SCHEMA.is_file(), reason="shared reference absent")

FAMILIES: list[tuple[str, set[str]]] = [
    ("KEYED_LIST", {R.KEYED}),
    ("MAP_MERGE values:PTR", {R.MAP_STRUCTS}),
    ("MAP_MERGE values:scalar", {R.MAP_STRINGS}),
    ("MAP_MERGE values:bool", {R.MAP_BOOLS}),
    ("LIST_APPEND", {R.LIST}),
    ("LIST_REPLACE", {R.LIST_REPLACE}),
    ("BYTES_REPLACE", {R.BYTES, R.BASE64}),
    ("UNSTRUCTURED", {R.FREE}),
    ("STRUCT_REPLACE", {R.FREE_REPLACE}),
    ("PTR -> ATOMIC_ALWAYS", {"PA"}),
    ("ATOMIC_ALWAYS", {R.ALWAYS}),
    ("PTR_SCALAR(bool)", {R.PTR_BOOL}),
    ("PTR_SCALAR(int)", {R.PTR_NUMBER, R.PTR_ENUM}),
    ("SCALAR(string)", {R.STRING}),
    ("SCALAR(int)", {R.NUMBER, R.ENUM, R.DURATION}),
    ("BOOL", {R.BOOL}),
    ("PTR -> STRUCT [YAML: URL", {R.PTR_URL}),
    ("STRUCT [YAML: URL", {R.URL}),
    ("PTR -> STRUCT [YAML: custom scalar]", {R.OPAQUE}),
    ("STRUCT [YAML: custom scalar]", {R.SIZE}),
    ("PTR -> STRUCT", {R.PTR_STRUCT}),
    ("STRUCT", {R.STRUCT}),
]


def reference() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())  # type: ignore[no-any-return]


def lookup(root: Rule, path: str) -> Rule | None:
    rule: Rule | None = root
    for part in path.replace("[]", "").split("."):
        if rule is None or part == "<key>":
            continue
        rule = rule.fields.get(part)
    return rule


def field_rows(kind: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        row for row in kind["fields"]
        if not row["path"].startswith("(") and not re.search(r"<(?!key>)", row["path"])
        and not row["path"].endswith(("[]", ".<key>"))
    ]


def test_every_registered_kind_has_rules_with_its_identity() -> None:
    kinds = all_kinds()
    for name, spec in reference().items():
        assert name in kinds, name
        assert kinds[name].named == spec["named"], name
        assert kinds[name].api_version == spec["apiVersion"], name
    assert set(kinds) == set(reference())


def test_every_field_of_the_reference_has_a_rule_of_its_family() -> None:
    checked = 0
    for name, spec in reference().items():
        root = all_kinds()[name].root
        for row in field_rows(spec):
            rule = lookup(root, row["path"])
            assert rule is not None, (name, row["path"])
            family = next(codes for prefix, codes in FAMILIES if row["rule"].startswith(prefix))
            assert rule.code in family, (name, row["path"], row["rule"], rule.code)
            checked += 1
    assert checked > 600


def test_list_items_are_deleted_by_the_keys_the_reference_names() -> None:
    checked = 0
    for name, spec in reference().items():
        root = all_kinds()[name].root
        for row in field_rows(spec):
            found = re.search(r"delete-matchable keys: ([^)]*)\)", row["rule"])
            if not found or found.group(1).strip() == "none":
                continue
            rule = lookup(root, row["path"])
            assert rule is not None
            keys = tuple(k.strip() for k in found.group(1).split(","))
            assert rule.keys == keys, (name, row["path"])
            checked += 1
    assert checked > 30


def test_no_rule_exists_that_the_reference_does_not_know() -> None:
    walked: list[str] = []
    for name, spec in reference().items():
        paths = {row["path"].replace("[]", "").replace(".<key>", "") for row in field_rows(spec)}

        def walk(rule: Rule, prefix: str, kind: str = name, known: set[str] = paths) -> None:
            for field_name, sub in rule.fields.items():
                path = f"{prefix}.{field_name}" if prefix else field_name
                assert path in known, (kind, path)
                walked.append(path)
                walk(sub, path)

        walk(all_kinds()[name].root, "")
    assert len(walked) > 600
