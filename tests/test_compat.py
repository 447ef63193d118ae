"""Version rules as data, checked against the Talos compatibility package they come from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from invoke.context import Context
from invoke.exceptions import Exit

from talos.core.compat import (
    RULES,
    client_problem,
    kubernetes_problem,
    parse,
    upgrade_problem,
)
from talos.errors import UsageError
from talos.tasks.genconfig import genconfig

SOURCE = (Path(__file__).resolve().parents[2] / "shared" / "reference" / "talos" /
          "source-v1.12.4" / "pkg" / "machinery" / "compatibility")


@pytest.mark.parametrize("minor", [11, 12])
def test_rules_match_the_talos_source(minor: int) -> None:
    path = SOURCE / f"talos1{minor}" / f"talos1{minor}.go"
    if not path.exists():
        pytest.skip("the shared Talos source is absent")
    text = path.read_text()

    def value(name: str) -> tuple[int, int, int]:
        match = re.search(rf'{name} = semver\.MustParse\("([^"]+)"\)', text)
        assert match, name
        return parse(match[1])

    rules = RULES[(1, minor)]
    assert rules.min_host == value("MinimumHostUpgradeVersion")
    assert rules.max_host_downgrade == value("MaximumHostDowngradeVersion")
    assert rules.min_kubernetes == value("MinimumKubernetesVersion")
    assert rules.max_kubernetes == value("MaximumKubernetesVersion")


def test_a_jump_from_1_9_to_1_12_is_refused_with_the_allowed_range() -> None:
    problem = upgrade_problem("v1.9.5", "v1.12.4")
    assert problem is not None and "v1.10.0 or newer" in problem


@pytest.mark.parametrize(("running", "ok"), [
    ("v1.10.0", True), ("v1.11.6", True), ("v1.12.4", True), ("v1.13.1", True),
    ("v1.9.99", False), ("v1.14.0", False),
])
def test_upgrade_range_of_1_12(running: str, ok: bool) -> None:
    assert (upgrade_problem(running, "v1.12.4") is None) is ok


@pytest.mark.parametrize(("kubernetes", "ok"), [
    ("v1.30.0", True), ("1.35.4", True), ("v1.29.9", False), ("v1.36.0", False),
])
def test_kubernetes_range_of_1_12(kubernetes: str, ok: bool) -> None:
    problem = kubernetes_problem(kubernetes, "v1.12.4")
    assert (problem is None) is ok
    if not ok:
        assert problem is not None and "v1.30.0 to 1.35.x" in problem


def test_kubernetes_1_36_on_talos_1_12_is_refused() -> None:
    assert "too new" in (kubernetes_problem("v1.36.0", "v1.12.4") or "")


def test_client_of_another_minor_is_named_with_the_one_to_use() -> None:
    assert client_problem("v1.12.1", "v1.12.4") is None
    assert "use talosctl v1.12.x" in (client_problem("v1.11.3", "v1.12.4") or "")


def test_an_unknown_target_minor_says_which_are_known() -> None:
    with pytest.raises(UsageError, match=r"1\.10, 1\.11, 1\.12"):
        upgrade_problem("v1.12.4", "v1.13.0")


def test_genconfig_refuses_a_kubernetes_version_the_nodes_talos_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Path(__file__).resolve().parents[1]
    text = (repo / "cluster.yaml").read_text()
    assert "kubernetesVersion: v1.35.0" in text
    (tmp_path / "cluster.yaml").write_text(
        text.replace("kubernetesVersion: v1.35.0", "kubernetesVersion: v1.36.0"))
    for folder in ("patches", "extensions"):
        (tmp_path / folder).symlink_to(repo / folder)
    monkeypatch.setenv("TALOS_CLUSTER_FILE", str(tmp_path / "cluster.yaml"))
    with pytest.raises(Exit) as caught:
        genconfig(Context())
    message = str(caught.value.message)
    assert "kubernetesVersion: Kubernetes v1.36.0 is too new for Talos v1.12.4" in message
    assert "v1.30.0 to 1.35.x" in message
    assert not (tmp_path / "clusterconfig").exists()
