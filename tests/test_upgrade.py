"""Planning and rolling out upgrades, with a fake talosctl client (no programs run)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from talos.adapters.talosctl import Answers
from talos.core.cluster import Cluster, Node, load_cluster_file
from talos.core.schematic import VANILLA_ID, parse_installer_image
from talos.errors import CommandError, TalosError, ToolMissingError, UsageError
from talos.ops.upgrade import (
    CHECKING_ETCD,
    CURRENT,
    DONE,
    FAILED,
    POLL_MOST,
    STARTING,
    UNREACHABLE,
    UPGRADE,
    Event,
    Observed,
    Plan,
    RolloutOptions,
    Wanted,
    failure_message,
    format_seconds,
    health_expectations,
    observe,
    parse_duration,
    plan_upgrade,
    rollout,
    wanted_state,
)
from talos.ops.upgrade.statuses import SharedStatuses

REPO = Path(__file__).resolve().parents[1]
OLD = "v1.12.3"
NEW = "v1.12.4"
SID_A = "a" * 64
SID_B = "b" * 64


@pytest.fixture(scope="module")
def pitower() -> Cluster:
    return load_cluster_file(REPO / "cluster.yaml")


def wanted(name: str, role: str = "worker", *, address: str | None = "",
           version: str = NEW, sid: str = SID_A) -> Wanted:
    node = Node(name=name, role=role, ip=None, schematic="s")
    addr = f"10.0.0.{abs(hash(name)) % 250 + 1}" if address == "" else address
    return Wanted(node=node, address=addr or None, talos_version=version, schematic_id=sid,
                  image=f"factory.talos.dev/installer/{sid}:{version}")


@dataclass
class Machine:
    version: str = OLD
    schematic: str | None = SID_A
    reachable: bool = True
    seconds: float = 0.0
    fail: str | None = None
    gate: threading.Event | None = None
    not_ready_polls: int = 0
    silent_polls: int = 0
    status_calls: int = 0


T = TypeVar("T")


@dataclass
class FakeClient:
    """Nodes by address; records every call with its start and end time."""

    machines: dict[str, Machine]
    calls: list[tuple[str, str]] = field(default_factory=list)
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    running: int = 0
    most_running: int = 0
    health_lists: list[tuple[list[str], list[str]]] = field(default_factory=list)
    status_batches: list[list[str]] = field(default_factory=list)  # nodes of each call
    lock: threading.Lock = field(default_factory=threading.Lock)

    def server_version(self, node: str) -> str:
        machine = self.answer("version", node)
        return machine.version

    def installed_schematic(self, node: str) -> str | None:
        return self.answer("schematic", node).schematic

    def server_versions(self, nodes: Sequence[str]) -> Answers[str]:
        return self.many(self.server_version, nodes)

    def installed_schematics(self, nodes: Sequence[str]) -> Answers[str | None]:
        return self.many(self.installed_schematic, nodes)

    def machine_statuses(self, nodes: Sequence[str]) -> Answers[Status]:
        with self.lock:
            self.status_batches.append(list(nodes))
        return self.many(self.machine_status, nodes)

    def many(self, ask: Callable[[str], T], nodes: Sequence[str]) -> Answers[T]:
        """One call for many nodes, as talosctl answers it: per-node answers and errors."""
        answered: dict[str, T] = {}
        failed: dict[str, str] = {}
        for node in nodes:
            try:
                answered[node] = ask(node)
            except ToolMissingError:
                raise
            except CommandError as exc:
                failed[node] = str(exc)
        return Answers(answered, failed)

    def upgrade(self, node: str, image: str, *, stage: bool = False, force: bool = False,
                preserve: bool = False, wait: bool = True, timeout: str | None = None) -> None:
        machine = self.answer("upgrade", node)
        start = time.monotonic()
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            if machine.gate is not None:
                assert machine.gate.wait(10)
            time.sleep(machine.seconds)
            if machine.fail:
                raise CommandError(f"talosctl upgrade on {node} failed: {machine.fail}",
                                   command=["talosctl"], exit_code=1,
                                   stderr=f'"{node}": {machine.fail}\n')
            parsed = parse_installer_image(image)
            assert parsed is not None
            machine.version, machine.schematic = parsed.version, parsed.schematic_id
        finally:
            with self.lock:
                self.running -= 1
                self.spans[node] = (start, time.monotonic())

    def machine_status(self, node: str) -> Status:
        machine = self.answer("status", node)
        machine.status_calls += 1
        if machine.status_calls <= machine.silent_polls:
            raise CommandError(f"talosctl get machinestatus on {node} failed: node is "
                               "unreachable: connection refused")
        if machine.status_calls <= machine.not_ready_polls:
            return Status("booting", False)
        return Status("running", True)

    def health(self, node: str, *, control_planes: Sequence[str], workers: Sequence[str],
               timeout: str = "5m") -> str:
        self.answer("health", node)
        self.health_lists.append((list(control_planes), list(workers)))
        return "ok"

    def answer(self, what: str, node: str) -> Machine:
        with self.lock:
            self.calls.append((what, node))
        machine = self.machines[node]
        if not machine.reachable:
            raise CommandError(f"talosctl {what} on {node} failed: node is unreachable: "
                           f"dial tcp {node}:50000: connect: no route to host",
                           stderr=f"rpc error: dial tcp {node}:50000: connect: no route\n")
        return machine


@dataclass(frozen=True)
class Status:
    stage: str
    ready: bool


def cluster_of(cps: int, workers: int, **machine: object) -> tuple[list[Wanted], FakeClient]:
    items = [wanted(f"cp-{i}", "controlplane", address=f"10.0.1.{i}") for i in range(cps)]
    items += [wanted(f"w-{i}", address=f"10.0.2.{i}") for i in range(workers)]
    client = FakeClient({w.address or "": Machine(**machine) for w in items})  # type: ignore[arg-type]
    return items, client


def plan_of(items: list[Wanted], client: FakeClient) -> Plan:
    return plan_upgrade(items, observe(client, items))


def roll(items: list[Wanted], client: FakeClient, **options: object) -> tuple[Plan, list[Event]]:
    plan = plan_of(items, client)
    events: list[Event] = []
    report = rollout(plan, client,
                     control_planes=[w.address or "" for w in items if w.node.is_controlplane],
                     workers=[w.address or "" for w in items if not w.node.is_controlplane],
                     options=RolloutOptions(poll_interval=0.001, **options),  # type: ignore[arg-type]
                     progress=events.append)
    roll.report = report  # type: ignore[attr-defined]
    return plan, events


# -- planning ------------------------------------------------------------------------------


def test_a_node_at_its_version_and_schematic_plans_as_current() -> None:
    item = wanted("w-1")
    plan = plan_upgrade([item], {"w-1": Observed(talos_version=NEW, schematic_id=SID_A)})
    assert [s.action for s in plan.steps] == [CURRENT]
    assert plan.upgrades == ()


def test_a_different_version_or_schematic_plans_an_upgrade_and_says_why() -> None:
    items = [wanted("w-1"), wanted("w-2"), wanted("w-3")]
    plan = plan_upgrade(items, {
        "w-1": Observed(talos_version=OLD, schematic_id=SID_A),
        "w-2": Observed(talos_version=NEW, schematic_id=SID_B),
        "w-3": Observed(talos_version=OLD, schematic_id=SID_B),
    })
    assert [s.action for s in plan.steps] == [UPGRADE] * 3
    assert plan.steps[0].reason == f"Talos {OLD} -> {NEW}"
    assert plan.steps[1].reason.startswith("schematic bbbbbbbbbbbb… -> aaaaaaaaaaaa…")
    assert "Talos" in plan.steps[2].reason and "schematic" in plan.steps[2].reason


def test_no_schematic_entry_means_the_vanilla_schematic() -> None:
    item = wanted("w-1", sid=VANILLA_ID)
    plan = plan_upgrade([item], {"w-1": Observed(talos_version=NEW, schematic_id=None)})
    assert plan.steps[0].action == CURRENT


def test_a_node_that_does_not_answer_or_was_not_found_plans_as_unreachable() -> None:
    items = [wanted("w-1"), wanted("w-2", address=None)]
    plan = plan_upgrade(items, {"w-1": Observed(reachable=False, error="connection refused")})
    assert [(s.name, s.action, s.reason) for s in plan.steps] == [
        ("w-1", UNREACHABLE, "connection refused"),
        ("w-2", UNREACHABLE, "not found among the cluster's members"),
    ]


def test_control_planes_come_first_in_the_plan_in_their_order() -> None:
    items = [wanted("w-1"), wanted("cp-2", "controlplane"), wanted("w-0"),
             wanted("cp-1", "controlplane")]
    old = Observed(talos_version=OLD, schematic_id=SID_A)
    plan = plan_upgrade(items, {w.name: old for w in items})
    assert [s.name for s in plan.steps] == ["cp-2", "cp-1", "w-1", "w-0"]


def test_each_pitower_node_wants_the_image_of_its_own_schematic(pitower: Cluster) -> None:
    addresses = {n.name: n.ip for n in pitower.nodes if n.ip}
    items = {w.name: w for w in wanted_state(pitower, pitower.nodes, addresses)}
    amd, intel, pi = (items["worker-01"].image, items["worker-04"].image,
                      items["worker-pi-01"].image)
    assert len({amd, intel, pi}) == 3
    assert {items[f"worker-0{i}"].image for i in (1, 2, 3)} == {amd}
    assert {items[f"worker-pi-0{i}"].image for i in (1, 2, 3)} == {pi}
    for item in items.values():
        assert item.image == (f"factory.talos.dev/installer/{item.schematic_id}:v1.12.4")
    assert items["worker-05"].address is None  # found at run time


def test_health_expects_every_located_control_plane_and_the_workers_that_answered() -> None:
    items = [wanted("cp-1", "controlplane", address="10.0.1.1"),
             wanted("cp-2", "controlplane", address="10.0.1.2"),
             wanted("cp-3", "controlplane", address=None),
             wanted("w-1", address="10.0.2.1"), wanted("w-2", address="10.0.2.2"),
             wanted("w-3", address=None)]
    seen = {"cp-1": Observed(talos_version=NEW), "cp-2": Observed(reachable=False),
            "w-1": Observed(talos_version=OLD), "w-2": Observed(reachable=False)}
    assert health_expectations(items, seen) == (["10.0.1.1", "10.0.1.2"], ["10.0.2.1"])


def test_observe_marks_a_silent_node_unreachable_with_talosctls_message() -> None:
    items, client = cluster_of(0, 2)
    client.machines[items[1].address or ""].reachable = False
    seen = observe(client, items)
    assert seen[items[0].name] == Observed(talos_version=OLD, schematic_id=SID_A)
    assert not seen[items[1].name].reachable
    assert "no route" in seen[items[1].name].error


def test_observe_does_not_hide_a_missing_talosctl() -> None:
    class Missing(FakeClient):
        def server_version(self, node: str) -> str:
            raise ToolMissingError("talosctl is not installed")

    items, client = cluster_of(1, 0)
    with pytest.raises(ToolMissingError):
        observe(Missing(client.machines), items)


# -- rolling out ---------------------------------------------------------------------------


def test_control_planes_go_one_at_a_time_each_ready_and_etcd_healthy_before_the_next() -> None:
    items, client = cluster_of(3, 0, seconds=0.02)
    roll(items, client)
    upgrades = [node for what, node in client.calls if what == "upgrade"]
    assert upgrades == ["10.0.1.0", "10.0.1.1", "10.0.1.2"]
    order = [(what, node) for what, node in client.calls if what != "version"
             and what != "schematic"]
    for first, second in itertools.pairwise(upgrades):
        before_next = order[: order.index(("upgrade", second))]
        assert ("status", first) in before_next and ("health", first) in before_next
    assert client.health_lists == [(upgrades, [])] * 3
    spans = sorted(client.spans.values())
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    assert client.most_running == 1


@pytest.mark.parametrize("parallel", [1, 2, 3])
def test_workers_never_exceed_the_parallel_limit(parallel: int) -> None:
    items, client = cluster_of(1, 7, seconds=0.03)
    roll(items, client, parallel=parallel)
    assert client.most_running == parallel
    assert sorted(roll.report.upgraded) == sorted(w.name for w in items)  # type: ignore[attr-defined]


def test_workers_wait_for_the_control_planes_to_finish() -> None:
    items, client = cluster_of(2, 3, seconds=0.02)
    roll(items, client, parallel=3)
    last_cp_end = max(client.spans[f"10.0.1.{i}"][1] for i in range(2))
    assert all(client.spans[f"10.0.2.{i}"][0] >= last_cp_end for i in range(3))


def test_a_freed_slot_takes_the_next_worker_at_once_not_after_the_batch() -> None:
    items, client = cluster_of(0, 3)
    slow, quick = threading.Event(), threading.Event()
    client.machines["10.0.2.0"].gate = slow
    client.machines["10.0.2.1"].gate = quick
    plan = plan_of(items, client)
    done = threading.Thread(target=rollout, args=(plan, client),
                            kwargs={"control_planes": [],
                                    "options": RolloutOptions(parallel=2, poll_interval=0.001)})
    done.start()
    quick.set()
    deadline = time.monotonic() + 5
    while "10.0.2.2" not in client.spans and time.monotonic() < deadline:
        time.sleep(0.005)
    assert "10.0.2.2" in client.spans, "the third worker waited for the slow one"
    assert "10.0.2.0" not in client.spans  # the slow one is still upgrading
    slow.set()
    done.join(5)
    assert not done.is_alive()


def test_a_failed_control_plane_stops_the_rollout_before_any_other_node() -> None:
    items, client = cluster_of(3, 2, seconds=0.01)
    client.machines["10.0.1.1"].fail = "error validating etcd for upgrade: etcd member down"
    roll(items, client, parallel=2)
    report = roll.report  # type: ignore[attr-defined]
    assert report.upgraded == ["cp-0"]
    assert list(report.failed) == ["cp-1"]
    assert "error validating etcd for upgrade" in report.failed["cp-1"]
    assert report.not_touched == ["cp-2", "w-0", "w-1"]
    upgrades = {node for what, node in client.calls if what == "upgrade"}
    assert upgrades == {"10.0.1.0", "10.0.1.1"}
    assert not report.ok


def test_a_failed_worker_lets_running_ones_finish_and_starts_no_new_one() -> None:
    items, client = cluster_of(0, 5)
    client.machines["10.0.2.0"].fail = "failed to pull installer image"
    client.machines["10.0.2.0"].seconds = 0.02
    client.machines["10.0.2.1"].seconds = 0.2  # still running when w-0 fails
    roll(items, client, parallel=2)
    report = roll.report  # type: ignore[attr-defined]
    assert report.failed == {"w-0": "talosctl upgrade on 10.0.2.0 failed: "
                                    "failed to pull installer image"}
    assert report.upgraded == ["w-1"]
    assert report.not_touched == ["w-2", "w-3", "w-4"]


def test_running_again_after_a_failure_resumes_with_the_nodes_not_yet_upgraded() -> None:
    items, client = cluster_of(2, 3)
    client.machines["10.0.2.1"].fail = "disk full"
    roll(items, client)
    assert roll.report.upgraded == ["cp-0", "cp-1", "w-0"]  # type: ignore[attr-defined]
    client.machines["10.0.2.1"].fail = None
    client.calls.clear()
    plan, _ = roll(items, client)
    assert [s.name for s in plan.current] == ["cp-0", "cp-1", "w-0"]
    assert [s.name for s in plan.upgrades] == ["w-1", "w-2"]
    assert roll.report.upgraded == ["w-1", "w-2"]  # type: ignore[attr-defined]
    assert {node for what, node in client.calls if what == "upgrade"} == {"10.0.2.1", "10.0.2.2"}
    assert plan_of(items, client).upgrades == ()


def test_unreachable_and_current_nodes_are_not_touched_and_reported() -> None:
    items, client = cluster_of(1, 2)
    client.machines["10.0.2.0"].reachable = False
    client.machines["10.0.1.0"].version = NEW
    roll(items, client)
    report = roll.report  # type: ignore[attr-defined]
    assert report.current == ["cp-0"]
    assert list(report.unreachable) == ["w-0"]
    assert report.upgraded == ["w-1"]
    assert not report.ok


@pytest.mark.parametrize(("controlplanes", "silent", "booting"), [(1, 0, 3), (0, 2, 3)],
                         ids=["control plane booting", "worker silent then booting"])
def test_the_rollout_polls_until_the_node_is_running_and_ready(
    controlplanes: int, silent: int, booting: int
) -> None:
    """A node that is still booting, or that does not answer yet while it reboots, is
    asked again until it is running and ready."""
    items, client = cluster_of(controlplanes, 1 - controlplanes)
    machine = client.machines[items[0].address or ""]
    machine.silent_polls, machine.not_ready_polls = silent, booting
    roll(items, client)
    assert roll.report.upgraded == [items[0].name]  # type: ignore[attr-defined]
    assert machine.status_calls == 4


def test_a_node_that_does_not_come_back_in_time_fails_with_its_last_state() -> None:
    items, client = cluster_of(0, 1)
    client.machines["10.0.2.0"].not_ready_polls = 10**6
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    report = rollout(plan_of(items, client), client, control_planes=[],
                     options=RolloutOptions(timeout="1m", poll_interval=5),
                     clock=lambda: now[0], sleep=sleep)
    assert "not running and ready after 1m00s" in report.failed["w-0"]
    assert "stage booting" in report.failed["w-0"]
    assert client.machines["10.0.2.0"].status_calls == 13


def test_progress_names_node_phase_and_elapsed_time() -> None:
    items, client = cluster_of(1, 1, seconds=0.01)
    client.machines["10.0.2.0"].fail = "boom"
    _, events = roll(items, client)
    phases = [(e.node, e.phase) for e in events]
    assert phases[:4] == [("cp-0", STARTING), ("cp-0", "waiting until running and ready"),
                          ("cp-0", CHECKING_ETCD), ("cp-0", DONE)]
    assert phases[-1] == ("w-0", FAILED)
    assert events[0].detail == items[0].image
    elapsed = [e.elapsed for e in events]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= 0.02


def test_a_bug_in_the_client_stops_the_rollout_and_keeps_its_traceback() -> None:
    class Broken(FakeClient):
        def health(self, node: str, *, control_planes: Sequence[str], workers: Sequence[str],
                   timeout: str = "5m") -> str:
            raise KeyError("bug")

    items, client = cluster_of(2, 0)
    broken = Broken(client.machines)
    with pytest.raises(KeyError):
        rollout(plan_of(items, broken), broken, control_planes=[],
                options=RolloutOptions(poll_interval=0.001))
    assert [n for what, n in broken.calls if what == "upgrade"] == ["10.0.1.0"]


def test_parallel_must_be_positive_and_timeout_a_duration() -> None:
    with pytest.raises(UsageError, match="--parallel must be 1 or more"):
        RolloutOptions(parallel=0)
    with pytest.raises(UsageError, match="not a duration"):
        RolloutOptions(timeout="ten minutes")


# -- small helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("1h30m", 5400), ("90s", 90), ("1.5s", 1.5), ("250ms", 0.25), ("2h", 7200),
])
def test_go_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "5 m", "1d"])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(TalosError):
        parse_duration(text)


@pytest.mark.parametrize(("text", "seconds"), [
    ("1500us", 0.0015), ("+5m", 300), (".5s", 0.5), ("1m30.5s", 90.5),
])
def test_the_timeout_follows_gos_duration_rules_as_talosctl_does(
    text: str, seconds: float
) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["0", "0s", "-5m", " 5m", "5m "])
def test_a_timeout_that_go_refuses_or_that_is_not_positive_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="not a duration"):
        parse_duration(text)


def test_elapsed_time_reads_naturally() -> None:
    assert [format_seconds(s) for s in (3.21, 42, 185, 3725)] == ["3.2s", "42s", "3m05s", "1h02m"]


def test_a_failure_is_told_on_one_line() -> None:
    exc = CommandError("talosctl upgrade on 10.0.2.0 failed: image not found\n  at line 2",
                       stderr="progress\nerror: image not found\n", hint="check the image")
    assert failure_message(exc) == ("talosctl upgrade on 10.0.2.0 failed: image not found at "
                                    "line 2 (check the image)")


def test_a_workers_readiness_check_does_not_hold_its_slot() -> None:
    """--parallel 1: the next worker's upgrade starts while the previous one is still
    being checked, as a plain loop of `talosctl upgrade --wait` would go on."""
    items, client = cluster_of(0, 2)
    first = client.machines["10.0.2.0"]
    first.not_ready_polls = 3  # the first worker takes a few polls to be ready
    release = threading.Event()
    client.machines["10.0.2.1"].gate = release

    seen: list[str] = []

    def watch(event: Event) -> None:
        seen.append(f"{event.node}:{event.phase}")
        if event.node == "w-1" and event.phase == STARTING:
            # the second upgrade began: the first must still be waiting for readiness
            assert "w-0:upgraded" not in seen
            release.set()

    plan = plan_of(items, client)
    report = rollout(plan, client, control_planes=[], workers=["10.0.2.0", "10.0.2.1"],
                     options=RolloutOptions(parallel=1, poll_interval=0.05), progress=watch)
    assert report.upgraded == ["w-0", "w-1"] and report.ok
    assert first.status_calls == 4


def test_a_worker_that_is_not_ready_in_time_stops_the_rollout() -> None:
    items, client = cluster_of(0, 3)
    client.machines["10.0.2.0"].not_ready_polls = 10_000
    client.machines["10.0.2.1"].seconds = 1.0  # still upgrading when w-0's check fails
    plan = plan_of(items, client)
    report = rollout(plan, client, control_planes=[], workers=[],
                     options=RolloutOptions(parallel=1, timeout="200ms", poll_interval=0.01))
    assert list(report.failed) == ["w-0"]
    assert "not running and ready" in report.failed["w-0"]
    assert report.upgraded == ["w-1"]  # the one under way finished
    assert report.not_touched == ["w-2"]  # no new node after the failure was seen


def test_a_silent_node_is_asked_at_once_then_less_often_until_it_answers() -> None:
    """Polling starts as soon as the upgrade returns; the pause doubles only while the
    node does not answer, and is the interval again once it answers (booting)."""
    items, client = cluster_of(0, 1)
    machine = client.machines["10.0.2.0"]
    machine.silent_polls, machine.not_ready_polls = 6, 8
    now = [0.0]
    pauses: list[float] = []
    asked_at: list[float] = []
    machine_status = client.machine_status

    def timed(node: str) -> Status:
        asked_at.append(now[0])
        return machine_status(node)

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    client.machine_status = timed  # type: ignore[method-assign]
    report = rollout(plan_of(items, client), client, control_planes=[],
                     options=RolloutOptions(poll_interval=2), clock=lambda: now[0],
                     sleep=sleep)
    assert report.upgraded == ["w-0"]
    assert asked_at[0] == 0.0  # no pause before the first question
    assert pauses == [2, 4, 8, min(16, POLL_MOST), POLL_MOST, POLL_MOST, 2, 2]
    assert machine.status_calls == 9


class Gated(FakeClient):
    """Its first machine-status call waits until ``release`` is set."""

    def __init__(self, machines: dict[str, Machine], *, fail: TalosError | None = None) -> None:
        super().__init__(machines)
        self.entered, self.release = threading.Event(), threading.Event()
        self.fail = fail

    def machine_statuses(self, nodes: Sequence[str]) -> Answers[Status]:
        first = not self.status_batches
        answers = super().machine_statuses(nodes)
        if first:
            self.entered.set()
            assert self.release.wait(10)
        if self.fail is not None:
            raise self.fail
        return answers


def ask_while_the_first_call_runs(client: Gated, nodes: list[str]) -> dict[str, object]:
    """Ask ``nodes[0]`` (its call waits), then the others meanwhile; each node's answer
    or error once the first call is released."""
    shared = SharedStatuses(client, hold_at_most=60)  # type: ignore[arg-type]
    outcome: dict[str, object] = {}

    def ask(node: str) -> None:
        try:
            outcome[node] = shared.machine_status(node)
        except TalosError as exc:
            outcome[node] = exc

    threads = [threading.Thread(target=ask, args=(node,)) for node in nodes]
    threads[0].start()
    assert client.entered.wait(10)
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: shared.waiting == len(nodes) - 1)
    client.release.set()
    for thread in threads:
        thread.join(10)
    return outcome


def test_readiness_checks_asked_while_a_call_runs_share_the_next_call() -> None:
    _, client = cluster_of(0, 4)
    gated = Gated(client.machines)
    nodes = [f"10.0.2.{i}" for i in range(4)]
    outcome = ask_while_the_first_call_runs(gated, nodes)
    assert [sorted(batch) for batch in gated.status_batches] == [nodes[:1], nodes[1:]]
    assert outcome == {node: Status("running", True) for node in nodes}


def test_a_shared_call_that_fails_as_a_whole_fails_every_question_in_it() -> None:
    _, client = cluster_of(0, 3)
    gated = Gated(client.machines, fail=ToolMissingError("talosctl is not installed"))
    outcome = ask_while_the_first_call_runs(gated, [f"10.0.2.{i}" for i in range(3)])
    assert len(gated.status_batches) == 2
    assert all(isinstance(answer, ToolMissingError) for answer in outcome.values())
    # The thread that made a call raises its error; the one that waited for the second
    # call raises its own copy (its own traceback), caused by the call's.
    copies = [answer for answer in outcome.values() if answer is not gated.fail]
    assert len(copies) == 1
    assert isinstance(copies[0], ToolMissingError) and copies[0].__cause__ is gated.fail


def ask_beside_a_held_call(shared: SharedStatuses, gated: Gated, node: str) -> object:
    """Ask ``node`` while another thread's call for 10.0.2.0 is held; its answer."""
    held = threading.Thread(target=shared.machine_status, args=("10.0.2.0",))
    held.start()
    assert gated.entered.wait(10)
    try:
        return shared.machine_status(node)
    finally:
        gated.release.set()
        held.join(10)


def test_a_call_held_by_a_node_that_does_not_answer_holds_the_others_briefly_only() -> None:
    _, client = cluster_of(0, 2)
    gated = Gated(client.machines)
    shared = SharedStatuses(gated, hold_at_most=0.05)  # type: ignore[arg-type]
    # the first call is still under way: this question starts its own
    assert ask_beside_a_held_call(shared, gated, "10.0.2.1") == Status("running", True)
    assert gated.status_batches == [["10.0.2.0"], ["10.0.2.1"]]


def test_a_node_the_last_call_did_not_hear_from_is_asked_alone_beside_a_shared_call() -> None:
    _, client = cluster_of(0, 2)
    client.machines["10.0.2.1"].silent_polls = 1
    plain = FakeClient(client.machines)
    shared = SharedStatuses(plain, hold_at_most=60)  # type: ignore[arg-type]
    with pytest.raises(CommandError, match="unreachable"):
        shared.machine_status("10.0.2.1")
    gated = Gated(client.machines)
    shared.client = gated
    # not queued behind the call under way, though it could wait a minute for it
    assert ask_beside_a_held_call(shared, gated, "10.0.2.1") == Status("running", True)
    assert gated.status_batches == [["10.0.2.0"], ["10.0.2.1"]]


def test_a_node_a_shared_call_did_not_hear_from_is_asked_again_alone() -> None:
    """One silent node does not fail the others of its call, and is polled again."""
    _, client = cluster_of(0, 3)
    client.machines["10.0.2.1"].silent_polls = 1
    gated = Gated(client.machines)
    outcome = ask_while_the_first_call_runs(gated, ["10.0.2.2", "10.0.2.0", "10.0.2.1"])
    assert outcome["10.0.2.0"] == Status("running", True)
    assert isinstance(outcome["10.0.2.1"], CommandError)
    assert "10.0.2.1 failed: node is unreachable" in str(outcome["10.0.2.1"])
    again = SharedStatuses(gated)  # type: ignore[arg-type]
    assert again.machine_status("10.0.2.1") == Status("running", True)


def test_workers_upgraded_together_are_checked_in_fewer_calls_than_nodes() -> None:
    items, client = cluster_of(0, 6)
    together = threading.Barrier(6)
    slow_calls = FakeClient.machine_statuses

    class Slow(FakeClient):
        def upgrade(self, node: str, image: str, **options: object) -> None:
            together.wait(10)  # all six finish their upgrades at the same moment
            super().upgrade(node, image, **options)  # type: ignore[arg-type]

        def machine_statuses(self, nodes: Sequence[str]) -> Answers[Status]:
            time.sleep(0.1)  # a talosctl call takes a while: others queue meanwhile
            return slow_calls(self, nodes)

    slow = Slow(client.machines)
    report = rollout(plan_of(items, slow), slow, control_planes=[],
                     options=RolloutOptions(parallel=6, poll_interval=0.001))
    assert sorted(report.upgraded) == [f"w-{i}" for i in range(6)]
    checked = [node for batch in slow.status_batches for node in batch]
    assert sorted(checked) == [f"10.0.2.{i}" for i in range(6)]  # each once
    assert len(slow.status_batches) < 6


def test_a_node_left_mid_upgrade_by_ctrl_c_that_came_back_new_counts_as_upgraded() -> None:
    class Interrupted(FakeClient):
        def upgrade(self, node: str, image: str, **options: object) -> None:
            super().upgrade(node, image, **options)  # type: ignore[arg-type]
            raise KeyboardInterrupt  # Ctrl-C as talosctl returned: the node went on

    items, client = cluster_of(2, 2)
    interrupted = Interrupted(client.machines)
    plan = plan_of(items, interrupted)
    interrupted.calls.clear()
    report = rollout(plan, interrupted, control_planes=["10.0.1.0", "10.0.1.1"],
                     options=RolloutOptions(poll_interval=0.001))
    assert isinstance(report.interrupted, KeyboardInterrupt)
    assert report.upgraded == ["cp-0"] and report.in_flight == []
    assert report.not_touched == ["cp-1", "w-0", "w-1"]
    assert [what for what, _ in interrupted.calls] == ["upgrade", "status", "version",
                                                       "schematic"]


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.001)
