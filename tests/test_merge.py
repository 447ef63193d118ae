"""The merger: Talos' patch rules on small cases, the pitower patches, errors, output."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from talos.core.merge import (
    Config,
    apply_patches,
    dump_config,
    load_patch,
    load_patches,
    parse_config,
    patch_from_documents,
)
from talos.core.merge.yamlio import load_documents
from talos.errors import PatchError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "merge"
CASES = DATA / "cases"


def case_patches(folder: Path) -> list[str]:
    return [f"@{p.name}" for p in sorted(folder.glob("patch*"))]


def run_case(folder: Path) -> str:
    config = parse_config((folder / "base.yaml").read_text(), "base.yaml")
    return dump_config(apply_patches(config, load_patches(case_patches(folder), base_dir=folder)))


@pytest.mark.parametrize(
    "name", sorted(p.name for p in CASES.iterdir() if (p / "expected.yaml").exists())
)
def test_case_merges_to_its_expected_config(name: str) -> None:
    folder = CASES / name
    got = run_case(folder)
    assert load_documents(got) == load_documents((folder / "expected.yaml").read_text())


@pytest.mark.parametrize(
    "name", sorted(p.name for p in CASES.iterdir() if (p / "error.txt").exists())
)
def test_case_fails_with_a_message_naming_patch_document_and_path(name: str) -> None:
    folder = CASES / name
    with pytest.raises(PatchError) as caught:
        run_case(folder)
    message = str(caught.value)
    assert "\n" not in message
    for fact in (folder / "error.txt").read_text().splitlines():
        assert fact in message, (fact, message)


# -- the pitower patches on a v1.12 base ---------------------------------------------------


def pitower_node(base: str, node: str, role: str, image: str) -> Config:
    config = parse_config((DATA / base).read_text(), base)
    derived = patch_from_documents(
        [
            {"machine": {"install": {"image": image}}},
            {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off",
             "hostname": node},
        ],
        f"cluster.yaml (node {node})",
    )
    specs = ["@patches/general.patch"]
    if role == "controlplane":
        specs.append("@patches/controlplane.patch")
    own = ROOT / "patches" / "nodes" / f"{node}.patch"
    if own.exists():
        specs.append(f"@patches/nodes/{node}.patch")
    return apply_patches(config, [derived, *load_patches(specs, base_dir=ROOT)])


def test_pitower_control_plane_gets_the_vip_hostname_and_install_image() -> None:
    image = "factory.talos.dev/installer/abc:v1.12.4"
    config = pitower_node("base-controlplane.yaml", "worker-01", "controlplane", image)
    legacy, hostname = config.documents
    interfaces = legacy["machine"]["network"]["interfaces"]
    assert interfaces == [
        {"deviceSelector": {"physical": True}, "dhcp": True, "vip": {"ip": "192.168.0.200"}}
    ]
    assert legacy["machine"]["install"]["image"] == image
    assert legacy["machine"]["install"]["disk"] == "/dev/sda"
    assert legacy["cluster"]["allowSchedulingOnControlPlanes"] is True
    assert legacy["cluster"]["apiServer"]["certSANs"] == ["192.168.0.200", "127.0.0.1"]
    assert legacy["machine"]["kubelet"]["extraArgs"] == {"rotate-server-certificates": "true"}
    assert hostname == {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off",
                        "hostname": "worker-01"}
    text = dump_config(config)
    assert 'auto: "off"' in text
    assert 'rotate-server-certificates: "true"' in text


def test_pitower_worker_gets_its_taints_merged_into_the_general_kubelet_config() -> None:
    config = pitower_node("base-worker.yaml", "worker-04", "worker", "img:v1")
    kubelet = config.documents[0]["machine"]["kubelet"]
    assert kubelet["extraConfig"] == {
        "imageGCHighThresholdPercent": 60,
        "imageGCLowThresholdPercent": 50,
        "registerWithTaints": [{"key": "dedicated", "value": "media-home",
                                "effect": "NoSchedule"}],
    }
    assert "network" not in config.documents[0]["machine"] or not config.documents[0][
        "machine"]["network"].get("interfaces")
    assert config.document("HostnameConfig") == {
        "apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off",
        "hostname": "worker-04",
    }


def test_pi_worker_appends_its_kernel_args_and_physical_interface() -> None:
    config = pitower_node("base-worker.yaml", "worker-pi-01", "worker", "img:v1")
    machine = config.documents[0]["machine"]
    assert machine["install"]["extraKernelArgs"] == ["initcall_blacklist=sensors_nct6683_init"]
    assert machine["network"]["interfaces"][0]["deviceSelector"] == {"physical": True}


# -- loading -------------------------------------------------------------------------------


def test_inline_patches_load_as_yaml_or_json(tmp_path: Path) -> None:
    strategic = load_patch("machine:\n  network:\n    hostname: x\n", base_dir=tmp_path)
    assert strategic.kind == "strategic"
    json_object = load_patch('{"machine": {"network": {"hostname": "y"}}}', base_dir=tmp_path)
    assert json_object.kind == "strategic"
    operations = load_patch('[{"op": "add", "path": "/a", "value": 1}]', base_dir=tmp_path)
    assert operations.kind == "json6902"
    assert operations.operations == ({"op": "add", "path": "/a", "value": 1},)


def test_a_bare_file_name_is_read_as_a_patch_file(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("machine:\n  network:\n    hostname: x\n")
    assert load_patch("p.yaml", base_dir=tmp_path).source == "p.yaml"
    with pytest.raises(PatchError, match=r"missing\.yaml does not exist"):
        load_patch("@missing.yaml", base_dir=tmp_path)


def test_an_empty_patch_file_is_an_empty_json_patch_as_in_talosctl(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    patch = load_patch("@empty.yaml", base_dir=tmp_path)
    assert patch.kind == "json6902"
    assert patch.operations == ()


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("machine:\n  network: [\n")
    with pytest.raises(PatchError, match=r"bad\.yaml.*line"):
        load_patch("@bad.yaml", base_dir=tmp_path)


def test_duplicate_documents_in_one_patch_are_refused(tmp_path: Path) -> None:
    text = "apiVersion: v1alpha1\nkind: HostnameConfig\nauto: stable\n---\n" * 2
    with pytest.raises(PatchError, match="duplicate document v1alpha1/HostnameConfig"):
        load_patch(text, base_dir=tmp_path)


def test_the_legacy_document_cannot_be_deleted_whole(tmp_path: Path) -> None:
    with pytest.raises(PatchError, match="missing apiVersion"):
        load_patch("machine: {}\n$patch: delete\n", base_dir=tmp_path)


def test_deleting_a_document_that_is_absent_is_skipped() -> None:
    config = parse_config("version: v1alpha1\nmachine: {}\n", "base.yaml")
    patch = patch_from_documents(
        [{"apiVersion": "v1alpha1", "kind": "HostnameConfig", "$patch": "delete"}], "p"
    )
    assert apply_patches(config, [patch]) == config


@pytest.mark.parametrize(
    ("patch", "detail"),
    [
        ("machine:\n  network:\n    interfaces:\n      - interface: eth9\n        $patch: delete\n",
         "lookup failed (no item with interface: eth9)"),
        ("machine:\n  kubelet:\n    nodeIP:\n      validSubnets:\n        $patch: delete\n",
         "failed to delete path 'machine.kubelet.nodeIP.validSubnets': lookup failed "
         "(machine.kubelet is not set)"),
    ],
    ids=["the item that is not there", "the first section that is not set"],
)
def test_a_delete_that_finds_nothing_says_what_is_missing(
    tmp_path: Path, patch: str, detail: str
) -> None:
    config = parse_config(
        "version: v1alpha1\nmachine:\n  network:\n    interfaces:\n      - interface: eth0\n",
        "base.yaml",
    )
    with pytest.raises(PatchError) as caught:
        apply_patches(config, [load_patch(patch, base_dir=tmp_path)])
    assert str(caught.value).endswith(detail)


def test_a_vlan_inside_an_interface_cannot_be_deleted_by_its_key() -> None:
    config = parse_config(
        "version: v1alpha1\nmachine:\n  network:\n    interfaces:\n"
        "      - interface: eth0\n        vlans: [{vlanId: 5}]\n", "base.yaml",
    )
    patch = patch_from_documents([{"machine": {"network": {"interfaces": [
        {"interface": "eth0", "vlans": [{"vlanId": 5, "$patch": "delete"}]}]}}}], "p.yaml")
    with pytest.raises(PatchError, match="complex paths in slices is not supported"):
        apply_patches(config, [patch])


def test_data_patches_coerce_values_to_field_types() -> None:
    patch = patch_from_documents(
        [{"machine": {"env": {"A": 1, "B": True}, "network": {"hostname": 42}}}], "data"
    )
    config = apply_patches(parse_config("version: v1alpha1\n", "b"), [patch])
    assert config.documents[0]["machine"] == {"env": {"A": "1", "B": "true"},
                                              "network": {"hostname": "42"}}


@pytest.mark.parametrize(
    ("base", "patch", "expected"),
    [
        pytest.param(
            "apiVersion: v1alpha1\nkind: EthernetConfig\nname: eth1\n"
            "features:\n  tx-checksumming: true\n",
            {"apiVersion": "v1alpha1", "kind": "EthernetConfig", "name": "eth1",
             "features": {"rx-gro": False}},
            {"apiVersion": "v1alpha1", "kind": "EthernetConfig", "name": "eth1",
             "features": {"tx-checksumming": True, "rx-gro": False}},
            id="a map of booleans merges per key",
        ),
        pytest.param(
            "version: v1alpha1\ncluster:\n  apiServer:\n    auditPolicy:\n"
            "      kind: Policy\n      rules: [{level: Metadata}]\n",
            {"cluster": {"apiServer": {"auditPolicy": {"rules": [{"level": "None"}]}}}},
            {"version": "v1alpha1", "cluster": {"apiServer": {"auditPolicy": {
                "rules": [{"level": "None"}]}}}},
            id="an audit policy is replaced whole",
        ),
        pytest.param(
            "version: v1alpha1\ncluster:\n  apiServer:\n    auditPolicy:\n"
            "      kind: Policy\n      rules: [{level: Metadata}]\n",
            {"cluster": {"apiServer": {"auditPolicy": {}}}},
            {"version": "v1alpha1", "cluster": {"apiServer": {"auditPolicy": {
                "kind": "Policy", "rules": [{"level": "Metadata"}]}}}},
            id="an empty audit policy keeps the base one",
        ),
        pytest.param(
            "version: v1alpha1\ncluster:\n  controlPlane:\n"
            "    endpoint: https://127.0.0.1:6443/api?a=1\n",
            {"cluster": {"controlPlane": {"endpoint": "https://192.168.0.200:6443#top"}}},
            {"version": "v1alpha1", "cluster": {"controlPlane": {
                "endpoint": "https://192.168.0.200:6443/api?a=1#top"}}},
            id="a URL keeps each component the patch leaves empty",
        ),
    ],
)
def test_field_rules_merge_as_talos_does(
    base: str, patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    config = apply_patches(parse_config(base, "base.yaml"), [patch_from_documents([patch], "p")])
    assert list(config.documents) == [expected]


JSON_BASE = "version: v1alpha1\nmachine:\n  env:\n    A: '1'\n"


@pytest.mark.parametrize(
    ("operations", "env", "labels"),
    [
        pytest.param([{"op": "add", "path": "/machine/env/a~01~10", "value": "x"}],
                     {"A": "1", "a~1/0": "x"}, None, id="escapes are undone ~1 first"),
        pytest.param([{"op": "copy", "from": "/machine/env", "path": "/machine/nodeLabels"},
                      {"op": "add", "path": "/machine/nodeLabels/B", "value": "2"}],
                     {"A": "1"}, {"A": "1", "B": "2"}, id="a copy is not the original"),
        pytest.param([{"op": "test", "path": "/machine/env/A", "value": "1"},
                      {"op": "remove", "path": "/machine/env/A"}],
                     {}, None, id="a test that holds lets the patch go on"),
    ],
)
def test_json_patch_operations(
    tmp_path: Path, operations: list[dict[str, Any]], env: dict[str, str],
    labels: dict[str, str] | None,
) -> None:
    patch = load_patch(json.dumps(operations), base_dir=tmp_path)
    before = copy.deepcopy(patch.operations)
    [document] = apply_patches(parse_config(JSON_BASE, "base.yaml"), [patch]).documents
    assert document["machine"].get("env") == env
    assert document["machine"].get("nodeLabels") == labels
    assert patch.operations == before


def test_a_json_patch_value_is_not_shared_with_the_config(tmp_path: Path) -> None:
    operations = '[{"op": "add", "path": "/machine/env", "value": {"A": "2"}},' \
        ' {"op": "add", "path": "/machine/env/B", "value": "3"}]'
    patch = load_patch(operations, base_dir=tmp_path)
    apply_patches(parse_config(JSON_BASE, "base.yaml"), [patch])
    assert patch.operations[0]["value"] == {"A": "2"}


def test_a_json_patch_test_that_fails_stops_the_patch(tmp_path: Path) -> None:
    patch = load_patch('[{"op": "test", "path": "/machine/env/A", "value": "2"}]',
                       base_dir=tmp_path)
    with pytest.raises(PatchError, match="testing value /machine/env/A failed"):
        apply_patches(parse_config(JSON_BASE, "base.yaml"), [patch])


# -- output and purity ---------------------------------------------------------------------


def test_output_is_block_style_with_literal_multi_line_strings() -> None:
    text = dump_config(parse_config((DATA / "base-controlplane.yaml").read_text(), "cp"))
    assert "contents: |\n" in text
    assert "{" not in text.replace("{}", "")
    assert text.count("\n---\n") == 1
    assert dump_config(parse_config(text, "again")) == text


def test_shared_parts_are_written_in_full_without_anchors() -> None:
    config = parse_config("version: v1alpha1\n", "base.yaml")
    mount = {"destination": "/a", "type": "bind", "source": "/a"}
    patch = patch_from_documents([{"machine": {"kubelet": {"extraMounts": [mount]}}}], "p")
    text = dump_config(apply_patches(config, [patch, patch]))
    assert "&" not in text
    assert "*" not in text
    assert text.count("destination: /a") == 2


def test_inputs_are_not_modified() -> None:
    config = parse_config((DATA / "base-controlplane.yaml").read_text(), "cp")
    docs = [{"machine": {"certSANs": ["x"], "network": {"interfaces": [
        {"interface": "eth0", "addresses": ["10.0.0.1/24"]}]}}}]
    before_config = copy.deepcopy(config.documents)
    before_docs = copy.deepcopy(docs)
    patch = patch_from_documents(docs, "data")
    apply_patches(config, [patch, patch])
    assert config.documents == before_config
    assert docs == before_docs


# -- inv patch -----------------------------------------------------------------------------


def inv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(ROOT), "patch", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.e2e
def test_inv_patch_prints_the_patched_config(tmp_path: Path) -> None:
    (tmp_path / "host.yaml").write_text(
        "apiVersion: v1alpha1\nkind: HostnameConfig\nauto: off\nhostname: worker-01\n"
    )
    result = inv(str(DATA / "base-worker.yaml"), "--patch", "@host.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'auto: "off"' in result.stdout
    assert "hostname: worker-01" in result.stdout


@pytest.mark.e2e
def test_inv_patch_writes_a_private_file(tmp_path: Path) -> None:
    out = tmp_path / "out" / "node.yaml"
    result = inv(str(DATA / "base-worker.yaml"), "--patch",
                 "machine:\n  network:\n    hostname: n1\n", "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert out.stat().st_mode & 0o777 == 0o600
    assert "hostname: n1" in out.read_text()


@pytest.mark.e2e
def test_inv_patch_reports_a_bad_patch_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("machine:\n  hostnam: x\n")
    result = inv(str(DATA / "base-worker.yaml"), "--patch", "@bad.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.yaml" in result.stderr
    assert "unknown keys found during decoding: machine.hostnam" in result.stderr
    assert "Traceback" not in result.stderr
