"""Node addresses: from the cluster file, else from the members the control planes know."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from test_talosctl import FakeRunner

from talos.adapters.command import Result
from talos.adapters.talosctl import Talosctl
from talos.core.cluster import Cluster, Node
from talos.errors import SelectionError, ToolMissingError
from talos.ops.client import talosctl_for
from talos.ops.targets import Target, locate, resolve_targets

UNREACHABLE = (
    "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while "
    "dialing: dial tcp 192.168.0.201:50000: connect: connection refused\"\n"
)


def cluster(tmp_path: Path, *nodes: Node) -> Cluster:
    return Cluster(
        path=tmp_path / "cluster.yaml", name="pitower", endpoint="https://192.168.0.200:6443",
        talos_version="v1.12.4", kubernetes_version="v1.35.0",
        secrets_file=tmp_path / "secrets.sops.yaml", schematics={}, nodes=nodes,
    )


CP1 = Node("worker-01", "controlplane", "192.168.0.201", "amd")
CP2 = Node("worker-02", "controlplane", "192.168.0.202", "amd")
W4 = Node("worker-04", "worker", "192.168.0.204", "intel")
W5 = Node("worker-05", "worker", None, "intel")
W6 = Node("worker-06", "worker", None, "intel")


def members_json(*members: tuple[str, list[str], str]) -> str:
    return "".join(
        json.dumps({
            "metadata": {"id": hostname, "namespace": "cluster", "version": 1},
            "node": "192.168.0.201",
            "spec": {"addresses": addresses, "hostname": hostname, "machineType": role,
                     "operatingSystem": "Talos (v1.12.4)"},
        }, indent=4, sort_keys=True) + "\n"
        for hostname, addresses, role in members
    )


PITOWER_MEMBERS = members_json(
    ("worker-01", ["192.168.0.201"], "controlplane"),
    ("worker-02", ["192.168.0.202"], "controlplane"),
    ("worker-05", ["fd00::205", "192.168.0.205"], "worker"),
    ("worker-06.lan", ["192.168.0.206"], "worker"),
)


@pytest.fixture
def talosconfig(tmp_path: Path) -> Path:
    path = tmp_path / "talosconfig"
    path.write_text("context: pitower\n")
    return path


def adapter(talosconfig: Path, runner: FakeRunner) -> Talosctl:
    return Talosctl(talosconfig, runner=runner, binary="talosctl")


def asked(runner: FakeRunner) -> list[str]:
    """The nodes members were asked of, in order."""
    return [argv[argv.index("--nodes") + 1] for argv in runner.argvs if argv[1:3] == ["get",
            "members"]]


def test_nodes_with_an_ip_need_no_question(tmp_path: Path, talosconfig: Path) -> None:
    runner = FakeRunner()
    targets = resolve_targets(cluster(tmp_path, CP1, W4), [W4, CP1], adapter(talosconfig, runner))
    assert targets == [Target(W4, "192.168.0.204"), Target(CP1, "192.168.0.201")]
    assert runner.calls == []


def test_nodes_without_an_ip_are_found_among_the_members_by_hostname_asked_once(
    tmp_path: Path, talosconfig: Path
) -> None:
    runner = FakeRunner(replies={"get members": (0, PITOWER_MEMBERS, "")})
    the_cluster = cluster(tmp_path, CP1, CP2, W4, W5, W6)
    targets = resolve_targets(the_cluster, [W5, W4, W6], adapter(talosconfig, runner))
    assert targets == [
        Target(W5, "192.168.0.205"),  # IPv4 preferred
        Target(W4, "192.168.0.204"),
        Target(W6, "192.168.0.206"),  # a member reporting its FQDN
    ]
    assert asked(runner) == ["192.168.0.201"]


def test_a_declared_full_name_finds_the_member_reporting_its_short_name(
    tmp_path: Path, talosconfig: Path
) -> None:
    qualified = Node("box", "worker", None, "intel", hostname="worker-05.lan")
    longer = Node("other", "worker", None, "intel", hostname="worker-0.lan")
    runner = FakeRunner(replies={"get members": (0, PITOWER_MEMBERS, "")})
    found, missing = locate(cluster(tmp_path, CP1, qualified, longer), [qualified, longer],
                            adapter(talosconfig, runner))
    assert found == [Target(qualified, "192.168.0.205")]
    assert [m.node.name for m in missing] == ["other"]


def test_a_declared_hostname_is_what_is_looked_for(tmp_path: Path, talosconfig: Path) -> None:
    renamed = Node("box", "worker", None, "intel", hostname="worker-05")
    runner = FakeRunner(replies={"get members": (0, PITOWER_MEMBERS, "")})
    targets = resolve_targets(cluster(tmp_path, CP1, renamed), [renamed],
                              adapter(talosconfig, runner))
    assert targets == [Target(renamed, "192.168.0.205")]


@pytest.mark.parametrize(
    ("members", "address"),
    [
        pytest.param((("WORKER-05.lan.", ["192.168.0.205"], "worker"),), "192.168.0.205",
                     id="case and a trailing dot do not matter"),
        pytest.param((("worker-05", [], "worker"), ("worker-05.lan", ["192.168.0.15"], "worker")),
                     "192.168.0.15", id="a member without addresses is passed over"),
        pytest.param((("worker-055", ["192.168.0.55"], "worker"),
                      ("worker-05x.lan", ["192.168.0.56"], "worker")), None,
                     id="a longer name is another host"),
    ],
)
def test_a_member_matches_by_hostname_as_dns_compares_it(
    tmp_path: Path, talosconfig: Path, members: tuple[tuple[str, list[str], str], ...],
    address: str | None,
) -> None:
    runner = FakeRunner(replies={"get members": (0, members_json(*members), "")})
    talosctl = adapter(talosconfig, runner)
    if address is None:
        with pytest.raises(SelectionError, match="no member named worker-05 was found"):
            resolve_targets(cluster(tmp_path, CP1, W5), [W5], talosctl)
    else:
        assert resolve_targets(cluster(tmp_path, CP1, W5), [W5], talosctl) == [
            Target(W5, address)
        ]


def test_the_next_control_plane_is_asked_when_one_does_not_answer(
    tmp_path: Path, talosconfig: Path
) -> None:
    class FirstDown(FakeRunner):
        def run(self, argv: Sequence[str], **options: Any) -> Result:
            result = super().run(argv, **options)
            if "192.168.0.201" in argv:
                return Result(result.argv, 1, "", UNREACHABLE)
            return Result(result.argv, 0, PITOWER_MEMBERS, "")

    runner = FirstDown()
    targets = resolve_targets(cluster(tmp_path, CP1, CP2, W5), [W5], adapter(talosconfig, runner))
    assert targets == [Target(W5, "192.168.0.205")]
    assert asked(runner) == ["192.168.0.201", "192.168.0.202"]


def test_a_node_no_member_has_is_refused_with_what_to_do(
    tmp_path: Path, talosconfig: Path
) -> None:
    runner = FakeRunner(replies={"get members": (0, members_json(
        ("worker-01", ["192.168.0.201"], "controlplane")), "")})
    with pytest.raises(SelectionError) as caught:
        resolve_targets(cluster(tmp_path, CP1, W5), [W5], adapter(talosconfig, runner))
    assert str(caught.value) == (
        "worker-05 has no IP in cluster.yaml and no member named worker-05 was found on "
        "worker-01; add its ip"
    )


def test_when_no_control_plane_answers_the_node_and_the_reasons_are_named(
    tmp_path: Path, talosconfig: Path
) -> None:
    runner = FakeRunner(replies={"get members": (1, "", UNREACHABLE)})
    with pytest.raises(SelectionError) as caught:
        resolve_targets(cluster(tmp_path, CP1, CP2, W5), [W5], adapter(talosconfig, runner))
    message = str(caught.value)
    assert message.startswith("worker-05 has no IP in cluster.yaml and no control plane answered")
    assert "talosctl get members on 192.168.0.201 failed: node is unreachable" in message
    assert "192.168.0.202" in message
    assert message.endswith("add its ip or check the control planes")
    assert "\n" not in message


def test_without_a_control_plane_address_there_is_nobody_to_ask(
    tmp_path: Path, talosconfig: Path
) -> None:
    cp = Node("worker-01", "controlplane", None, "amd")
    runner = FakeRunner()
    with pytest.raises(SelectionError, match=r"^worker-05 has no IP in cluster\.yaml and no "
                       r"control plane has one"):
        resolve_targets(cluster(tmp_path, cp, W5), [W5], adapter(talosconfig, runner))
    assert runner.calls == []


def test_a_missing_talosctl_is_not_mistaken_for_an_unanswering_control_plane(
    tmp_path: Path, talosconfig: Path
) -> None:
    talosctl = Talosctl(talosconfig, binary="/nonexistent/talosctl")
    with pytest.raises(ToolMissingError):
        resolve_targets(cluster(tmp_path, CP1, W5), [W5], talosctl)


# ---------------------------------------------------------------------------------------
# Against the stand-in: the repository's cluster file, worker-05/06 known only as members


@pytest.fixture
def pitower(standin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The repository's cluster with a generated talosconfig, and the stand-in's nine nodes."""
    from sopskit import pitower_project

    from talos.core.cluster import load_cluster_file

    the_cluster = load_cluster_file(pitower_project(tmp_path) / "cluster.yaml")
    talosctl = Talosctl(None)
    plain = tmp_path / "plain-secrets.yaml"
    talosctl.gen_secrets(plain)
    talosctl.gen_config(
        the_cluster.name, the_cluster.endpoint, secrets=plain,
        output_dir=the_cluster.output_dir, talos_version=the_cluster.talos_version,
        kubernetes_version=the_cluster.kubernetes_version,
        install_image="factory.talos.dev/installer/x:v1.12.4",
    )
    monkeypatch.delenv("TALOS_TASKS_TALOSCONFIG", raising=False)
    return the_cluster


def test_every_pitower_node_is_located_through_the_standin(
    standin: Any, pitower: Cluster
) -> None:
    standin.pitower()
    targets = resolve_targets(pitower, pitower.nodes, talosctl_for(pitower, progress=None))
    assert {t.node.name: t.address for t in targets} == {
        "worker-01": "192.168.0.201", "worker-02": "192.168.0.202",
        "worker-03": "192.168.0.203", "worker-04": "192.168.0.204",
        "worker-05": "192.168.0.205", "worker-06": "192.168.0.206",
        "worker-pi-01": "192.168.0.211", "worker-pi-02": "192.168.0.212",
        "worker-pi-03": "192.168.0.213",
    }
    assert [call[:2] for call in standin.calls() if call[0] == "get"] == [["get", "members"]]


def test_a_down_control_plane_is_passed_over_for_the_next_through_the_standin(
    standin: Any, pitower: Cluster
) -> None:
    standin.pitower(worker_01={"reachable": False})
    worker_05 = pitower.node("worker-05")
    [target] = resolve_targets(pitower, [worker_05], talosctl_for(pitower, progress=None))
    assert target.address == "192.168.0.205"
    asked_of = [call[call.index("--nodes") + 1] for call in standin.calls()
                if call[:2] == ["get", "members"]]
    assert asked_of == ["192.168.0.201", "192.168.0.202"]


def test_a_node_that_left_the_cluster_is_refused_through_the_standin(
    standin: Any, pitower: Cluster
) -> None:
    standin.pitower(worker_06={"member": False})
    with pytest.raises(SelectionError) as caught:
        resolve_targets(pitower, [pitower.node("worker-06")], talosctl_for(pitower))
    assert str(caught.value) == (
        "worker-06 has no IP in cluster.yaml and no member named worker-06 was found on "
        "worker-01; add its ip"
    )


def test_locate_keeps_the_nodes_it_finds_and_says_why_for_the_others(
    tmp_path: Path, talosconfig: Path
) -> None:
    w7 = Node("worker-07", "worker", None, "intel")
    runner = FakeRunner(replies={"get members": (0, PITOWER_MEMBERS, "")})
    found, missing = locate(cluster(tmp_path, CP1, W4, W5, w7), [W4, w7, W5],
                            adapter(talosconfig, runner))
    assert found == [Target(W4, "192.168.0.204"), Target(W5, "192.168.0.205")]
    assert [(m.node.name, m.reason) for m in missing] == [
        ("worker-07", "worker-07 has no IP in cluster.yaml and no member named worker-07 "
                      "was found on worker-01; add its ip"),
    ]
    assert asked(runner) == ["192.168.0.201"]


def test_locate_asks_silent_control_planes_once_for_all_nodes_it_cannot_place(
    tmp_path: Path, talosconfig: Path
) -> None:
    runner = FakeRunner(replies={"get members": (1, "", UNREACHABLE)})
    found, missing = locate(cluster(tmp_path, CP1, CP2, W5, W6), [CP1, W5, W6],
                            adapter(talosconfig, runner))
    assert found == [Target(CP1, "192.168.0.201")]
    assert [m.node.name for m in missing] == ["worker-05", "worker-06"]
    assert missing[1].reason.startswith(
        "worker-06 has no IP in cluster.yaml and no control plane answered for the members")
    assert asked(runner) == ["192.168.0.201", "192.168.0.202"]
