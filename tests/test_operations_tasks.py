"""inv status, health, images and images.usage against the talosctl stand-in.

The tasks run in-process on a copy of the repository's cluster (so no generated config
of the working tree leaks in); what they print is checked as a person or a script reads
it, and what they ran is checked in the stand-in's call log.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invoke.context import Context
from invoke.exceptions import Exit
from sopskit import enter_project, pitower_project

from talos.adapters.sops import decrypt_file
from talos.core.cluster import load_cluster_file
from talos.ops.client import talosctl_for
from talos.ops.genconfig import generate
from talos.tasks import operations

REPO = Path(__file__).resolve().parents[1]
OLD_SCHEMATIC = "a862538d" + "1" * 56

TALOSCONFIG = """context: pitower
contexts:
    pitower:
        endpoints:
            - 192.168.0.200
        ca: LS0tLS1CRUdJTg==
        crt: LS0tLS1CRUdJTg==
        key: LS0tLS1CRUdJTg==
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The pitower cluster file, patches and extensions in a folder of their own."""
    root = tmp_path / "pitower"
    root.mkdir()
    shutil.copy2(REPO / "cluster.yaml", root / "cluster.yaml")
    for folder in ("patches", "extensions"):
        shutil.copytree(REPO / folder, root / folder)
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text(TALOSCONFIG)
    monkeypatch.setenv("TALOS_CLUSTER_FILE", str(root / "cluster.yaml"))
    monkeypatch.setenv("TALOS_TASKS_TALOSCONFIG", str(talosconfig))
    monkeypatch.chdir(root)
    return root


Run = Callable[..., str]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run a task of talos.tasks.operations as `inv` would; its stdout."""

    def call(name: str, *, code: int = 0, **arguments: Any) -> str:
        """``code``: the exit code the task must end with (status: 1 or 2)."""
        capsys.readouterr()
        if code:
            with pytest.raises(Exit) as caught:
                getattr(operations, name)(Context(), **arguments)
            assert caught.value.code == code, caught.value.message
        else:
            getattr(operations, name)(Context(), **arguments)
        return capsys.readouterr().out

    return call


def mixed(standin: Any) -> None:
    """worker-04 down, worker-pi-02 on an older version and schematic, worker-06 gone."""
    standin.pitower(
        worker_04={"reachable": False},
        worker_pi_02={"talos_version": "v1.12.3", "schematic": OLD_SCHEMATIC},
        worker_06={"member": False},
    )


def rows_by_node(text: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("NODE "))
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        rows[line.split()[0]] = line.split()
    return rows


def connection(argv: list[str]) -> tuple[str, str, str]:
    return (argv[argv.index("--talosconfig") + 1], argv[argv.index("--nodes") + 1],
            argv[argv.index("--endpoints") + 1])


# -- status --------------------------------------------------------------------------------


def test_status_is_one_table_for_a_mixed_cluster(standin: Any, project: Path, run: Run) -> None:
    mixed(standin)
    out = run("status", code=1)  # a node cannot be asked
    assert out.splitlines()[0] == "pitower: https://192.168.0.200:6443"
    rows = rows_by_node(out)
    assert list(rows) == ["worker-01", "worker-02", "worker-03", "worker-04", "worker-05",
                          "worker-06", "worker-pi-01", "worker-pi-02", "worker-pi-03"]
    assert rows["worker-01"][1:6] == ["controlplane", "192.168.0.201", "yes", "yes",
                                      "v1.12.4"]
    assert rows["worker-04"][2:6] == ["192.168.0.204", "no", "-", "?"]
    assert rows["worker-05"][2:5] == ["192.168.0.205", "yes", "yes"]  # found among members
    assert rows["worker-06"][2:5] == ["-", "not", "found"]
    assert rows["worker-pi-02"][5:8] == ["v1.12.3", "->", "v1.12.4"]
    assert rows["worker-pi-02"][8] == OLD_SCHEMATIC[:12]
    # nothing generated in this folder yet
    assert {row[-1] for row in rows.values()} == {"missing"}
    summary = str(caught_summary(run, standin))
    assert "every node without a generated config (inv genconfig)" in summary
    assert "worker-04 unreachable" in summary
    assert "  worker-04: talosctl version on 192.168.0.204 failed" in summary
    assert "worker-06 not found among the members" in summary
    assert "worker-pi-02 on another Talos version" in summary


def test_status_json_parses_and_holds_the_same_facts(
    standin: Any, project: Path, run: Run
) -> None:
    mixed(standin)
    data = {entry["node"]: entry for entry in json.loads(run("status", json=True, code=1))}
    assert data["worker-01"]["ready"] is True and data["worker-01"]["stage"] == "running"
    assert data["worker-04"]["ready"] is None
    assert len(data) == 9
    assert data["worker-04"]["reachable"] is False
    assert data["worker-04"]["state"] == "unreachable"
    assert data["worker-05"]["address"] == "192.168.0.205"
    assert data["worker-06"]["state"] == "not found"
    assert data["worker-pi-02"]["talos"] == {"running": "v1.12.3", "desired": "v1.12.4",
                                             "current": False}
    assert data["worker-pi-02"]["schematic"]["running"] == OLD_SCHEMATIC
    assert data["worker-pi-01"]["config"] == "missing"
    assert data["worker-01"]["talos"]["current"] is True
    assert data["worker-01"]["schematic"]["current"] is True
    # each answering node runs its own schematic (AMD, Intel, Pi): all but the old Pi match
    matching = [name for name, entry in data.items() if entry["schematic"]["current"]]
    assert matching == ["worker-01", "worker-02", "worker-03", "worker-05", "worker-pi-01",
                        "worker-pi-03"]


def test_status_asks_each_node_itself_with_the_talosconfig(
    standin: Any, project: Path, run: Run
) -> None:
    mixed(standin)
    run("status", code=1)
    talosconfig = str(project.parent / "talosconfig")
    calls = standin.calls()
    (versions,) = [connection(argv)[1] for argv in calls if argv[0] == "version"]
    assert versions.split(",") == [
        "192.168.0.201", "192.168.0.202", "192.168.0.203", "192.168.0.204", "192.168.0.205",
        "192.168.0.211", "192.168.0.212", "192.168.0.213"]  # every located node, one call
    (extensions,) = [connection(argv)[1] for argv in calls if argv[:2] == ["get", "extensions"]]
    assert "192.168.0.204" not in extensions  # unreachable: asked nothing more
    assert len(extensions.split(",")) == 7
    for argv in calls:
        config, node, endpoint = connection(argv)
        assert config == talosconfig
        assert node == endpoint  # every node is its own endpoint
    members = [argv for argv in calls if argv[:2] == ["get", "members"]]
    assert members and all(connection(argv)[1] == "192.168.0.201" for argv in members)


def test_status_asks_all_nodes_in_three_calls(standin: Any, project: Path, run: Run) -> None:
    standin.pitower(latency=0.3)
    run("status", code=2)  # no config generated here: that differs
    probes = [e for e in standin.log() if e["argv"][0] in ("version", "get")
              and e["argv"][1] != "members"]
    assert sorted(" ".join(e["argv"][:2]) for e in probes) == [
        "get extensions", "get machinestatus", "version --talosconfig"]
    extensions, status = sorted((e for e in probes if e["argv"][0] == "get"),
                                key=lambda e: e["time"])
    assert status["time"] < extensions["end"]  # the last two questions go out together


def test_without_talosctl_status_is_one_line_not_nine_unreachable_nodes(
    standin: Any, project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    standin.pitower()
    monkeypatch.setenv("TALOSCTL", str(project / "no-talosctl"))
    with pytest.raises(Exit) as caught:
        run("status")
    message = str(caught.value.message)
    assert "no talosctl at" in message and "named by TALOSCTL" in message
    assert len(message.splitlines()) == 1


def caught_summary(run: Run, standin: Any) -> str:
    """The summary a status that cannot ask every node ends with (its exit message)."""
    from talos.tasks import operations as ops

    with pytest.raises(Exit) as caught:
        ops.status(Context())
    assert caught.value.code == 1
    return str(caught.value.message)


def generated_pitower(standin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pitower entered as a user would, its nodes simulated and its configs generated
    (with the talosconfig they make, not one from the environment)."""
    root = pitower_project(tmp_path)
    enter_project(root, monkeypatch)
    monkeypatch.delenv("TALOS_TASKS_TALOSCONFIG", raising=False)
    standin.pitower()
    cluster = load_cluster_file(root / "cluster.yaml")
    generate(cluster, talosctl=talosctl_for(cluster), decrypt=decrypt_file)
    return root


def test_status_of_a_cluster_as_the_file_says_exits_0_and_a_booting_node_2(
    standin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    generated_pitower(standin, tmp_path, monkeypatch)
    assert "all reachable and ready" in run("status")
    state = standin.state()
    state["nodes"]["192.168.0.205"]["ready"] = False
    state["nodes"]["192.168.0.205"]["stage"] = "booting"
    standin.set_state(state)
    rows = rows_by_node(run("status", code=2))
    assert rows["worker-05"][4:6] == ["no", "(booting)"]


# -- images --------------------------------------------------------------------------------


def test_images_of_a_node_largest_first(standin: Any, project: Path, run: Run) -> None:
    standin.pitower()
    out = run("images_list", node=["worker-04"])
    lines = out.splitlines()
    assert lines[0].split() == ["NODE", "IMAGE", "SIZE", "CREATED"]
    assert [line.split()[1] for line in lines[1:]] == [
        "registry.k8s.io/kube-proxy:v1.35.0",
        "registry.k8s.io/coredns/coredns:v1.12.4",
        "registry.k8s.io/pause:3.10",
    ]
    assert lines[1].split()[2:4] == ["31", "MB"]  # talosctl prints 31 MB: that is all we know
    (argv,) = standin.calls()
    assert argv[:2] == ["image", "list"]
    assert connection(argv)[1:] == ("192.168.0.204", "192.168.0.204")
    assert argv[argv.index("--namespace") + 1] == "cri"


def test_images_json_parses(standin: Any, project: Path, run: Run) -> None:
    standin.pitower()
    data = json.loads(run("images_list", node=["worker-01"], json=True, namespace="system"))
    (entry,) = data
    assert entry["node"] == "worker-01"
    assert [i["name"] for i in entry["images"]] == ["ghcr.io/siderolabs/kubelet:v1.35.0",
                                                    "registry.k8s.io/etcd:v3.6.5"]
    assert entry["images"][0]["size_bytes"] == 98_000_000  # talosctl prints "98 MB"


def test_images_of_an_unreachable_node_is_an_error_after_the_others(
    standin: Any, project: Path, run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.pitower(worker_02={"reachable": False})
    with pytest.raises(Exit) as caught:
        run("images_list", role="controlplane")
    assert "worker-02: unreachable" in str(caught.value.message)
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}
    assert listed == {"worker-01", "worker-03"}


def test_usage_is_one_table_for_every_node(standin: Any, project: Path, run: Run) -> None:
    mixed(standin)
    rows = rows_by_node(run("usage"))
    assert list(rows)[-1] == "total"
    # control planes hold six workload images and two system ones; the usage stand-in
    # counts both namespaces: 98.4 + 23.5 + 0.3 + 30.8 + 22.4 + 27.4 + 25.0 + 19.8 MB
    assert rows["worker-01"] == ["worker-01", "192.168.0.201", "6", "0.25"]
    assert rows["worker-pi-01"] == ["worker-pi-01", "192.168.0.211", "3", "0.18"]
    assert rows["worker-04"][:4] == ["worker-04", "192.168.0.204", "-", "-"]
    assert rows["worker-04"][4] == "unreachable:"
    assert rows["worker-06"][:2] == ["worker-06", "-"]
    assert rows["total"][:4] == ["total", "7", "nodes", str(3 * 6 + 4 * 3)]
    usage_calls = [argv for argv in standin.calls() if argv[0] == "usage"]
    assert len(usage_calls) == 7
    for argv in usage_calls:
        assert argv[-3:] == ["--depth", "0", "/var/lib/containerd"]


# -- health --------------------------------------------------------------------------------


def test_health_of_a_healthy_cluster_is_one_line(standin: Any, project: Path, run: Run) -> None:
    standin.pitower(bootstrapped=True)
    out = run("health", timeout="2m")
    assert out.strip() == "healthy: 16 of 16 checks passed, asked 192.168.0.201"
    (argv,) = [argv for argv in standin.calls() if argv[0] == "health"]
    assert connection(argv)[1] == "192.168.0.201"
    assert argv[argv.index("--control-plane-nodes") + 1] == (
        "192.168.0.201,192.168.0.202,192.168.0.203")
    assert argv[argv.index("--worker-nodes") + 1] == (
        "192.168.0.204,192.168.0.205,192.168.0.206,192.168.0.211,192.168.0.212,192.168.0.213")
    assert argv[argv.index("--wait-timeout") + 1] == "2m"


def test_an_unhealthy_cluster_names_the_failing_check(
    standin: Any, project: Path, run: Run
) -> None:
    standin.pitower(bootstrapped=True, worker_pi_03={"reachable": False})
    with pytest.raises(Exit) as caught:
        run("health")
    message = str(caught.value.message)
    assert message.startswith("error: unhealthy: apid to be ready: ")
    assert "192.168.0.213: rpc error: code = Unavailable" in message
    assert "(3 of 4 checks passed), asked 192.168.0.201" in message
    assert len(message.splitlines()) == 1


# -- with generated configs ----------------------------------------------------------------


@pytest.mark.slow
def test_status_tells_current_configs_from_outdated_ones(
    standin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    root = generated_pitower(standin, tmp_path, monkeypatch)
    with (root / "patches" / "nodes" / "worker-04.patch").open("a") as patch:
        patch.write("# changed since the configs were generated\n")
    rows = rows_by_node(run("status", code=2))
    assert {name: row[-1] for name, row in rows.items()} == {
        name: "outdated" if name == "worker-04" else "current" for name in rows
    }
    assert all(row[3] == "yes" for row in rows.values())


def test_health_is_asked_of_the_first_control_plane_that_answers(
    standin: Any, project: Path, run: Run
) -> None:
    standin.pitower(bootstrapped=True, worker_01={"reachable": False})
    with pytest.raises(Exit) as caught:
        run("health")
    message = str(caught.value.message)
    assert message.startswith("error: unhealthy: etcd to be healthy: etcd isn't healthy on "
                              "192.168.0.201")
    assert message.endswith("asked 192.168.0.202")
    (argv,) = [argv for argv in standin.calls() if argv[0] == "health"]
    assert connection(argv)[1] == "192.168.0.202"
    assert argv[argv.index("--wait-timeout") + 1] == "5m"  # the documented default


def test_health_with_every_control_plane_down_is_one_line(
    standin: Any, project: Path, run: Run
) -> None:
    standin.pitower(bootstrapped=True, worker_01={"reachable": False},
                    worker_02={"reachable": False}, worker_03={"reachable": False},
                    worker_05={"member": False}, worker_06={"member": False})
    with pytest.raises(Exit) as caught:
        run("health")
    message = str(caught.value.message)
    assert message.startswith("error: unhealthy: no control plane answers (")
    assert len(message.splitlines()) == 1
    assert not [argv for argv in standin.calls() if argv[0] == "health"]


def test_health_json_lists_each_check_and_keeps_the_exit_code(
    standin: Any, project: Path, run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    standin.pitower(bootstrapped=True)
    document = json.loads(run("health", json=True))
    assert set(document) == {"healthy", "asked", "summary", "checks"}
    assert document["healthy"] is True and document["asked"] == "192.168.0.201"
    assert document["checks"][0] == {"name": "etcd to be healthy", "outcome": "OK"}
    assert len(document["checks"]) == 16
    standin.pitower(bootstrapped=True, worker_pi_03={"reachable": False})
    with pytest.raises(Exit):
        run("health", json=True)
    failed = json.loads(capsys.readouterr().out)
    assert failed["healthy"] is False
    assert failed["checks"][-1]["name"] == "apid to be ready"
    assert "192.168.0.213" in failed["checks"][-1]["outcome"]
