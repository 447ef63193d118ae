"""Release-day merging: what the merger's rules do not know goes through
`talosctl machineconfig patch`, when the cluster's or talosctl's Talos is newer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Standin
from sopskit import enter_project, pitower_project

from talos.adapters.sops import decrypt_file
from talos.core.cluster import load_cluster_file
from talos.core.merge import load_patch
from talos.core.merge.rules import rules_version
from talos.errors import UnknownToRules
from talos.ops.client import talosctl_for
from talos.ops.fallback import newer_than_rules, plan_route
from talos.ops.genconfig import GenerationReport, generate

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]
NEW_FIELD = "machine:\n  newFeature:\n    enabled: true\n"
NEW_KIND = "---\napiVersion: v1alpha1\nkind: FutureConfig\nlevel: 3\n"


def test_the_rules_say_which_talos_they_describe() -> None:
    assert rules_version() == "v1.12"
    assert newer_than_rules("v1.13.0") and newer_than_rules("v2.0.1")
    assert not newer_than_rules("v1.12.9") and not newer_than_rules("v1.11.0")


def test_unknown_fields_and_kinds_are_their_own_error(tmp_path: Path) -> None:
    (tmp_path / "new.patch").write_text(NEW_FIELD)
    with pytest.raises(UnknownToRules) as caught:
        load_patch("@new.patch", base_dir=tmp_path)
    assert caught.value.what == "machine.newFeature"
    (tmp_path / "kind.patch").write_text(NEW_KIND)
    with pytest.raises(UnknownToRules) as caught:
        load_patch("@kind.patch", base_dir=tmp_path)
    assert caught.value.what == "kind FutureConfig v1alpha1"


def failing_load(name: str) -> None:
    raise UnknownToRules(f"{name}: unknown keys", what="machine.newFeature")


def test_the_route_is_talosctl_for_newer_nodes_and_for_unknown_fields_with_a_newer_client(
) -> None:
    loaded: list[str] = []
    route = plan_route([("a", "v1.13.0"), ("b", "v1.12.4")], client_version="v1.12.4",
                       load=loaded.append)
    assert route.by_talosctl == {"a"} and loaded == ["b"]  # a's patches are not read
    assert route.note.startswith("Talos v1.13.0 is newer than the merger's rules (v1.12)")

    route = plan_route([("b", "v1.12.4")], client_version="v1.13.2", load=failing_load)
    assert route.by_talosctl == {"b"}
    assert "(machine.newFeature); talosctl is v1.13.2" in route.note
    with pytest.raises(UnknownToRules):  # a v1.12 talosctl knows no more: a mistake
        plan_route([("b", "v1.12.4")], client_version="v1.12.4", load=failing_load)


# -- the stand-in told it is a newer client ---------------------------------------------


def test_a_v1_12_standin_refuses_unknown_fields_a_newer_one_accepts_them(
    standin: Standin, tmp_path: Path
) -> None:
    talosctl = os.environ["TALOSCTL"]
    subprocess.run([talosctl, "gen", "config", "c", "https://10.0.0.1:6443", "-o",
                    str(tmp_path / "base")], check=True, capture_output=True)
    (tmp_path / "new.patch").write_text(NEW_FIELD + NEW_KIND)
    argv = [talosctl, "machineconfig", "patch", str(tmp_path / "base" / "worker.yaml"),
            "--patch", f"@{tmp_path / 'new.patch'}"]
    old = subprocess.run(argv, capture_output=True, text=True)
    assert old.returncode == 1
    assert "unknown keys found during decoding:\nmachine:\n    newFeature:" in old.stderr
    standin.set_state({"nodes": {}, "client_version": "v1.13.0"})
    new = subprocess.run(argv, capture_output=True, text=True)
    assert new.returncode == 0, new.stderr
    documents = list(yaml.safe_load_all(new.stdout))
    assert documents[0]["machine"]["newFeature"] == {"enabled": True}
    assert documents[-1] == {"apiVersion": "v1alpha1", "kind": "FutureConfig", "level": 3}


# -- genconfig --------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin: Standin
            ) -> Iterator[Path]:
    root = pitower_project(tmp_path)
    enter_project(root, monkeypatch)
    yield root


def set_up(root: Path, standin: Standin, *, cluster: str, client: str) -> None:
    text = (root / "cluster.yaml").read_text()
    (root / "cluster.yaml").write_text(text.replace("talosVersion: v1.12.4",
                                                    f"talosVersion: {cluster}"))
    own = root / "patches" / "nodes" / "worker-04.patch"
    document = yaml.safe_load(own.read_text())
    document["machine"].update(yaml.safe_load(NEW_FIELD)["machine"])
    own.write_text(yaml.safe_dump(document, sort_keys=False))
    standin.set_state(standin.pitower(client_version=client))


def run(root: Path) -> GenerationReport:
    cluster = load_cluster_file(root / "cluster.yaml")
    return generate(cluster, talosctl=talosctl_for(cluster), decrypt=decrypt_file)


def calls(standin: Standin, *head: str) -> list[list[str]]:
    return [argv for argv in standin.calls() if argv[:len(head)] == list(head)]


def test_a_newer_talos_cluster_is_merged_and_validated_by_talosctl(
    project: Path, standin: Standin
) -> None:
    set_up(project, standin, cluster="v1.13.0", client="v1.13.0")
    report = run(project)
    assert sorted(report.written) == sorted(n.name for n in
                                            load_cluster_file(project / "cluster.yaml").nodes)
    assert report.merged_by_talosctl == report.written
    assert report.merge_note.startswith("Talos v1.13.0 is newer than the merger's rules")
    patched = calls(standin, "machineconfig", "patch")
    assert len(patched) == 9
    validated = calls(standin, "validate")
    assert len(validated) == 9
    worker = list(yaml.safe_load_all((project / "clusterconfig" / "worker-04.yaml").read_text()))
    machine = next(d for d in worker if "machine" in d)["machine"]
    assert machine["newFeature"] == {"enabled": True}
    assert machine["install"]["image"].endswith(":v1.13.0")
    assert machine["install"]["disk"] == "/dev/mmcblk0"
    hostname = next(d for d in worker if d.get("kind") == "HostnameConfig")
    assert hostname == {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off",
                        "hostname": "worker-04"}
    # Its patch came after the derived one, and worker-04's own patch last.
    argv = next(a for a in patched if any("worker-04.patch" in part for part in a))
    sources = [argv[i + 1] for i, part in enumerate(argv) if part == "--patch"]
    assert sources[0].endswith("worker-04.derived.yaml")
    assert sources[-1].endswith("patches/nodes/worker-04.patch")


def test_a_field_unknown_to_the_rules_goes_to_a_newer_talosctl_for_that_node_only(
    project: Path, standin: Standin
) -> None:
    set_up(project, standin, cluster="v1.12.4", client="v1.13.1")
    report = run(project)
    assert report.merged_by_talosctl == ["worker-04"]
    assert "(machine.newFeature); talosctl is v1.13.1" in report.merge_note
    assert len(calls(standin, "machineconfig", "patch")) == 1
    assert [argv[argv.index("--config") + 1].rsplit("/", 1)[-1]
            for argv in calls(standin, "validate")] == ["worker-04.yaml"]


def test_with_a_talosctl_no_newer_than_the_rules_an_unknown_field_is_an_error(
    project: Path, standin: Standin
) -> None:
    set_up(project, standin, cluster="v1.12.4", client="v1.12.4")
    with pytest.raises(UnknownToRules, match=r"worker-04\.patch.*machine\.newFeature"):
        run(project)
    assert not (project / "clusterconfig").exists()
    assert calls(standin, "machineconfig") == []


def test_inv_genconfig_says_once_that_talosctl_merged(
    project: Path, standin: Standin
) -> None:
    set_up(project, standin, cluster="v1.13.0", client="v1.13.0")
    result = subprocess.run([*INV, "--search-root", str(REPO), "genconfig"], cwd=project,
                            capture_output=True, text=True, timeout=120, env=os.environ)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if "machineconfig patch" in line]
    assert len(notes) == 1 and notes[0].startswith("note: Talos v1.13.0 is newer")


# -- inv patch --------------------------------------------------------------------------


def inv_patch(cwd: Path, *args: str, env: dict[str, Any] | None = None
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*INV, "--search-root", str(REPO), "patch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_inv_patch_falls_back_to_a_newer_talosctl(standin: Standin, tmp_path: Path) -> None:
    subprocess.run([os.environ["TALOSCTL"], "gen", "config", "c", "https://10.0.0.1:6443",
                    "-o", str(tmp_path / "base")], check=True, capture_output=True)
    (tmp_path / "new.patch").write_text(NEW_FIELD)
    base = str(tmp_path / "base" / "worker.yaml")
    refused = inv_patch(tmp_path, base, "--patch", "@new.patch")
    assert refused.returncode == 1
    assert "machine.newFeature" in refused.stderr and "unknown keys" in refused.stderr

    standin.set_state({"nodes": {}, "client_version": "v1.13.0"})
    out = tmp_path / "out.yaml"
    patched = inv_patch(tmp_path, base, "--patch", "@new.patch", "--output", str(out))
    assert patched.returncode == 0, patched.stderr
    assert patched.stderr.count("talosctl machineconfig patch") == 1
    assert (out.stat().st_mode & 0o777) == 0o600
    machine = yaml.safe_load_all(out.read_text()).__next__()["machine"]
    assert machine["newFeature"] == {"enabled": True}
