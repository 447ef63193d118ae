"""renovate.json's custom managers find the versions this repository pins, and only those.

Renovate writes its patterns in RE2 (``(?<name>...)``); Python spells named groups
``(?P<name>...)``. The test converts them and runs each pattern over the files its manager
names, as Renovate would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from talos.core.cluster import load_cluster_file

REPO = Path(__file__).resolve().parents[1]


def managers() -> list[dict[str, Any]]:
    return list(json.loads((REPO / "renovate.json").read_text())["customManagers"])


def manager(dep: str) -> dict[str, Any]:
    found = [m for m in managers() if m.get("depNameTemplate") == dep
             or (dep == "helm" and m.get("datasourceTemplate") == "helm")]
    assert len(found) == 1, dep
    return found[0]


def python_pattern(re2: str) -> re.Pattern[str]:
    """An RE2 pattern as Python's ``re`` reads it (named groups differ in spelling)."""
    return re.compile(re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", re2))


def file_pattern(spec: str) -> re.Pattern[str]:
    assert spec.startswith("/") and spec.endswith("/"), f"{spec}: a /regex/ file pattern"
    return python_pattern(spec[1:-1])


def files_of(entry: dict[str, Any], root: Path) -> list[Path]:
    patterns = [file_pattern(spec) for spec in entry["managerFilePatterns"]]
    return sorted(
        path for path in root.rglob("*")
        if path.is_file() and ".venv" not in path.parts and ".git" not in path.parts
        and any(p.search(path.relative_to(root).as_posix()) for p in patterns)
    )


def matches(entry: dict[str, Any], text: str) -> list[dict[str, str]]:
    return [
        {k: v for k, v in found.groupdict().items() if v is not None}
        for pattern in entry["matchStrings"]
        for found in python_pattern(pattern).finditer(text)
    ]


def test_every_custom_manager_is_a_regex_manager_with_a_version_group() -> None:
    assert len(managers()) == 3
    for entry in managers():
        assert entry["customType"] == "regex"
        for pattern in entry["matchStrings"]:
            assert "(?<currentValue>" in pattern
            python_pattern(pattern)  # RE2 features Python lacks would fail here


def test_talos_and_kubernetes_versions_are_found_in_the_cluster_file() -> None:
    cluster = load_cluster_file(REPO / "cluster.yaml")
    for dep, wanted in (("siderolabs/talos", cluster.talos_version),
                        ("kubernetes/kubernetes", cluster.kubernetes_version)):
        entry = manager(dep)
        assert entry["datasourceTemplate"] == "github-releases"
        assert files_of(entry, REPO) == [REPO / "cluster.yaml"]
        found = matches(entry, (REPO / "cluster.yaml").read_text())
        assert [m["currentValue"] for m in found] == [wanted], dep


def test_a_node_pinning_its_own_talos_version_is_bumped_too(tmp_path: Path) -> None:
    text = (REPO / "cluster.yaml").read_text().replace(
        "    schematic: intel\n    installDisk: /dev/mmcblk0\n",
        "    schematic: intel\n    installDisk: /dev/mmcblk0\n    talosVersion: v1.11.6\n",
    )
    assert "v1.11.6" in text
    found = matches(manager("siderolabs/talos"), text)
    assert [m["currentValue"] for m in found] == ["v1.12.4", "v1.11.6"]
    assert [m["currentValue"] for m in matches(manager("kubernetes/kubernetes"), text)] == [
        "v1.35.0"
    ]


def test_helm_charts_of_the_addons_are_found_with_repository_and_version() -> None:
    entry = manager("helm")
    files = files_of(entry, REPO)
    assert [f.relative_to(REPO).as_posix() for f in files] == [
        "addons/cni/kustomization.yaml", "addons/kubelet-csr-approver/kustomization.yaml",
    ]
    for path in files:
        charts = yaml.safe_load(path.read_text())["helmCharts"]
        wanted = [
            {"depName": c["name"], "registryUrl": c["repo"], "currentValue": str(c["version"])}
            for c in charts
        ]
        assert matches(entry, path.read_text()) == wanted, path


@pytest.mark.parametrize("line", ["talosVersion: 1.12.4", "# talosVersion: v1.12.4 (old)"])
def test_what_is_not_a_pinned_version_is_left_alone(line: str) -> None:
    assert matches(manager("siderolabs/talos"), f"name: x\n{line}\n") == []
