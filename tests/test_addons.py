"""The cluster's addons (addons/) and `inv addons`: kustomize build piped into kubectl apply."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke.context import Context

from talos.adapters.command import Runner
from talos.core.cluster import load_cluster_file
from talos.errors import ClusterFileError, CommandError, ToolMissingError
from talos.ops.addons import apply_addons
from talos.tasks.operations import addons

REPO = Path(__file__).resolve().parents[1]
ADDONS = REPO / "addons"


def test_the_csr_approver_accepts_every_hostname_of_the_cluster_file_and_no_other() -> None:
    values = yaml.safe_load((ADDONS / "kubelet-csr-approver" / "values.yaml").read_text())
    pattern = re.compile(values["providerRegex"])
    cluster = load_cluster_file(REPO / "cluster.yaml")
    for node in cluster.nodes:
        assert pattern.search(node.hostname), f"{node.hostname} would get no serving certificate"
    for stranger in ("master-01", "worker-1", "worker-07.evil.example", "xworker-01", ""):
        assert not pattern.search(stranger), stranger


def test_the_addons_name_this_cluster() -> None:
    cilium = yaml.safe_load((ADDONS / "cni" / "values.yaml").read_text())
    cluster = load_cluster_file(REPO / "cluster.yaml")
    assert cilium["cluster"]["name"] == cluster.name
    # Cilium replaces kube-proxy, which patches/general.patch disables
    assert cilium["kubeProxyReplacement"] is True
    root = yaml.safe_load((ADDONS / "kustomization.yaml").read_text())
    assert sorted(root["resources"]) == ["cni", "kubelet-csr-approver"]


# -- inv addons with fake kustomize, helm and kubectl ----------------------------------

BUILT = """apiVersion: v1
kind: Namespace
metadata:
  name: system-controllers
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: cilium
  namespace: kube-system
"""

FAKE = """#!{python}
import json, sys
from pathlib import Path
stdin = sys.stdin.read() if "{name}" == "kubectl" else ""
with open({log!r}, "a") as log:
    log.write(json.dumps({{"tool": "{name}", "argv": sys.argv[1:], "stdin": stdin}}) + "\\n")
if "{name}" == "kustomize":
    sys.stdout.write({built!r})
elif "{name}" == "kubectl":
    dry = " (server dry run)" if "--dry-run=server" in sys.argv else ""
    print("namespace/system-controllers created" + dry)
    print("daemonset.apps/cilium created" + dry)
"""


def fake_tools(tmp_path: Path, *names: str) -> tuple[Path, Path]:
    """A bin folder holding fake programs ``names``; each logs its argv and stdin."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.jsonl"
    for name in names:
        script = bin_dir / name
        script.write_text(FAKE.format(python=sys.executable, name=name, log=str(log), built=BUILT))
        script.chmod(0o755)
    return bin_dir, log


def calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def only_fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """PATH holds the fake tools and nothing else (a real kubectl must not be reached)."""

    def install(*names: str) -> Path:
        bin_dir, log = fake_tools(tmp_path, *names)
        monkeypatch.setenv("PATH", str(bin_dir))
        return log

    return install


def test_addons_pipe_the_kustomize_build_into_kubectl_apply(
    only_fakes: Callable[..., Path],
) -> None:
    log = only_fakes("kustomize", "helm", "kubectl")
    result = apply_addons(ADDONS, runner=Runner())
    kustomize, kubectl = calls(log)
    assert kustomize["argv"] == ["build", str(ADDONS), "--enable-helm"]
    assert kubectl["argv"] == ["apply", "-f", "-"]
    assert kubectl["stdin"] == BUILT
    assert result.documents == 2
    assert "daemonset.apps/cilium created" in result.output


def test_addons_dry_is_a_server_side_dry_run(only_fakes: Callable[..., Path]) -> None:
    log = only_fakes("kustomize", "helm", "kubectl")
    result = apply_addons(ADDONS, runner=Runner(), server_dry_run=True)
    assert calls(log)[1]["argv"] == ["apply", "-f", "-", "--dry-run=server"]
    assert calls(log)[1]["stdin"] == BUILT
    assert "(server dry run)" in result.output


def test_a_server_side_dry_run_still_runs_under_a_dry_runner(
    only_fakes: Callable[..., Path],
) -> None:
    log = only_fakes("kustomize", "helm", "kubectl")
    apply_addons(ADDONS, runner=Runner(dry=True, echo=lambda line: None), server_dry_run=True)
    assert [call["tool"] for call in calls(log)] == ["kustomize", "kubectl"]


def test_a_dry_runner_builds_but_only_prints_the_apply(only_fakes: Callable[..., Path]) -> None:
    log = only_fakes("kustomize", "helm", "kubectl")
    echoed: list[str] = []
    apply_addons(ADDONS, runner=Runner(dry=True, echo=echoed.append))
    assert [call["tool"] for call in calls(log)] == ["kustomize"]
    assert echoed == ["kubectl apply -f -"]


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        (("helm", "kubectl"), "kustomize"),
        (("kustomize", "kubectl"), "helm"),
        (("kustomize", "helm"), "kubectl"),
    ],
)
def test_each_missing_tool_is_one_line_naming_it_and_nothing_runs(
    only_fakes: Callable[..., Path], present: tuple[str, ...], missing: str
) -> None:
    log = only_fakes(*present)
    with pytest.raises(ToolMissingError) as caught:
        apply_addons(ADDONS, runner=Runner())
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert f"needs {missing} on PATH" in message
    assert calls(log) == []


def test_all_missing_tools_are_named_at_once(only_fakes: Callable[..., Path]) -> None:
    only_fakes()
    with pytest.raises(ToolMissingError, match="needs kustomize, helm, kubectl on PATH"):
        apply_addons(ADDONS, runner=Runner())


def test_a_failed_build_applies_nothing(only_fakes: Callable[..., Path], tmp_path: Path) -> None:
    log = only_fakes("kustomize", "helm", "kubectl")
    broken = tmp_path / "bin" / "kustomize"
    broken.write_text(f"#!{sys.executable}\nimport sys\nsys.exit('Error: accumulating resources')")
    with pytest.raises(CommandError, match="accumulating resources"):
        apply_addons(ADDONS, runner=Runner())
    assert calls(log) == []


def test_a_folder_without_kustomization_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ClusterFileError, match=r"no kustomization\.yaml"):
        apply_addons(tmp_path, runner=Runner(), which=lambda tool: "/bin/" + tool)


def test_inv_addons_dry_runs_the_server_side_dry_run(
    only_fakes: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = only_fakes("kustomize", "helm", "kubectl")
    monkeypatch.setenv("TALOS_CLUSTER_FILE", str(REPO / "cluster.yaml"))
    addons(Context(), dry=True)
    assert calls(log)[1]["argv"][-1] == "--dry-run=server"
    assert "addons: 2 resources validated by the API server" in capsys.readouterr().out
