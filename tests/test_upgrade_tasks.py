"""`inv upgrade` and `inv upgrade-k8s` end to end: the real inv, the talosctl stand-in."""

from __future__ import annotations

import itertools
import json
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import inprocess
import pytest
from conftest import PITOWER_NODES, Standin, pitower_schematics
from invoke.context import Context
from invoke.exceptions import Exit

from talos.tasks.upgrade import upgrade, upgrade_k8s

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]
OLD, NEW = "v1.12.3", "v1.12.4"
IP = {hostname: ip for hostname, _, ip in PITOWER_NODES}
NAME = {ip: hostname for hostname, _, ip in PITOWER_NODES}
CONTROLPLANES = {ip for _, role, ip in PITOWER_NODES if role == "controlplane"}
TALOSCONFIG = "context: pitower\ncontexts:\n  pitower:\n    endpoints: []\n    nodes: []\n"


def project_copy(root: Path, *, replace: tuple[str, str] | None = None) -> Path:
    """The repository's cluster file in ``root`` (its data linked), so that what a task
    writes beside it (lock, snapshots) stays in the test's folder."""
    root.mkdir(parents=True, exist_ok=True)
    text = (REPO / "cluster.yaml").read_text()
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    (root / "cluster.yaml").write_text(text)
    for folder in ("patches", "extensions"):
        (root / folder).symlink_to(REPO / folder)
    return root / "cluster.yaml"


@pytest.fixture
def cluster(standin: Standin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Standin:
    """pitower one Talos version behind, bootstrapped, every upgrade taking a moment."""
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text(TALOSCONFIG)
    monkeypatch.setenv("TALOS_TASKS_TALOSCONFIG", str(talosconfig))
    monkeypatch.setenv("TALOS_CLUSTER_FILE", str(project_copy(tmp_path / "project")))
    standin.pitower(talos_version=OLD, bootstrapped=True, upgrade_seconds=0.2)
    return standin


def inv(*args: str, cwd: Path, program: bool = False) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` in this process (the stand-in too), or with ``program`` as the programs."""
    if not program:
        return inprocess.inv(["--search-root", str(REPO), *args], cwd=cwd)
    return subprocess.run([*INV, "--search-root", str(REPO), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def set_nodes(standin: Standin, **changes: dict[str, Any]) -> None:
    state = standin.state()
    for hostname, fields in changes.items():
        state["nodes"][IP[hostname.replace("_", "-")]].update(fields)
    standin.set_state(state)


def upgrades(standin: Standin) -> list[dict[str, Any]]:
    """Each logged `talosctl upgrade`: node name, image, start and end times."""
    found = []
    for entry in standin.log():
        argv = entry["argv"]
        if argv[:1] == ["upgrade"]:
            node = argv[argv.index("--nodes") + 1]
            found.append({"node": NAME[node], "ip": node, "image": argv[argv.index("--image") + 1],
                          "start": entry["time"], "end": entry["end"]})
    return found


def most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.slow
def test_dry_run_prints_the_plan_skips_current_nodes_and_upgrades_nothing(
    cluster: Standin, tmp_path: Path
) -> None:
    set_nodes(cluster, worker_01={"talos_version": NEW}, worker_pi_02={"talos_version": NEW})
    result = inv("--dry", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:11]}
    assert result.stdout.startswith("pitower: upgrade plan: 7 to upgrade (2 control planes, "
                                    "5 workers), 2 current")
    assert rows["worker-01"][7] == "current" and rows["worker-pi-02"][7] == "current"
    assert rows["worker-02"][7:] == ["upgrade", "Talos", OLD, "->", NEW]
    assert rows["worker-05"][2] == "192.168.0.205"  # found among the members
    assert upgrades(cluster) == []


@pytest.mark.slow
def test_upgrade_gives_each_node_its_own_image_and_leaves_current_nodes_alone(
    cluster: Standin, tmp_path: Path
) -> None:
    set_nodes(cluster, worker_03={"talos_version": NEW})
    result = inv("upgrade", "--parallel", "3", "--yes", cwd=tmp_path, program=True)
    assert result.returncode == 0, result.stdout + result.stderr
    schematics = pitower_schematics()
    images = {u["node"]: u["image"] for u in upgrades(cluster)}
    assert set(images) == set(IP) - {"worker-03"}
    for name, image in images.items():
        assert image == f"factory.talos.dev/installer/{schematics[name]}:{NEW}"
    # the AMD control planes get the AMD image, the Pis theirs: three different images
    assert images["worker-01"] == images["worker-02"] != images["worker-pi-01"]
    assert len({images["worker-01"], images["worker-04"], images["worker-pi-01"]}) == 3
    state = cluster.state()["nodes"]
    assert {node["talos_version"] for node in state.values()} == {NEW}
    assert "Already current: worker-03" in result.stdout
    assert "worker-pi-03: upgraded" in result.stdout


@pytest.mark.slow
def test_control_planes_never_overlap_and_workers_respect_the_parallel_limit(
    cluster: Standin, tmp_path: Path
) -> None:
    result = inv("upgrade", "--parallel", "2", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    done = upgrades(cluster)
    cps = sorted((u["start"], u["end"]) for u in done if u["ip"] in CONTROLPLANES)
    workers = [(u["start"], u["end"]) for u in done if u["ip"] not in CONTROLPLANES]
    assert len(cps) == 3 and len(workers) == 6
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(cps))
    assert min(start for start, _ in workers) >= cps[-1][1]
    assert most_at_once(workers) == 2
    # after each control plane: back and ready, then the health check, before the next
    calls = [" ".join(c[:2]) + " " + c[c.index("--nodes") + 1] for c in cluster.calls()
             if c[0] in ("upgrade", "health", "get") and "--nodes" in c]
    for ip in sorted(CONTROLPLANES)[:-1]:
        after = calls[calls.index(f"upgrade --talosconfig {ip}"):]
        assert after.index(f"get machinestatus {ip}") < after.index(f"health --talosconfig {ip}")
    # every worker is asked whether it is running and ready once its upgrade returned
    # (checks that run at the same time may share a call)
    checks = [(entry["time"], entry["argv"][entry["argv"].index("--nodes") + 1].split(","))
              for entry in cluster.log() if entry["argv"][:2] == ["get", "machinestatus"]]
    for done in [u for u in upgrades(cluster) if u["ip"] not in CONTROLPLANES]:
        assert any(done["ip"] in nodes and start >= done["end"] for start, nodes in checks)


@pytest.mark.slow
def test_a_failure_stops_the_rollout_and_a_second_run_resumes(
    cluster: Standin, tmp_path: Path
) -> None:
    set_nodes(cluster, worker_04={"fail_upgrade": "error: failed to pull image: not found"})
    result = inv("upgrade", "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert "error: upgrade stopped: worker-04 failed" in result.stderr
    assert "Failed: worker-04: " in result.stdout and "failed to pull image" in result.stdout
    assert "worker-04:   talosctl: error: failed to pull image" in result.stdout  # live
    assert ("Not touched: worker-05, worker-06, worker-pi-01, worker-pi-02, worker-pi-03"
            in result.stdout)
    assert [u["node"] for u in upgrades(cluster)] == ["worker-01", "worker-02", "worker-03",
                                                      "worker-04"]
    set_nodes(cluster, worker_04={"fail_upgrade": None})
    cluster.log_path.unlink()
    again = inv("upgrade", "--parallel", "2", "-y", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(u["node"] for u in upgrades(cluster)) == [
        "worker-04", "worker-05", "worker-06", "worker-pi-01", "worker-pi-02", "worker-pi-03"]
    assert "Already current: worker-01, worker-02, worker-03" in again.stdout


@pytest.mark.slow
def test_an_unreachable_node_is_planned_as_such_and_the_others_are_upgraded(
    cluster: Standin, tmp_path: Path
) -> None:
    set_nodes(cluster, worker_pi_03={"reachable": False})
    result = inv("upgrade", "--role", "worker", "--parallel", "5", "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert "Unreachable: worker-pi-03: " in result.stdout
    assert "worker-pi-03 could not be reached" in result.stderr
    assert sorted(u["node"] for u in upgrades(cluster)) == [
        "worker-04", "worker-05", "worker-06", "worker-pi-01", "worker-pi-02"]


def test_a_control_plane_down_stops_the_upgrade_before_any_change(
    cluster: Standin, tmp_path: Path
) -> None:
    set_nodes(cluster, worker_03={"reachable": False})
    result = inv("upgrade", "--role", "controlplane", "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert "pre-flight refused upgrade: worker-03: etcd does not answer" in result.stderr
    assert "pass --skip-etcd-check to go on anyway" in result.stderr
    assert upgrades(cluster) == []
    assert not [c for c in cluster.calls() if c[:2] == ["etcd", "snapshot"]]
    assert {n["talos_version"] for n in cluster.state()["nodes"].values()} == {OLD}


@pytest.mark.slow
def test_an_unhealthy_etcd_member_stops_the_upgrade_and_skip_etcd_check_goes_on(
    cluster: Standin, tmp_path: Path
) -> None:
    set_nodes(cluster, worker_02={"etcd_running": False})
    refused = inv("upgrade", "--node", "worker-01", "--yes", cwd=tmp_path)
    assert refused.returncode == 1
    assert "worker-02: etcd does not answer" in refused.stderr
    assert upgrades(cluster) == []
    still = inv("upgrade", "--node", "worker-01", "--yes", "--force", cwd=tmp_path)
    assert still.returncode == 1  # talosctl's --force is not this task's pre-flight
    assert upgrades(cluster) == []
    # the pre-flight skipped; the node's own check needs talosctl's --force too
    forced = inv("upgrade", "--node", "worker-01", "--yes", "--skip-etcd-check", "--force",
                 cwd=tmp_path)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "--skip-etcd-check: skipping the etcd health and membership checks" in forced.stdout
    assert [u["node"] for u in upgrades(cluster)] == ["worker-01"]


@pytest.mark.slow
def test_only_the_nodes_named_are_upgraded_with_the_options_given(
    cluster: Standin, tmp_path: Path
) -> None:
    result = inv("upgrade", "--node", "worker-pi-02", "--node", "worker-02", "--stage",
                 "--preserve", "--force", "--timeout", "10m", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [u["node"] for u in upgrades(cluster)] == ["worker-02", "worker-pi-02"]
    for argv in [c for c in cluster.calls() if c[0] == "upgrade"]:
        assert {"--stage", "--preserve", "--force"} <= set(argv)
        assert argv[argv.index("--timeout") + 1] == "10m"


def test_a_node_name_not_in_the_cluster_file_is_refused(cluster: Standin) -> None:
    with pytest.raises(Exit, match=r"no node named 'worker-pi-9'.*did you mean"):
        upgrade(Context(), node=["worker-pi-9"])
    assert cluster.calls() == []


def test_parallel_below_one_is_refused(cluster: Standin) -> None:
    with pytest.raises(Exit, match="--parallel must be 1 or more") as caught:
        upgrade(Context(), parallel=0)
    assert caught.value.code == 2  # a usage error, as Invoke's own


def test_upgrade_k8s_goes_through_the_first_control_plane_to_the_cluster_files_version(
    cluster: Standin, tmp_path: Path
) -> None:
    dry = inv("--dry", "upgrade-k8s", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "upgrade-k8s" in dry.stdout and not [c for c in cluster.calls()
                                               if c[0] == "upgrade-k8s"]
    result = inv("upgrade-k8s", cwd=tmp_path, program=True)
    assert result.returncode == 0, result.stdout + result.stderr
    [argv] = [c for c in cluster.calls() if c[0] == "upgrade-k8s"]
    assert argv[argv.index("--nodes") + 1] == "192.168.0.201"
    assert argv[argv.index("--to") + 1] == "1.35.0"
    assert "through worker-01 (192.168.0.201)" in result.stdout
    other = inv("upgrade-k8s", "--to", "v1.35.2", cwd=tmp_path)
    assert other.returncode == 0, other.stdout + other.stderr
    assert {n["kubernetes_version"] for n in cluster.state()["nodes"].values()} == {"1.35.2"}


def test_upgrade_k8s_refuses_a_version_that_is_not_one(cluster: Standin) -> None:
    with pytest.raises(Exit, match=r"'latest' is not a Kubernetes version like v1\.35\.0"):
        upgrade_k8s(Context(), to="latest")
    assert cluster.calls() == []


def test_a_parallel_that_is_not_a_number_is_one_line_and_upgrades_nothing(
    cluster: Standin, tmp_path: Path
) -> None:
    result = inv("upgrade", "--parallel", "two", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --parallel 'two': give a number of workers, like 2"
    assert upgrades(cluster) == []


# -- safety: confirmation, lock, snapshot, versions, interruption ---------------------------


def backups(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "project" / "clusterconfig" / "backups"
    return sorted(folder.glob("etcd-pitower-*.db")) if folder.is_dir() else []


def test_without_a_terminal_and_without_yes_nothing_is_changed(
    cluster: Standin, tmp_path: Path
) -> None:
    result = inv("upgrade", cwd=tmp_path)
    assert result.returncode == 1
    assert "no terminal to ask 'Upgrade 9 nodes?' on, and no --yes" in result.stderr
    assert upgrades(cluster) == []
    assert backups(tmp_path) == []


@pytest.mark.slow
def test_a_snapshot_is_taken_before_the_first_control_plane_changes(
    cluster: Standin, tmp_path: Path
) -> None:
    result = inv("upgrade", "--role", "controlplane", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = [" ".join(argv[:2]) for argv in cluster.calls()]
    assert calls.index("etcd snapshot") < calls.index(next(c for c in calls
                                                          if c.startswith("upgrade ")))
    [backup] = backups(tmp_path)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert f"etcd snapshot taken before: {backup}" in result.stdout


@pytest.mark.slow
def test_no_snapshot_skips_it_and_a_worker_only_upgrade_needs_none(
    cluster: Standin, tmp_path: Path
) -> None:
    skipped = inv("upgrade", "--node", "worker-01", "--yes", "--no-snapshot", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "--no-snapshot: no etcd snapshot taken" in skipped.stdout
    workers = inv("upgrade", "--role", "worker", "--yes", "--parallel", "6", cwd=tmp_path)
    assert workers.returncode == 0, workers.stdout + workers.stderr
    assert backups(tmp_path) == []
    assert not [c for c in cluster.calls() if c[:1] == ["etcd"] and c[1] != "status"
                and c[1] != "members"]


@pytest.mark.slow
def test_two_rollouts_at_once_the_second_refuses_naming_the_first(
    cluster: Standin, tmp_path: Path
) -> None:
    set_nodes(cluster, worker_04={"upgrade_seconds": 12.0})
    first = subprocess.Popen([*INV, "--search-root", str(REPO), "upgrade", "--node",
                              "worker-04", "--yes"], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: bool(started(cluster)) or first.poll() is not None)
        second = inv("upgrade", "--node", "worker-05", "--yes", cwd=tmp_path)
        assert second.returncode == 1
        assert ("another rollout from this working copy is running: inv upgrade (pid "
                in second.stderr)
        assert f"pid {first.pid} on" in second.stderr
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert [u["node"] for u in upgrades(cluster)] == ["worker-04"]


def started(standin: Standin) -> list[str]:
    """Nodes whose upgrade has begun (the stand-in records it when the request arrives;
    the call log only when talosctl returns)."""
    return sorted(NAME[ip] for ip, node in standin.state()["nodes"].items()
                  if node.get("upgrades"))


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGINT, 130, "Ctrl-C"),
                                                    (signal.SIGTERM, 143, "SIGTERM")])
def test_an_interruption_mid_upgrade_starts_no_other_node_and_names_those_in_flight(
    cluster: Standin, tmp_path: Path, sig: int, code: int, name: str
) -> None:
    set_nodes(cluster, worker_04={"upgrade_seconds": 2.0}, worker_05={"upgrade_seconds": 2.0})
    process = subprocess.Popen([*INV, "--search-root", str(REPO), "upgrade", "--role",
                                "worker", "--parallel", "2", "--yes"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: len(started(cluster)) >= 2 or process.poll() is not None)
    process.send_signal(sig)
    out, err = process.communicate(timeout=90)
    assert process.returncode == code, out + err
    assert f"upgrade interrupted ({name}): no new node was started" in err
    assert started(cluster) == ["worker-04", "worker-05"]
    assert "Upgraded in " in out and "Not touched: worker-06, worker-pi-01" in out
    # the two in flight were waited for: each is reported upgraded or in flight by name
    assert all(n in out.split("Not touched")[0] for n in ["worker-04", "worker-05"])


def test_a_jump_from_1_9_to_1_12_is_refused_with_the_allowed_range(
    cluster: Standin, tmp_path: Path
) -> None:
    set_nodes(cluster, worker_04={"talos_version": "v1.9.5"})
    result = inv("upgrade", "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert ("worker-04: Talos v1.9.5 is too old to upgrade to v1.12.4: Talos 1.12 upgrades "
            "from v1.10.0 or newer") in result.stderr
    assert upgrades(cluster) == []


def test_kubernetes_1_36_on_talos_1_12_is_refused(
    standin: Standin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text(TALOSCONFIG)
    monkeypatch.setenv("TALOS_TASKS_TALOSCONFIG", str(talosconfig))
    path = project_copy(tmp_path / "project",
                        replace=("kubernetesVersion: v1.35.0", "kubernetesVersion: v1.36.0"))
    monkeypatch.setenv("TALOS_CLUSTER_FILE", str(path))
    standin.pitower(talos_version=OLD, bootstrapped=True)
    result = inv("upgrade", "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert ("Kubernetes v1.36.0 is too new for Talos v1.12.4: Talos v1.12.4 supports "
            "Kubernetes v1.30.0 to 1.35.x") in result.stderr
    assert upgrades(standin) == []


def test_a_talosctl_of_another_minor_is_refused_naming_the_one_to_use(
    cluster: Standin, tmp_path: Path
) -> None:
    state = cluster.state()
    state["client_version"] = "v1.11.5"
    cluster.set_state(state)
    result = inv("upgrade", "--yes", cwd=tmp_path)
    assert result.returncode == 1
    assert "talosctl is v1.11.5" in result.stderr and "use talosctl v1.12.x" in result.stderr


def test_json_prints_the_plan_and_outcome_as_one_document(
    cluster: Standin, tmp_path: Path
) -> None:
    dry = inv("--dry", "upgrade", "--json", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    document = json.loads(dry.stdout)
    assert set(document) == {"plan", "dry_run", "snapshot", "outcome"}
    assert document["dry_run"] is True and document["outcome"] is None
    step = document["plan"][0]
    assert set(step) == {"node", "role", "address", "running", "wanted", "action", "reason"}
    assert step["wanted"]["talos"] == NEW and step["running"]["talos"] == OLD
    assert "upgrade plan" in dry.stderr
    done = inv("upgrade", "--role", "worker", "--parallel", "6", "--yes", "--json",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)["outcome"]
    assert set(outcome) == {"upgraded", "failed", "check_failed", "in_flight", "not_touched",
                            "current", "unreachable", "interrupted", "elapsed_seconds", "ok"}
    assert sorted(outcome["upgraded"]) == sorted(n for n, r, _ in PITOWER_NODES
                                                 if r == "worker")


def test_planning_asks_every_node_in_two_talosctl_calls_and_names_the_silent_one(
    cluster: Standin, tmp_path: Path
) -> None:
    set_nodes(cluster, worker_pi_03={"reachable": False})
    result = inv("--dry", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    asked = [argv[:2] for argv in cluster.calls() if argv[:1] in (["version"], ["get"])
             and argv[:2] != ["version", "--client"] and argv[1] != "members"]
    assert asked == [["version", "--talosconfig"], ["get", "extensions"]]
    row = next(line for line in result.stdout.splitlines() if line.startswith("worker-pi-03"))
    assert "unreachable" in row and "192.168.0.213" in row
