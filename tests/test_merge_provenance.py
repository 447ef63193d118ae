"""Provenance recorded by the merge: who set each value last, with the patch line.

The merge records as it goes (``apply_patches(..., trace=...)``); these tests check the
record against patches whose lines are known, and that recording changes no result.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from talos.core.merge import apply_patches, classify_patch, dump_config, load_patches, parse_config
from talos.core.merge.provenance import Origin, Trace

DATA = Path(__file__).parent / "data" / "merge"
CASES = DATA / "cases"
LEGACY = ("", "v1alpha1", "")
HOSTNAME = ("v1alpha1", "HostnameConfig", "")

BASE = """\
version: v1alpha1
machine:
  type: worker
  kubelet:
    image: ghcr.io/siderolabs/kubelet:v1.35.0
    extraMounts:
      - {destination: /var/a, type: bind, source: /var/a}
      - {destination: /var/b, type: bind, source: /var/b}
  network:
    interfaces:
      - interface: eth0
        dhcp: false
        mtu: 1500
  nodeLabels: {a: "1", b: "2"}
---
apiVersion: v1alpha1
kind: HostnameConfig
auto: stable
"""


def traced(*patches: str) -> tuple[Trace, str]:
    trace = Trace(Origin("base.yaml"))
    loaded = [classify_patch(text, f"p{i}.patch", marks=True)
              for i, text in enumerate(patches, 1)]
    config = apply_patches(parse_config(BASE, "base.yaml"), loaded, trace=trace)
    return trace, dump_config(config)


def test_values_a_patch_sets_carry_its_line_and_the_rest_stays_the_base() -> None:
    trace, _ = traced(
        "# a comment\n"
        "machine:\n"
        "  kubelet:\n"
        "    image: ghcr.io/siderolabs/kubelet:v1.35.1\n"
        "  nodeLabels:\n"
        "    c: \"3\"\n"
    )
    assert trace.origin(LEGACY, ("machine", "kubelet", "image")) == Origin("p1.patch", 4)
    assert trace.origin(LEGACY, ("machine", "nodeLabels", "c")) == Origin("p1.patch", 6)
    assert trace.origin(LEGACY, ("machine", "nodeLabels", "a")) == Origin("base.yaml")
    assert trace.origin(LEGACY, ("machine", "type")) == Origin("base.yaml")


def test_a_keyed_item_merges_into_the_base_item_and_only_its_fields_are_the_patch() -> None:
    trace, out = traced(
        "machine:\n"
        "  network:\n"
        "    interfaces:\n"
        "      - interface: eth0\n"
        "        dhcp: true\n"
    )
    assert "dhcp: true" in out
    path = ("machine", "network", "interfaces", 0)
    assert trace.origin(LEGACY, (*path, "dhcp")) == Origin("p1.patch", 5)
    assert trace.origin(LEGACY, (*path, "interface")) == Origin("p1.patch", 4)
    assert trace.origin(LEGACY, (*path, "mtu")) == Origin("base.yaml")


def test_appended_items_are_recorded_at_their_place_in_the_result() -> None:
    trace, _ = traced(
        "machine:\n"
        "  kubelet:\n"
        "    extraMounts:\n"
        "      - destination: /var/c\n"
        "        type: bind\n"
        "        source: /var/c\n"
    )
    mounts = ("machine", "kubelet", "extraMounts")
    assert trace.origin(LEGACY, (*mounts, 2, "source")) == Origin("p1.patch", 6)
    assert trace.origin(LEGACY, (*mounts, 1, "source")) == Origin("base.yaml")


def test_a_later_patch_wins_and_an_earlier_one_keeps_what_it_alone_set() -> None:
    trace, _ = traced(
        "machine:\n  nodeLabels:\n    a: x\n    c: y\n",
        "\n\nmachine:\n  nodeLabels:\n    a: z\n",
    )
    assert trace.origin(LEGACY, ("machine", "nodeLabels", "a")) == Origin("p2.patch", 5)
    assert trace.origin(LEGACY, ("machine", "nodeLabels", "c")) == Origin("p1.patch", 4)


def test_a_deleted_item_is_recorded_with_its_line_and_later_items_keep_their_origin() -> None:
    trace, out = traced(
        "machine:\n"
        "  kubelet:\n"
        "    extraMounts:\n"
        "      - destination: /var/a\n"
        "        $patch: delete\n"
        "  nodeLabels:\n"
        "    b:\n"
        "      $patch: delete\n",
    )
    assert "/var/a" not in out
    mounts = ("machine", "kubelet", "extraMounts")
    deletions = trace.deletions(LEGACY)
    assert [(d.path, d.item, d.origin) for d in deletions] == [
        (mounts, "destination: /var/a", Origin("p1.patch", 5, deleted=True)),
    ]
    assert trace.deleted_paths(LEGACY) == [
        (("machine", "nodeLabels", "b"), Origin("p1.patch", 8, deleted=True)),
    ]


def test_items_set_by_a_patch_move_up_when_an_earlier_item_is_deleted() -> None:
    trace, _ = traced(
        "machine:\n"
        "  kubelet:\n"
        "    extraMounts:\n"
        "      - destination: /var/c\n"
        "        type: bind\n"
        "        source: /var/c\n",
        "machine:\n"
        "  kubelet:\n"
        "    extraMounts:\n"
        "      - destination: /var/a\n"
        "        $patch: delete\n",
    )
    mounts = ("machine", "kubelet", "extraMounts")
    assert trace.origin(LEGACY, (*mounts, 1, "source")) == Origin("p1.patch", 6)
    assert trace.origin(LEGACY, (*mounts, 0, "source")) == Origin("base.yaml")


def test_a_document_deleted_and_added_again_belongs_to_the_patch_that_added_it() -> None:
    trace, out = traced(
        "apiVersion: v1alpha1\nkind: HostnameConfig\n$patch: delete\n"
        "---\n"
        "apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: node-1\n"
    )
    assert "auto" not in out.split("kind: HostnameConfig")[1]
    assert trace.origin(HOSTNAME, ("hostname",)) == Origin("p1.patch", 7)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in CASES.iterdir() if (p / "expected.yaml").exists())
)
def test_recording_provenance_changes_no_merge_result(name: str) -> None:
    folder = CASES / name
    specs = [f"@{p.name}" for p in sorted(folder.glob("patch*.yaml"))]
    base = parse_config((folder / "base.yaml").read_text(), "base.yaml")
    plain = dump_config(apply_patches(base, load_patches(specs, base_dir=folder)))
    trace = Trace(Origin("base.yaml"))
    with_marks = []
    for spec in specs:
        with_marks.append(classify_patch((folder / spec[1:]).read_text(), spec[1:], marks=True))
    recorded = dump_config(apply_patches(base, with_marks, trace=trace))
    assert recorded == plain
