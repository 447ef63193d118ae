"""etcd of the cluster: is it healthy and consistent with the cluster file, and snapshots.

    inspect(cluster, talosctl)            -> EtcdHealth    one ``etcd status`` call for every
                                                           control plane, ``etcd members``
                                                           from one that answered
    judge(controlplanes, report, ...)     -> EtcdHealth    pure: the facts, and every problem
    take_snapshot(cluster, talosctl, ...) -> Taken         ``etcd snapshot`` from a healthy
                                                           control plane into backups/, the
                                                           newest ``keep`` kept

etcd is healthy when every control plane of the cluster file answers ``etcd status`` with
no errors, is a voting member (not a learner), all follow one leader, and the members are
exactly the cluster file's control planes.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from talos.adapters.talosctl import Answers, EtcdMember, EtcdMemberStatus, Talosctl
from talos.core.cluster import Cluster
from talos.errors import CommandError, RolloutError, ToolMissingError
from talos.ops.targets import locate, same_host

DEFAULT_KEEP = 5
BACKUPS = "backups"


@dataclass(frozen=True)
class ControlPlane:
    """A control plane of the cluster file, where it answers (or why it cannot be found)."""

    name: str
    hostname: str
    address: str | None
    problem: str | None = None


@dataclass(frozen=True)
class Problem:
    """Something that makes etcd unsafe to touch; ``node`` is "" for the cluster as a whole."""

    node: str
    reason: str

    def __str__(self) -> str:
        return f"{self.node}: {self.reason}" if self.node else self.reason


@dataclass(frozen=True)
class EtcdHealth:
    controlplanes: tuple[ControlPlane, ...]
    statuses: Mapping[str, EtcdMemberStatus]  # control plane name -> its status
    errors: Mapping[str, str]  # control plane name -> why it did not answer
    members: tuple[EtcdMember, ...] | None
    members_asked: str | None  # the control plane the members came from
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def answered(self) -> list[str]:
        """Control planes whose etcd answered without errors, in the cluster file's order."""
        return [cp.name for cp in self.controlplanes
                if cp.name in self.statuses and not self.statuses[cp.name].errors]

    @property
    def leader(self) -> str | None:
        """The name of the leading control plane, when the members agree on one."""
        leaders = {s.leader for s in self.statuses.values() if s.has_leader}
        if len(leaders) != 1:
            return None
        (leader,) = leaders
        by_id = {s.member_id: name for name, s in self.statuses.items()}
        if leader in by_id:
            return by_id[leader]
        for member in self.members or ():
            if member.member_id == leader:
                return member.hostname
        return leader

    def problem_of(self, name: str) -> str | None:
        reasons = [p.reason for p in self.problems if p.node == name]
        return "; ".join(reasons) if reasons else None

    def as_json(self) -> dict[str, Any]:
        members = None if self.members is None else [
            {"id": m.member_id, "hostname": m.hostname, "peer_urls": list(m.peer_urls),
             "client_urls": list(m.client_urls), "learner": m.learner}
            for m in self.members
        ]
        nodes = []
        for cp in self.controlplanes:
            status = self.statuses.get(cp.name)
            nodes.append({
                "node": cp.name,
                "address": cp.address,
                "member_id": status.member_id if status else None,
                "leader": bool(status and status.member_id == self._leader_id()),
                "db_size": status.db_size if status else None,
                "db_in_use": status.db_in_use if status else None,
                "raft_index": status.raft_index if status else None,
                "raft_term": status.raft_term if status else None,
                "learner": status.learner if status else None,
                "errors": status.errors if status else None,
                "healthy": self.problem_of(cp.name) is None,
                "problem": self.problem_of(cp.name) or self.errors.get(cp.name) or cp.problem,
            })
        return {
            "healthy": self.healthy,
            "leader": self.leader,
            "members": members,
            "nodes": nodes,
            "problems": [str(p) for p in self.problems],
        }

    def _leader_id(self) -> str | None:
        leaders = {s.leader for s in self.statuses.values() if s.has_leader}
        return next(iter(leaders)) if len(leaders) == 1 else None


# -- judging (pure) -----------------------------------------------------------------------


def judge(
    controlplanes: Sequence[ControlPlane],
    report: Answers[EtcdMemberStatus],
    *,
    members: Sequence[EtcdMember] | None,
    members_asked: str | None = None,
    members_error: str | None = None,
) -> EtcdHealth:
    """Every problem that makes it unsafe to take a control plane down, from the facts
    (``report``: each control plane's ``etcd status`` by address, or why it gave none)."""
    problems: list[Problem] = []
    statuses: dict[str, EtcdMemberStatus] = {}
    errors: dict[str, str] = {}
    for cp in controlplanes:
        if cp.address is None:
            problems.append(Problem(cp.name, cp.problem or "cannot be located"))
            continue
        status = report.answered.get(cp.address)
        if status is None:
            error = report.failed.get(cp.address, "no answer")
            errors[cp.name] = error
            problems.append(Problem(cp.name, f"etcd does not answer ({error})"))
            continue
        statuses[cp.name] = status
        if status.errors:
            problems.append(Problem(cp.name, f"etcd reports errors: {status.errors}"))
        if status.learner:
            problems.append(Problem(cp.name, "is an etcd learner, not yet a voting member"))
        if not status.has_leader:
            problems.append(Problem(cp.name, "its etcd has no leader (no quorum)"))
    leaders = sorted({s.leader for s in statuses.values() if s.has_leader})
    if len(leaders) > 1:
        problems.append(Problem("", f"etcd members follow different leaders: {', '.join(leaders)}"))
    if members is None:
        if members_error:
            problems.append(Problem("", f"etcd members could not be listed ({members_error})"))
    else:
        for cp in controlplanes:
            if not any(same_host(m.hostname, cp.hostname) for m in members):
                problems.append(Problem(cp.name, "is not an etcd member"))
        for member in members:
            if not any(same_host(member.hostname, cp.hostname) for cp in controlplanes):
                problems.append(Problem(
                    member.hostname or member.member_id,
                    f"etcd member {member.member_id} is not a control plane of the cluster "
                    "file (remove it with talosctl etcd remove-member, or declare it)"))
    return EtcdHealth(tuple(controlplanes), statuses, errors,
                      None if members is None else tuple(members), members_asked,
                      tuple(problems))


# -- asking the cluster ---------------------------------------------------------------------


def controlplanes_of(cluster: Cluster, talosctl: Talosctl) -> list[ControlPlane]:
    found, missing = locate(cluster, cluster.controlplanes, talosctl)
    address = {t.node.name: t.address for t in found}
    problem = {m.node.name: m.reason for m in missing}
    return [ControlPlane(n.name, n.hostname, address.get(n.name), problem.get(n.name))
            for n in cluster.controlplanes]


def inspect(cluster: Cluster, talosctl: Talosctl) -> EtcdHealth:
    """Ask every control plane's etcd at once (one talosctl call), then the members from
    the first control plane that answered (a second call)."""
    controlplanes = controlplanes_of(cluster, talosctl)
    addresses = [cp.address for cp in controlplanes if cp.address]
    report = talosctl.etcd_status(addresses) if addresses else Answers({}, {})
    answered = report.answered
    members = None
    asked = None
    error = None
    for cp in controlplanes:
        if cp.address in answered:
            asked = cp.name
            try:
                members = talosctl.etcd_members(cp.address)
            except ToolMissingError:
                raise
            except CommandError as exc:
                error = str(exc)
            break
    else:
        error = "no control plane's etcd answered"
    return judge(controlplanes, report, members=members, members_asked=asked,
                 members_error=error)


def wait_until_healthy(
    cluster: Cluster,
    talosctl: Talosctl,
    *,
    timeout: float = 300.0,
    interval: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> EtcdHealth:
    """Ask until etcd is healthy (a rebooted member takes a moment to rejoin); after
    ``timeout`` seconds, :class:`RolloutError` with what was wrong last."""
    deadline = clock() + timeout
    while True:
        health = inspect(cluster, talosctl)
        if health.healthy:
            return health
        if clock() >= deadline:
            problems = "; ".join(str(p) for p in health.problems)
            raise RolloutError(f"etcd is not healthy {timeout:g}s later: {problems}; check "
                               "it with inv etcd.status before going on")
        sleep(interval)


# -- snapshots ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Taken:
    path: Path
    node: str
    size: int
    removed: tuple[Path, ...] = ()


def backups_dir(cluster: Cluster) -> Path:
    return cluster.output_dir / BACKUPS


def snapshot_path(cluster: Cluster, now: datetime) -> Path:
    """``clusterconfig/backups/etcd-<cluster>-<UTC time>.db`` (not one that exists)."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = backups_dir(cluster) / f"etcd-{cluster.name}-{stamp}"
    path, n = base.with_name(base.name + ".db"), 2
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}.db"), n + 1
    return path


def snapshots(cluster: Cluster) -> list[Path]:
    """This cluster's snapshots, oldest first (their names sort by time)."""
    pattern = re.compile(
        rf"^etcd-{re.escape(cluster.name)}-(?P<stamp>\d{{8}}T\d{{6}}Z)(?:-(?P<n>\d+))?\.db$")
    folder = backups_dir(cluster)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match:
            found.append(((match["stamp"], int(match["n"] or 1)), path))
    return [path for _, path in sorted(found)]


def take_snapshot(
    cluster: Cluster,
    talosctl: Talosctl,
    *,
    health: EtcdHealth | None = None,
    node: str | None = None,
    keep: int = DEFAULT_KEEP,
    now: datetime | None = None,
) -> Taken:
    """``talosctl etcd snapshot`` from ``node`` (default: a control plane whose etcd
    answered without errors) into the backups folder, 0600; then only the newest
    ``keep`` snapshots of the cluster are kept."""
    if keep < 1:
        raise RolloutError(f"keep {keep}: at least the new snapshot must be kept")
    health = health or inspect(cluster, talosctl)
    candidates = health.answered
    if node is not None:
        if node not in [cp.name for cp in health.controlplanes]:
            raise RolloutError(f"{node} is not a control plane: etcd snapshots come from one")
        if node not in candidates:
            why = health.problem_of(node) or "its etcd did not answer"
            raise RolloutError(f"cannot take an etcd snapshot from {node}: {why}")
        candidates = [node]
    if not candidates:
        problems = "; ".join(str(p) for p in health.problems) or "no control plane answered"
        raise RolloutError(f"no control plane can give an etcd snapshot: {problems}")
    chosen = candidates[0]
    address = next(cp.address for cp in health.controlplanes if cp.name == chosen)
    assert address is not None
    folder = backups_dir(cluster)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = snapshot_path(cluster, now or datetime.now(UTC))
    taken = talosctl.etcd_snapshot(address, path)
    if talosctl.runner.dry:
        return Taken(path, chosen, 0)
    os.chmod(path, 0o600)
    existing = snapshots(cluster)
    removed = tuple(existing[:-keep]) if len(existing) > keep else ()
    for old in removed:
        old.unlink(missing_ok=True)
    return Taken(path, chosen, taken.size, removed)
