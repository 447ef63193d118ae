"""Properties of the merger that hold for any config and patch (hypothesis)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talos.core.merge import Config, apply_patches, dump_config, parse_config, patch_from_documents
from talos.core.merge.documents import decode_config
from talos.errors import PatchError

TRICKY = [
    "off", "on", "yes", "no", "y", "n", "Off", "NO", "true", "False", "null", "~", "",
    "0644", "0o17", "0x1F", "1:20", "1.10", "1e3", ".inf", "2001-12-14", "<<", "-", "- x",
    "a: b", "#x", "x #y", " lead", "trail ", "'q'", '"dq"', "@at", "%p", "multi\nline",
    "multi\nline\n", "\nleading newline", " indented\nblock", "tab\there", "x\r\ny",
    "ünïcødé", "emoji 🚀", "\n", " ", "\t", "x\n ", "a\n\n\n", "a\u2028b", "nel\x85x", "bell\x07",
]
strings = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
names = st.one_of(
    st.text(alphabet="abcdefghij-_.0123456789/", min_size=1, max_size=10),
    st.sampled_from(["on", "off", "0644", "<<", "true", "null", "1.5", "a b", "#c"]),
)
free_scalars = st.one_of(st.integers(-(2**31), 2**31), st.booleans(), strings)
free_maps = st.recursive(
    st.dictionaries(names, free_scalars, max_size=4),
    lambda inner: st.dictionaries(names, st.one_of(free_scalars, inner), max_size=3),
    max_leaves=10,
)
interfaces = st.lists(
    st.fixed_dictionaries(
        {"interface": st.sampled_from(["eth0", "eth1", "bond0", "enp1s0"])},
        optional={"mtu": st.integers(1, 9000), "dhcp": st.booleans()},
    ),
    max_size=3,
    unique_by=lambda item: item["interface"],
)


@st.composite
def legacy_documents(draw: st.DrawFn, *, lists: bool = True) -> dict[str, Any]:
    machine: dict[str, Any] = {}
    if draw(st.booleans()):
        machine["env"] = draw(st.dictionaries(names, strings, max_size=4))
    if draw(st.booleans()):
        machine["nodeLabels"] = draw(st.dictionaries(names, strings, max_size=3))
    if draw(st.booleans()):
        machine["network"] = {"hostname": draw(names), "interfaces": draw(interfaces)}
    if draw(st.booleans()):
        machine["kubelet"] = {"extraConfig": draw(free_maps)}
    if lists and draw(st.booleans()):
        machine["certSANs"] = draw(st.lists(names, max_size=3))
    return {"version": "v1alpha1", "machine": machine}


@st.composite
def configs(draw: st.DrawFn) -> Config:
    documents: list[dict[str, Any]] = [draw(legacy_documents())]
    if draw(st.booleans()):
        documents.append({"apiVersion": "v1alpha1", "kind": "HostnameConfig",
                          "auto": draw(st.sampled_from(["off", "stable"])),
                          "hostname": draw(names)})
    return decode_config(documents, "generated")


def typed(value: Any) -> Any:
    """A form where True != 1 and "1" != 1, for exact comparisons."""
    if isinstance(value, dict):
        return {typed(k): typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__.replace("TextInt", "int").replace("TextFloat", "float"), value)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(configs())
def test_dump_then_parse_gives_the_same_config(config: Config) -> None:
    text = dump_config(config)
    assert typed(parse_config(text, "dumped").documents) == typed(config.documents)


@settings(max_examples=60, deadline=None)
@given(configs())
def test_output_is_the_same_bytes_every_time(config: Config) -> None:
    again = decode_config(copy.deepcopy(list(config.documents)), "generated")
    assert dump_config(config) == dump_config(again)


@settings(max_examples=60, deadline=None)
@given(configs())
def test_no_patches_and_an_empty_patch_change_nothing(config: Config) -> None:
    assert apply_patches(config, []) == config
    empty = patch_from_documents([], "empty")
    assert typed(apply_patches(config, [empty]).documents) == typed(config.documents)


@settings(max_examples=100, deadline=None)
@given(configs(), legacy_documents(lists=False))
def test_maps_scalars_and_keyed_lists_merge_idempotently(config: Config,
                                                         patch_doc: dict[str, Any]) -> None:
    # Interfaces are keyed by name, maps merge per key: a second application is a no-op
    # (as long as the patch appends to no list: free-form lists would grow).
    patch_doc = _without_lists_in_free_form(patch_doc)
    patch = patch_from_documents([patch_doc], "patch")
    try:
        once = apply_patches(config, [patch])
    except PatchError:  # a free-form type mismatch against the base is a legitimate refusal
        return
    twice = apply_patches(once, [patch])
    assert typed(twice.documents) == typed(once.documents)


@settings(max_examples=60, deadline=None)
@given(configs(), st.lists(names, min_size=1, max_size=3))
def test_appending_lists_grow_on_every_application(config: Config, sans: list[str]) -> None:
    patch = patch_from_documents([{"machine": {"certSANs": sans}}], "patch")
    before = len(config.documents[0]["machine"].get("certSANs") or [])
    twice = apply_patches(config, [patch, patch])
    assert twice.documents[0]["machine"]["certSANs"][before:] == sans + sans


@settings(max_examples=100, deadline=None)
@given(configs(), legacy_documents())
def test_inputs_are_never_modified(config: Config, patch_doc: dict[str, Any]) -> None:
    config_before = copy.deepcopy(typed(config.documents))
    patch_before = copy.deepcopy(typed(patch_doc))
    patch = patch_from_documents([patch_doc], "patch")
    try:
        result = apply_patches(config, [patch, patch])
    except PatchError:
        result = None
    assert typed(config.documents) == config_before
    assert typed(patch_doc) == patch_before
    if result is not None:
        dump_config(result)
        assert typed(config.documents) == config_before


def _without_lists_in_free_form(document: dict[str, Any]) -> dict[str, Any]:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not isinstance(v, list)}
        return value

    machine = dict(document["machine"])
    if "kubelet" in machine:
        machine["kubelet"] = {"extraConfig": strip(machine["kubelet"]["extraConfig"])}
    return {**document, "machine": machine}
