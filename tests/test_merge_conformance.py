"""The merger against Talos' own patching vectors (shared conformance data, read-only).

Compared as the vectors' README says: both sides parsed, null/""/[]/{} dropped
recursively, documents equal in order. Skipped when the shared data is absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from talos.core.merge import apply_patches, dump_config, load_patches, parse_config
from talos.core.merge.documents import Config, decode_config
from talos.core.merge.loading import classify_patch
from talos.core.merge.merging import merge_value
from talos.core.merge.rules import Rule
from talos.core.merge.strategic import extract_deletes
from talos.core.merge.values import format_path
from talos.core.merge.yamlio import load_documents
from talos.errors import PatchError

SHARED = Path(__file__).resolve().parents[2] / "shared"
VECTORS = SHARED / "conformance" / "configpatcher"
PKG = VECTORS / "pkg" / "machinery" / "config"
P = PKG / "configpatcher" / "testdata"
EXTRACTED = VECTORS / "extracted"
STRATEGIC = PKG / "types" / "v1alpha1" / "testdata" / "strategic"
STABILITY = PKG / "types" / "v1alpha1" / "testdata" / "stability"

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason="shared conformance data absent")


def drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [drop_empty(v) for v in value]
    return value


def semantic(text: str) -> list[Any]:
    return [drop_empty(d) for d in load_documents(text) if d is not None]


def patched(base: Path, patches: list[Path]) -> str:
    config = parse_config(base.read_text(), base.name)
    loaded = load_patches([f"@{p}" for p in patches], base_dir=base.parent)
    return dump_config(apply_patches(config, loaded))


def assert_same(got: str, expected: str) -> None:
    assert semantic(got) == semantic(expected)


APPLY_CASES = {
    "apply-mixed": (
        "apply/config.yaml",
        ["apply/strategic1.yaml", "apply/jsonpatch1.yaml", "apply/jsonpatch2.yaml",
         "apply/strategic2.yaml", "apply/strategic3.yaml"],
        "apply/expected.yaml",
    ),
    "auditpolicy": ("auditpolicy/config.yaml", ["auditpolicy/patch1.yaml"],
                    "auditpolicy/expected.yaml"),
    "manifest-newline": ("apply/config.yaml", ["apply/strategic4.yaml"],
                         "apply/expected_manifests.yaml"),
    "patchdelete": ("patchdelete/config.yaml", ["patchdelete/strategic1.yaml"],
                    "patchdelete/expected.yaml"),
}


@pytest.mark.parametrize("case", sorted(APPLY_CASES))
def test_apply_vectors_give_talos_results(case: str) -> None:
    base, patches, expected = APPLY_CASES[case]
    got = patched(P / base, [P / p for p in patches])
    assert_same(got, (P / expected).read_text())


@pytest.mark.parametrize("case", sorted(APPLY_CASES))
def test_apply_vectors_give_the_same_result_from_a_parsed_config(case: str) -> None:
    base, patches, expected = APPLY_CASES[case]
    config = parse_config(dump_config(parse_config((P / base).read_text(), base)), base)
    loaded = load_patches([f"@{p}" for p in patches], base_dir=P)
    assert_same(dump_config(apply_patches(config, loaded)), (P / expected).read_text())


def test_json_patches_are_refused_on_multi_document_configs() -> None:
    with pytest.raises(PatchError) as caught:
        patched(P / "multidoc/config.yaml",
                [P / "multidoc/jsonpatch.yaml", P / "multidoc/strategic1.yaml"])
    message = str(caught.value)
    assert "JSON6902 patches are not supported for multi-document machine configuration" in message
    assert "multidoc/jsonpatch.yaml" in message


def test_deleting_a_key_under_a_missing_section_fails_naming_path_and_document() -> None:
    with pytest.raises(PatchError) as caught:
        patched(P / "patchdeletemissing/config.yaml", [P / "patchdeletemissing/strategic1.yaml"])
    message = str(caught.value)
    assert "strategic1.yaml" in message
    assert "patch delete: path 'machine.network.hostname' in document '/v1alpha1'" in message
    assert "failed to delete path 'machine.network.hostname': lookup failed" in message


@pytest.mark.parametrize("case", sorted(p.name for p in STRATEGIC.glob("*") if p.is_dir())
                         if STRATEGIC.is_dir() else [])
def test_strategic_vectors_merge_the_v1alpha1_document_like_talos(case: str) -> None:
    folder = STRATEGIC / case
    got = patched(folder / "left.yaml", [folder / "right.yaml"])
    assert_same(got, (folder / "expected.yaml").read_text())


CONFIGDIFF = EXTRACTED / "configdiff-inline"


@pytest.mark.parametrize("case", sorted(p.name for p in CONFIGDIFF.glob("*") if p.is_dir())
                         if CONFIGDIFF.is_dir() else [])
def test_configdiff_vectors_give_talos_results(case: str) -> None:
    folder = CONFIGDIFF / case
    patches = sorted(folder.glob("patch*.yaml"))
    got = patched(folder / "original.yaml", patches)
    assert_same(got, (folder / "expected.yaml").read_text())


def test_stability_overrides_patch_reproduces_the_overrides_golden() -> None:
    golden = (STABILITY / "v1.12" / "overrides-controlplane.yaml").read_text()
    documents = load_documents(golden)
    legacy = documents[0]
    kubelet = dict(legacy["machine"]["kubelet"])
    del kubelet["extraMounts"]
    base_docs = [{**legacy, "machine": {**legacy["machine"], "kubelet": kubelet}}, *documents[1:]]
    config = decode_config(base_docs, "overrides-controlplane.yaml (without extraMounts)")
    loaded = load_patches([f"@{STABILITY / 'patch.yaml'}"], base_dir=STABILITY)
    assert_same(dump_config(apply_patches(config, loaded)), golden)


@pytest.mark.parametrize("name", ["base-controlplane.yaml", "base-worker.yaml"])
def test_stability_goldens_survive_a_parse_and_dump(name: str) -> None:
    golden = (STABILITY / "v1.12" / name).read_text()
    assert_same(dump_config(parse_config(golden, name)), golden)


def test_json6902_inline_vector() -> None:
    folder = EXTRACTED / "json6902-inline"
    got = patched(folder / "config.yaml", [folder / "patch.json"])
    assert_same(got, (folder / "expected.yaml").read_text())


def _cases() -> dict[str, Any]:
    return json.loads((EXTRACTED / "load-and-error-cases.json").read_text())  # type: ignore[no-any-return]


def test_single_patches_are_classified_as_talos_does() -> None:
    checked = 0
    for case in _cases()["load_cases"]:
        if case["call"].startswith("LoadPatch("):
            checked += 1
            name = case["call"].split("testdata/")[1].rstrip(")")
            patch = classify_patch((P / name).read_text(), name)
            expect = case["expect"]
            assert patch.kind == expect["type"], name
            if patch.operations is not None:
                assert len(patch.operations) == len(expect["ops"])
                for op, wanted in zip(patch.operations, expect["ops"], strict=True):
                    assert {k: op.get(k) for k in wanted} == wanted
            else:
                document = patch.items[0]
                assert document.key[1] == "v1alpha1"  # type: ignore[union-attr]
                assert document.data["machine"]["network"]["hostname"] == "foo.bar"  # type: ignore[union-attr]
    assert checked == 3


def test_patch_lists_are_loaded_and_fused_as_talos_does() -> None:
    base_dir = P.parent
    checked = 0
    for case in _cases()["load_cases"]:
        if case["call"] != "LoadPatches":
            continue
        patches = load_patches(case["args"], base_dir=base_dir)
        got = [
            {"type": p.kind}
            | ({"op_kinds": [op["op"] for op in p.operations]} if p.operations is not None else {})
            for p in patches
        ]
        assert got == case["expect"], case["test"]
        checked += 1
    assert checked == 3


def _selector_text(selector: Any, index: int) -> str:
    api, kind, name = selector.key
    path = ".".join(f"[{p}]" if isinstance(p, int) else p for p in selector.path)
    parts = [("path", path), ("apiVersion", api), ("kind", kind)]
    if selector.item:
        parts += [("key", selector.item[0]), ("value", selector.item[1])]
    parts += [("idx", str(index)), ("name", name)]
    return "{" + ", ".join(f"{k}:{v}" for k, v in parts if v) + "}"


def test_delete_markers_are_extracted_like_talos() -> None:
    spec = _cases()["delete_selector_extraction"]
    source = VECTORS / spec["input"]
    found: list[str] = []
    remaining: list[Any] = []
    for index, document in enumerate(load_documents(source.read_text())):
        selectors, rest = extract_deletes(document, source.name)
        found += [_selector_text(s, index) for s in selectors]
        if rest is not None:
            remaining.append(rest)
    assert found == spec["expected_selectors_in_order"]
    expected = load_documents((VECTORS / spec["expected_remaining_yaml"]).read_text())
    assert remaining == expected


def drop_zero(value: Any) -> Any:
    """The vectors' notation: a missing key is Go's zero value (false and 0 included)."""
    if isinstance(value, dict):
        kept = {k: drop_zero(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", {}, False) and v != 0}
    if isinstance(value, list):
        return [drop_zero(v) for v in value]
    return value


UNIT_RULES: dict[str, Rule] = {
    "Config": Rule("S", fields={
        "A": Rule("s"), "B": Rule("i"), "C": Rule("pb"), "D": Rule("pi"),
        "Slice": Rule("L", items="o"), "ReplacedSlice": Rule("R"),
        "Map": Rule("M", fields={"DA": Rule("b"), "DB": Rule("pi")}, always=("DA",)),
    }),
    "Unstructured": Rule("U"),
}


def test_merge_unit_vectors_hold_for_the_value_rules() -> None:
    cases = json.loads((EXTRACTED / "merge-unit-vectors.json").read_text())["cases"]
    checked = 0
    for case in cases:
        if case["type"] is None:
            assert merge_value(None, None, Rule("P"), ()) is None
            continue
        left, right = case["left"], case["right"]
        if "CustomSlice" in json.dumps(case):
            continue  # a custom merger of Go's test suite, not a Talos field rule
        got = merge_value(left, right, UNIT_RULES[case["type"]], ())
        assert drop_zero(got) == drop_zero(case["expected"]), case["name"]
        if case["name"] == "zero slice":
            assert got == {"Slice": []}
        if case["name"] == "merge with pointer override":
            assert got == {"D": 0}
        checked += 1
    assert checked >= 8


def test_empty_config_and_patches_are_identity_for_vectors() -> None:
    base = (P / "patchdelete/config.yaml").read_text()
    config = parse_config(base, "config.yaml")
    assert apply_patches(config, []) == config
    assert isinstance(config, Config)
    assert format_path(("a", 0, "b")) == "a[0].b"
