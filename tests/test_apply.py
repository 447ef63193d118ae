"""Apply and diff: the plan from targets (pure), and the one-at-a-time run against a fake."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from talos.core.cluster import Cluster, Node, load_cluster_file
from talos.core.readiness import Polling
from talos.errors import CommandError, NotReady, RolloutError, TalosError, UsageError
from talos.ops.apply import (
    ApplyStep,
    plan_apply,
    rollout_error,
    rollout_rows,
    run_apply,
    run_diff,
    run_in_turn,
    step_name,
)
from talos.ops.targets import Target

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return load_cluster_file(REPO / "cluster.yaml")


@dataclass(frozen=True)
class Result:
    node: str
    changed: bool = True
    reboot: bool = False
    diff: str = ""
    message: str = "Applied configuration without a reboot"


@dataclass(frozen=True)
class Status:
    stage: str
    ready: bool


@dataclass
class FakeTalosctl:
    """Records apply-config calls; ``fail`` nodes raise as talosctl's exit 1 would.

    ``statuses``: what each node answers to machine_status, one answer per call (None:
    no answer, as while it reboots); the last answer repeats.
    """

    fail: dict[str, str] = field(default_factory=dict)
    results: dict[str, Result] = field(default_factory=dict)
    unchanged: set[str] = field(default_factory=set)
    statuses: dict[str, list[Status | None]] = field(default_factory=dict)
    calls: list[tuple[str, Path, str, bool, bool]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def apply_config(
        self, node: str, config: Path, *, mode: str = "auto", insecure: bool = False,
        dry_run: bool = False,
    ) -> Result:
        self.calls.append((node, config, mode, insecure, dry_run))
        self.events.append(f"apply {node}")
        if node in self.fail:
            raise CommandError(f"talosctl apply-config failed on {node}: {self.fail[node]}",
                               command=["talosctl", "apply-config"], exit_code=1)
        if dry_run and node in self.unchanged:
            return Result(node, changed=False)
        return self.results.get(node, Result(node))

    def machine_status(self, node: str) -> Status:
        answers = self.statuses.get(node) or [Status("running", True)]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        self.events.append(f"status {node}: {answer}")
        if answer is None:
            raise CommandError(f"talosctl get machinestatus on {node} failed: "
                               "connection refused", exit_code=1)
        return answer


@dataclass
class FakeClock:
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def waiting(self, timeout: float = 60.0) -> Polling:
        return Polling(timeout=timeout, clock=self.clock, sleep=self.sleep)


def targets_of(cluster: Cluster, *names: str) -> list[Target]:
    found = {"worker-05": "192.168.0.205", "worker-06": "192.168.0.206"}
    return [Target(n, n.ip or found[n.name]) for n in cluster.select(names)]


def config_for(node: Node) -> Path:
    return Path("/project/clusterconfig") / f"{node.name}.yaml"


def test_the_plan_puts_control_planes_first_then_workers_in_file_order(
    cluster: Cluster,
) -> None:
    targets = targets_of(cluster, "worker-pi-01", "worker-03", "worker-05", "worker-01")
    steps = plan_apply(targets, config_for=config_for)
    assert [s.name for s in steps] == ["worker-03", "worker-01", "worker-pi-01", "worker-05"]
    assert steps[0].config == Path("/project/clusterconfig/worker-03.yaml")
    assert {(s.mode, s.insecure) for s in steps} == {("auto", False)}


def test_a_step_describes_node_address_file_and_mode(cluster: Cluster) -> None:
    (step,) = plan_apply(targets_of(cluster, "worker-05"), config_for=config_for,
                         mode="reboot", insecure=True)
    assert step.describe(Path("/project")) == (
        "worker-05 (192.168.0.205): clusterconfig/worker-05.yaml, mode reboot, "
        "maintenance mode (--insecure)"
    )


def test_an_unknown_mode_is_refused_before_anything_runs(cluster: Cluster) -> None:
    with pytest.raises(UsageError, match="--mode 'interactive' is not one of auto, no-reboot"):
        plan_apply(targets_of(cluster, "worker-03"), config_for=config_for, mode="interactive")


@pytest.mark.parametrize("mode", ["staged", "no-reboot"])
def test_modes_a_maintenance_mode_node_refuses_are_refused_with_insecure(
    cluster: Cluster, mode: str
) -> None:
    with pytest.raises(TalosError, match="maintenance mode"):
        plan_apply(targets_of(cluster, "worker-03"), config_for=config_for, mode=mode,
                   insecure=True)


def test_apply_runs_every_step_in_order_with_its_file_and_mode(cluster: Cluster) -> None:
    fake = FakeTalosctl()
    steps = plan_apply(targets_of(cluster, "worker-01", "worker-04"), config_for=config_for,
                       mode="staged")
    lines: list[str] = []
    rollout = run_apply(steps, fake, progress=lines.append)
    assert rollout.ok
    assert fake.calls == [
        (address, config_for(cluster.node(name)), "staged", False, dry_run)
        for name, address in (("worker-01", "192.168.0.201"), ("worker-04", "192.168.0.204"))
        for dry_run in (False,)  # the plan's diff already asked: applied straight away
    ]
    assert "worker-04: Applied configuration without a reboot" in lines


@pytest.mark.parametrize(("force", "insecure"), [(True, False), (False, True)])
def test_force_and_first_installs_apply_without_asking_first(
    cluster: Cluster, force: bool, insecure: bool
) -> None:
    fake = FakeTalosctl(unchanged={"192.168.0.201"})
    steps = plan_apply(targets_of(cluster, "worker-01"), config_for=config_for, force=force,
                       insecure=insecure)
    run_apply(steps, fake, waiting=FakeClock().waiting())
    assert [(call[0], call[3], call[4]) for call in fake.calls] == [
        ("192.168.0.201", insecure, False)
    ]
    assert steps[0].describe().endswith(
        "even if unchanged (--force)" if force else "maintenance mode (--insecure)"
    )


def test_a_failure_on_the_second_control_plane_stops_before_the_third(
    cluster: Cluster,
) -> None:
    fake = FakeTalosctl(fail={"192.168.0.202": "connection refused"})
    steps = plan_apply(targets_of(cluster), config_for=config_for)
    rollout = run_apply(steps, fake)
    assert [call[0] for call in fake.calls] == ["192.168.0.201", "192.168.0.202"]
    assert [s.name for s, _ in rollout.done] == ["worker-01"]
    assert rollout.failed is not None and rollout.failed[0].name == "worker-02"
    assert [s.name for s in rollout.not_attempted][:2] == ["worker-03", "worker-04"]
    assert len(rollout.not_attempted) == 7
    rows = rollout_rows(rollout, name=step_name, done_as="applied")
    assert rows[:3] == [["worker-01", "applied"], ["worker-02", "FAILED"],
                        ["worker-03", "not attempted"]]
    message = str(rollout_error(rollout, name=step_name, verb="apply"))
    assert message.startswith("apply stopped at worker-02: talosctl apply-config failed")
    assert "apply done: worker-01; not attempted: worker-03, worker-04," in message
    assert "\n" not in message


def test_a_node_that_reboots_is_waited_for_before_the_next_is_touched(
    cluster: Cluster,
) -> None:
    clock = FakeClock()
    rebooting = Result("192.168.0.201", reboot=True,
                       message="Applied configuration with a reboot")
    fake = FakeTalosctl(
        results={"192.168.0.201": rebooting},
        statuses={"192.168.0.201": [None, None, Status("booting", False),
                                    Status("running", False), Status("running", True)]},
    )
    steps = plan_apply(targets_of(cluster, "worker-01", "worker-02"), config_for=config_for)
    rollout = run_apply(steps, fake, waiting=clock.waiting())
    assert rollout.ok
    assert fake.events[0] == "apply 192.168.0.201"
    assert fake.events[-1] == "apply 192.168.0.202"
    assert len([e for e in fake.events if e.startswith("status 192.168.0.201")]) == 5
    assert not any(e.startswith("status 192.168.0.202") for e in fake.events)
    assert clock.slept == [0.5, 1.0, 0.5, 0.5]  # backing off only while it is silent
    assert rollout.done[0][1] == "Applied configuration with a reboot; back and ready"


def test_a_node_not_back_in_time_fails_and_stops_the_rollout(cluster: Cluster) -> None:
    clock = FakeClock()
    fake = FakeTalosctl(
        results={"192.168.0.202": Result("192.168.0.202", reboot=True)},
        statuses={"192.168.0.202": [Status("booting", False)]},
    )
    steps = plan_apply(targets_of(cluster, "worker-01", "worker-02", "worker-03"),
                       config_for=config_for)
    rollout = run_apply(steps, fake, waiting=clock.waiting(timeout=30))
    assert rollout.failed is not None
    assert str(rollout.failed[1]) == (
        "worker-02 (192.168.0.202) is not back 30s after applying its config "
        "(last: stage booting, not ready); check it (talosctl dmesg), then run apply again"
    )
    assert isinstance(rollout.failed[1], NotReady)
    assert [s.name for s in rollout.not_attempted] == ["worker-03"]
    assert set(clock.slept) == {0.5}  # it answers (booting): asked again at once


def test_a_first_install_is_not_waited_for(cluster: Cluster) -> None:
    fake = FakeTalosctl(results={"192.168.0.201": Result("192.168.0.201", reboot=True)})
    steps = plan_apply(targets_of(cluster, "worker-01"), config_for=config_for, insecure=True)
    assert run_apply(steps, fake, waiting=FakeClock().waiting()).ok
    assert fake.events == ["apply 192.168.0.201"]


def test_ctrl_c_stops_the_run_and_keeps_the_account_with_exit_code_130() -> None:
    def action(item: str) -> str:
        if item == "b":
            raise KeyboardInterrupt
        return "done"

    rollout = run_in_turn(["a", "b", "c"], action, name=str)
    assert [item for item, _ in rollout.done] == ["a"]
    assert rollout.failed is not None and rollout.failed[0] == "b"
    assert rollout.not_attempted == ["c"]
    error = rollout_error(rollout, name=str, verb="reboot")
    assert "interrupted (Ctrl-C)" in str(error)
    assert error.exit_code == 130


def test_a_single_failure_says_only_what_failed() -> None:
    def action(item: str) -> str:
        raise TalosError("node is unreachable")

    rollout = run_in_turn(["worker-02"], action, name=str)
    assert str(rollout_error(rollout, name=str, verb="reboot")) == (
        "reboot stopped at worker-02: node is unreachable; fix worker-02 and run again"
    )


def test_a_rollout_exits_with_the_code_of_the_error_it_stopped_at() -> None:
    refused = UsageError("--wipe NOPE: not a system volume label")

    def action(item: str) -> str:
        if item == "worker-02":
            raise refused
        raise TalosError("node is unreachable")

    error = rollout_error(run_in_turn(["worker-02"], action, name=str), name=str, verb="reset")
    assert isinstance(error, RolloutError) and error.stopped_by is refused
    assert error.exit_code == 2
    error = rollout_error(run_in_turn(["worker-03"], action, name=str), name=str, verb="reset")
    assert isinstance(error, RolloutError) and error.exit_code == 1


def test_run_in_turn_lets_a_bug_propagate() -> None:
    def broken(item: str) -> str:
        raise KeyError(item)

    with pytest.raises(KeyError):
        run_in_turn(["a"], broken, name=str)


def test_diff_compares_every_node_even_after_one_fails(cluster: Cluster) -> None:
    fake = FakeTalosctl(
        fail={"192.168.0.201": "unreachable"},
        results={"192.168.0.202": Result("192.168.0.202", changed=False, diff="No changes.")},
    )
    steps = plan_apply(targets_of(cluster, "worker-01", "worker-02", "worker-03"),
                       config_for=config_for)
    report = run_diff(steps, fake, redact=lambda text: text)
    assert [call[4] for call in fake.calls] == [True, True, True]
    assert report.exit_code == 1
    assert report.rows() == [
        ["worker-01", "192.168.0.201", "ERROR", "-"],
        ["worker-02", "192.168.0.202", "no changes", "-"],
        ["worker-03", "192.168.0.203", "changes", "no"],
    ]
    assert report.summary().startswith("diff failed on 1 of 3 node(s): worker-01: ")


@pytest.mark.parametrize(
    ("changed", "expected"), [((), 0), (("192.168.0.203",), 2)]
)
def test_diff_exit_code_says_whether_anything_would_change(
    cluster: Cluster, changed: tuple[str, ...], expected: int
) -> None:
    addresses = ["192.168.0.201", "192.168.0.202", "192.168.0.203"]
    fake = FakeTalosctl(results={
        a: Result(a, changed=a in changed, reboot=a in changed) for a in addresses
    })
    steps = plan_apply(targets_of(cluster, "worker-01", "worker-02", "worker-03"),
                       config_for=config_for)
    report = run_diff(steps, fake, redact=lambda text: text)
    assert report.exit_code == expected
    if expected == 2:
        assert report.summary() == "1 of 3 node(s) would change: worker-03"
        assert report.rows()[2][2:] == ["changes", "yes"]
    else:
        assert report.summary() == "no changes on 3 node(s)"


def test_diff_redacts_the_diff_the_message_and_errors(cluster: Cluster) -> None:
    secret = "pofHbABZq7VXuObsdLdy"
    fake = FakeTalosctl(
        fail={"192.168.0.201": f"bad value {secret}"},
        results={"192.168.0.202": Result("192.168.0.202", diff=f"+    secret: {secret}",
                                         message=f"note {secret}")},
    )
    steps = plan_apply(targets_of(cluster, "worker-01", "worker-02"), config_for=config_for)
    report = run_diff(steps, fake, redact=lambda text: text.replace(secret, "[redacted]"))
    kept = " ".join(f"{d.diff} {d.message} {d.error}" for d in report.diffs)
    assert secret not in kept
    assert "+    secret: [redacted]" in kept


def test_a_step_is_a_value() -> None:
    node = Node(name="n1", role="worker", ip="10.0.0.1", schematic="s")
    step = ApplyStep(Target(node, "10.0.0.1"), Path("n1.yaml"))
    assert step == ApplyStep(Target(node, "10.0.0.1"), Path("n1.yaml"))
    assert step.describe() == "n1 (10.0.0.1): n1.yaml, mode auto"
