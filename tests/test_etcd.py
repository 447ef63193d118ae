"""Judging etcd's health from facts (pure): what makes it unsafe to touch a control plane."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import Standin, pitower_schematics

from talos.adapters.command import Result, Runner
from talos.adapters.talosctl import (
    Answers,
    EtcdMember,
    EtcdMemberStatus,
    Talosctl,
    parse_etcd_status,
    parse_node_errors,
)
from talos.errors import CommandError, RolloutError
from talos.ops import etcd
from talos.ops.etcd import ControlPlane, judge

CPS = [ControlPlane("cp-1", "cp-1", "10.0.0.1"), ControlPlane("cp-2", "cp-2", "10.0.0.2"),
       ControlPlane("cp-3", "cp-3", "10.0.0.3")]
LEADER = "00000000000000a1"


def status(address: str, member: str, *, leader: str = LEADER, errors: str = "",
           learner: bool = False) -> EtcdMemberStatus:
    return EtcdMemberStatus(address, member, 4_200_000, 3_000_000, leader, 10, 4, learner,
                            "3.6.5", errors)


def member(hostname: str, member_id: str) -> EtcdMember:
    return EtcdMember(member_id, hostname, (), (), False)


def report(statuses: tuple[EtcdMemberStatus, ...], failed: dict[str, str] | None = None
           ) -> Answers[EtcdMemberStatus]:
    """What ``Talosctl.etcd_status`` returns: each answering node's status by address."""
    return Answers({s.node: s for s in statuses}, failed or {})


ANSWERING = (status("10.0.0.1", LEADER), status("10.0.0.2", "00000000000000a2"),
             status("10.0.0.3", "00000000000000a3"))
HEALTHY = report(ANSWERING)
MEMBERS = [member("cp-1", LEADER), member("cp-2", "00000000000000a2"),
           member("cp-3", "00000000000000a3")]


def test_three_answering_members_with_one_leader_are_healthy() -> None:
    health = judge(CPS, HEALTHY, members=MEMBERS)
    assert health.healthy and health.leader == "cp-1"
    assert health.answered == ["cp-1", "cp-2", "cp-3"]


def test_a_control_plane_that_does_not_answer_is_named_with_its_error() -> None:
    sick = report(ANSWERING[:2], {"10.0.0.3": "node is unreachable"})
    health = judge(CPS, sick, members=MEMBERS)
    assert [str(p) for p in health.problems] == [
        "cp-3: etcd does not answer (node is unreachable)"]


def test_errors_learners_and_a_missing_leader_are_each_problems() -> None:
    odd = report((
        status("10.0.0.1", LEADER, errors="alarm:NOSPACE"),
        status("10.0.0.2", "00000000000000a2", learner=True),
        status("10.0.0.3", "00000000000000a3", leader="0000000000000000"),
    ))
    health = judge(CPS, odd, members=MEMBERS)
    assert {p.node for p in health.problems} == {"cp-1", "cp-2", "cp-3"}
    assert "no leader" in (health.problem_of("cp-3") or "")


def test_members_must_be_exactly_the_cluster_files_control_planes() -> None:
    members = [*MEMBERS[:2], member("old-cp", "00000000000000ff")]
    health = judge(CPS, HEALTHY, members=members)
    assert health.problem_of("cp-3") == "is not an etcd member"
    assert "etcd member 00000000000000ff is not a control plane" in (
        health.problem_of("old-cp") or "")


def test_members_that_follow_different_leaders_are_refused() -> None:
    split = report((status("10.0.0.1", LEADER),
                    status("10.0.0.2", "00000000000000a2", leader="00000000000000a2"),
                    status("10.0.0.3", "00000000000000a3")))
    health = judge(CPS, split, members=MEMBERS)
    assert any("different leaders" in str(p) for p in health.problems)
    assert health.leader is None


def test_a_control_plane_that_cannot_be_located_is_a_problem() -> None:
    cps = [*CPS[:2], ControlPlane("cp-3", "cp-3", None, "not found among the members")]
    health = judge(cps, HEALTHY, members=MEMBERS)
    assert health.problem_of("cp-3") == "not found among the members"


STATUS_TEXT = (
    "NODE       MEMBER             DB SIZE   IN USE            LEADER             RAFT INDEX"
    "   RAFT TERM   RAFT APPLIED INDEX   LEARNER   PROTOCOL   STORAGE   ERRORS\n"
    "10.0.0.1   00000000000000a1   4.2 MB    3.0 MB (71.00%)   00000000000000a1   41230     "
    "   4           41230                false     3.6.5      3.6.0     \n"
    "10.0.0.2   00000000000000a2   25 MB     12 MB (48.00%)    00000000000000a1   41230     "
    "   4           41230                true      3.6.5      3.6.0     alarm:NOSPACE, x\n"
)
WARNING = ("WARNING: 2 errors occurred:\n\t* 10.0.0.3: rpc error: code = Unknown desc = failed "
           "to query etcd status: context deadline exceeded\n\t* 10.0.0.4: rpc error: code = "
           "Unimplemented desc = etcd status is only available on control plane nodes\n\n\n")


def test_etcd_status_rows_are_read_by_column_name() -> None:
    first, second = parse_etcd_status(STATUS_TEXT)
    assert (first.node, first.member_id, first.db_size, first.db_in_use) == (
        "10.0.0.1", "00000000000000a1", 4_200_000, 3_000_000)
    assert first.errors == "" and not first.learner and first.has_leader
    assert second.learner and second.errors == "alarm:NOSPACE, x" and second.db_size == 25_000_000


def test_per_node_errors_are_read_from_the_warning() -> None:
    errors = parse_node_errors(WARNING)
    assert set(errors) == {"10.0.0.3", "10.0.0.4"}
    assert errors["10.0.0.4"] == ("rpc error: code = Unimplemented desc = etcd status is only "
                                  "available on control plane nodes")


class Replying(Runner):
    """Answers every command with one reply, as talosctl would print it."""

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        super().__init__()
        self.reply = (exit_code, stdout, stderr)

    def run(self, argv: Sequence[str], **options: Any) -> Result:
        return Result(tuple(argv), *self.reply)


def test_etcd_status_answers_by_address_and_gives_talosctls_own_words_for_the_others(
    tmp_path: Path,
) -> None:
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text("context: pitower\n")
    talosctl = Talosctl(talosconfig, runner=Replying(0, STATUS_TEXT, WARNING))
    report = talosctl.etcd_status(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.5"])
    assert sorted(report.answered) == ["10.0.0.1", "10.0.0.2"]
    assert report.answered["10.0.0.2"].learner
    assert report.failed["10.0.0.3"] == (
        "failed to query etcd status: context deadline exceeded (Unknown)")
    assert report.failed["10.0.0.5"] == "no answer"


def test_etcd_status_that_reached_no_node_is_an_error_not_a_report(tmp_path: Path) -> None:
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text("context: pitower\n")
    stderr = ("error getting status: rpc error: code = Unavailable desc = connection error: "
              'desc = "transport: Error while dialing: dial tcp 10.0.0.1:50000: connect: '
              'connection refused"\n')
    talosctl = Talosctl(talosconfig, runner=Replying(1, "", stderr))
    with pytest.raises(CommandError, match=r"^talosctl etcd status on 10.0.0.1,10.0.0.2 "
                                           r"failed: node is unreachable: dial tcp"):
        talosctl.etcd_status(["10.0.0.1", "10.0.0.2"])


def test_a_question_to_many_nodes_splits_answers_from_per_node_failures(
    standin: Standin, tmp_path: Path
) -> None:
    talosconfig = tmp_path / "talosconfig"
    talosconfig.write_text("context: pitower\ncontexts:\n  pitower:\n    endpoints: []\n")
    standin.pitower(worker_02={"reachable": False})
    talosctl = Talosctl(talosconfig)
    nodes = ["192.168.0.201", "192.168.0.202", "192.168.0.204"]
    versions = talosctl.server_versions(nodes)
    assert versions.answered == {"192.168.0.201": "v1.12.4", "192.168.0.204": "v1.12.4"}
    assert set(versions.failed) == {"192.168.0.202"}
    assert versions.failed["192.168.0.202"].startswith(
        "talosctl version on 192.168.0.202 failed: node is unreachable")
    schematics = talosctl.installed_schematics(nodes)
    assert set(schematics.answered) == {"192.168.0.201", "192.168.0.204"}
    assert schematics.answered["192.168.0.201"] == pitower_schematics()["worker-01"]
    statuses = talosctl.machine_statuses(nodes)
    assert statuses.answered["192.168.0.204"].stage == "running"
    assert [argv[0] for argv in standin.calls()] == ["version", "get", "get"]


def test_waiting_for_etcd_asks_again_until_healthy_then_gives_up_naming_the_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sick = judge(CPS, report(ANSWERING[:2], {"10.0.0.3": "no answer"}),
                 members=MEMBERS)
    well = judge(CPS, HEALTHY, members=MEMBERS)
    answers = [sick, sick, well]
    monkeypatch.setattr(etcd, "inspect", lambda cluster, talosctl: answers.pop(0))
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    health = etcd.wait_until_healthy(None, None, timeout=60, interval=2,  # type: ignore[arg-type]
                                     clock=lambda: now[0], sleep=sleep)
    assert health.healthy and slept == [2, 2]
    monkeypatch.setattr(etcd, "inspect", lambda cluster, talosctl: sick)
    with pytest.raises(RolloutError, match=r"etcd is not healthy 10s later: cp-3: etcd does "
                                           r"not answer \(no answer\)"):
        etcd.wait_until_healthy(None, None, timeout=10, interval=2,  # type: ignore[arg-type]
                                clock=lambda: now[0], sleep=sleep)
