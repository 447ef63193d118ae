"""Config output: the fast emitter writes exactly what PyYAML's dumper writes.

The suite runs with ``TALOS_TASKS_YAML_CROSSCHECK=1`` (see conftest.py), so every config
any test generates, in process or through ``inv``, is also compared with the dumper's
output; the tests here add the shapes and strings that are hardest to get right.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talos.core.merge import apply_patches, load_patches, parse_config
from talos.core.merge.yamlemit import dump_documents, emit_documents, pyyaml_dump
from talos.core.merge.yamlio import TextFloat, TextInt, load_documents

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "tests" / "data" / "merge" / "cases"

TRICKY = [
    "off", "on", "yes", "no", "y", "n", "Off", "NO", "true", "False", "null", "~", "",
    "0644", "0o17", "0x1F", "1:20", "1.10", "1e3", ".inf", ".5", "2001-12-14", "<<", "=",
    "-", "- x", "-x", "a: b", "a:b", "a:", "#x", "x #y", "x#y", " lead", "trail ", "'q'",
    '"dq"', "@at", "%p", "!t", "&a", "*a", "|x", ">x", "?x", "[x]", "{x}", "...", "---",
    "...x", "multi\nline", "multi\nline\n", "\nleading newline", " indented\nblock",
    "tab\there", "x\r\ny", "ünïcødé", "emoji 🚀", "\n", " ", "\t", "x\n ", "a\n\n\n",
    "a\n\nb\n", "a\u2028b", "nel\x85x", "bell\x07", "back\\slash", "10.0.0.1", "fe80::1",
    "https://10.0.0.1:6443", "factory.talos.dev/installer/abc:v1.12.4", "/dev/sda",
    "key=value", "100Mi", "1_000", "0b101", "+1", "-0", "Yes", "nO", "x" * 130, "1.5\x00",
]


def both(documents: list[Any]) -> tuple[str, str]:
    return emit_documents(documents), pyyaml_dump(documents)


def test_the_suite_runs_with_the_cross_check_on() -> None:
    assert os.environ.get("TALOS_TASKS_YAML_CROSSCHECK") == "1"


@pytest.mark.parametrize("text", TRICKY)
def test_every_tricky_string_is_written_as_the_dumper_writes_it(text: str) -> None:
    documents: list[Any] = [
        {"value": text, "list": [text, [text], {"in": text}], "nested": {"deeper": {"x": text}}},
        [text, {"a": [text]}],
    ]
    if "\n" not in text and text and len(text) < 100:
        documents.append({text: text, "m": {text: [text]}})
    try:
        fast, slow = both(documents)
    except Exception as exc:  # the fast emitter may decline; the dumper then writes it
        assert type(exc).__name__ == "_Unusual", exc
        assert dump_documents(documents) == pyyaml_dump(documents)
        return
    assert fast == slow


def test_numbers_booleans_nulls_and_empty_collections() -> None:
    documents: list[Any] = [{
        "int": 3, "neg": -7, "big": 2**70, "text-int": TextInt(420, "0644"), "float": 1.5,
        "exp": 1e17, "tiny": 1e-7, "nan": float("nan"), "inf": float("-inf"),
        "text-float": TextFloat(1.5, "1.50"), "true": True, "false": False, "none": None,
        "empty-map": {}, "empty-list": [], "list": [{}, [], None, 0, [[1, [2]], {"a": {}}]],
    }]
    fast, slow = both(documents)
    assert fast == slow


def test_every_merge_case_output_is_written_alike() -> None:
    count = 0
    for folder in sorted(CASES.iterdir()):
        if not (folder / "expected.yaml").exists():
            continue
        config = parse_config((folder / "base.yaml").read_text(), "base.yaml")
        specs = [f"@{p.name}" for p in sorted(folder.glob("patch*"))]
        documents = list(apply_patches(config, load_patches(specs, base_dir=folder)).documents)
        fast, slow = both(documents)
        assert fast == slow, folder.name
        expected = load_documents((folder / "expected.yaml").read_text())
        assert emit_documents(expected) == pyyaml_dump(expected), folder.name
        count += 1
    assert count >= 20


scalars = st.one_of(
    st.sampled_from(TRICKY), st.text(max_size=12), st.integers(-(2**40), 2**40),
    st.booleans(), st.none(), st.floats(allow_nan=False, width=64),
)
keys = st.one_of(st.sampled_from([t for t in TRICKY if t and "\n" not in t and len(t) < 50]),
                 st.text(min_size=1, max_size=10))
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=15,
)
documents = st.lists(st.one_of(st.dictionaries(keys, trees, min_size=1, max_size=5),
                               st.lists(trees, min_size=1, max_size=5)), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(documents)
def test_any_config_shaped_documents_are_written_as_the_dumper_writes_them(
    docs: list[Any],
) -> None:
    assert dump_documents(docs) == pyyaml_dump(docs)
