"""Bootstrap, kubeconfig, reboot and reset: the operations against a fake talosctl."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from talos.cluster import Cluster, Node, load_cluster_file
from talos.errors import CommandError, TalosError
from talos.nodeops import (
    bootstrap,
    check_wipe,
    describe_reset,
    reboot_in_turn,
    reset,
    write_kubeconfig,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return load_cluster_file(REPO / "cluster.yaml")


@dataclass(frozen=True)
class Target:
    node: Node
    address: str


def target(cluster: Cluster, name: str) -> Target:
    node = cluster.node(name)
    return Target(node, node.ip or "192.168.0.205")


@dataclass
class FakeTalosctl:
    bootstrapped: bool = False
    fail_reboot: set[str] = field(default_factory=set)
    calls: list[tuple[object, ...]] = field(default_factory=list)

    def bootstrap(self, node: str) -> bool:
        self.calls.append(("bootstrap", node))
        done, self.bootstrapped = self.bootstrapped, True
        return not done

    def kubeconfig(self, node: str, path: Path) -> None:
        self.calls.append(("kubeconfig", node, path))

    def reboot(self, node: str, *, wait: bool = True, timeout: str | None = None) -> None:
        self.calls.append(("reboot", node, wait, timeout))
        if node in self.fail_reboot:
            raise CommandError(f"talosctl reboot failed on {node}", exit_code=1)

    def reset(self, node: str, *, wipe: Sequence[str] = ("EPHEMERAL", "META"),
              graceful: bool = False, reboot: bool = True) -> None:
        self.calls.append(("reset", node, tuple(wipe), graceful, reboot))


def test_bootstrap_twice_is_a_success_the_second_time_saying_so(cluster: Cluster) -> None:
    fake = FakeTalosctl()
    first = target(cluster, "worker-01")
    assert bootstrap(first, fake) == "worker-01 (192.168.0.201): bootstrapped etcd"
    assert bootstrap(first, fake) == (
        "worker-01 (192.168.0.201): already bootstrapped; nothing to do"
    )


def test_bootstrap_refuses_a_worker(cluster: Cluster) -> None:
    fake = FakeTalosctl()
    with pytest.raises(TalosError, match=r"worker-04 .* is a worker"):
        bootstrap(target(cluster, "worker-04"), fake)
    assert fake.calls == []


def test_the_kubeconfig_is_fetched_from_the_node_into_the_path(
    cluster: Cluster, tmp_path: Path
) -> None:
    fake = FakeTalosctl()
    said = write_kubeconfig(target(cluster, "worker-02"), fake, tmp_path / "kubeconfig")
    assert fake.calls == [("kubeconfig", "192.168.0.202", tmp_path / "kubeconfig")]
    assert said.endswith(f"written to {tmp_path / 'kubeconfig'}")


def test_reboot_goes_one_node_at_a_time_control_planes_first_waiting_for_each(
    cluster: Cluster,
) -> None:
    fake = FakeTalosctl()
    targets = [target(cluster, n) for n in ("worker-04", "worker-02", "worker-01")]
    rollout = reboot_in_turn(targets, fake, timeout="10m")
    assert rollout.ok
    assert fake.calls == [
        ("reboot", "192.168.0.202", True, "10m"),
        ("reboot", "192.168.0.201", True, "10m"),
        ("reboot", "192.168.0.204", True, "10m"),
    ]


def test_a_node_that_does_not_come_back_stops_the_reboots(cluster: Cluster) -> None:
    fake = FakeTalosctl(fail_reboot={"192.168.0.202"})
    targets = [target(cluster, n) for n in ("worker-01", "worker-02", "worker-03")]
    rollout = reboot_in_turn(targets, fake)
    assert [call[1] for call in fake.calls] == ["192.168.0.201", "192.168.0.202"]
    assert [t.node.name for t in rollout.not_attempted] == ["worker-03"]


def test_reset_wipes_ephemeral_and_meta_by_default(cluster: Cluster) -> None:
    fake = FakeTalosctl()
    labels = check_wipe([])
    reset(target(cluster, "worker-03"), fake, wipe=labels, graceful=False, reboot=True)
    assert fake.calls == [("reset", "192.168.0.203", ("EPHEMERAL", "META"), False, True)]


def test_wipe_labels_are_checked_and_upper_cased() -> None:
    assert check_wipe(["state", "STATE", "ephemeral"]) == ("STATE", "EPHEMERAL")
    with pytest.raises(TalosError, match="--wipe BOOT: not a system volume label"):
        check_wipe(["BOOT"])


def test_the_reset_description_says_what_is_wiped_and_what_follows(cluster: Cluster) -> None:
    text = describe_reset(target(cluster, "worker-03"), wipe=("EPHEMERAL", "META"),
                          graceful=False, reboot=False)
    assert text == ("reset worker-03 (192.168.0.203): wipe EPHEMERAL, META without draining "
                    "(not graceful), then power off")
