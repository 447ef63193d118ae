"""Pre-flight: refuse before the first change what would take a cluster down.

- :func:`require_healthy_etcd`: before any task that can take a control plane down
  (upgrade, reboot, apply that reboots, reset, upgrade-k8s), every control plane must be
  reachable, a healthy etcd member following the common leader, and the members must be
  exactly the cluster file's control planes (:mod:`talos.ops.etcd` judges). ``skip``
  (``--skip-etcd-check``) goes on anyway, saying what it skips.
- :func:`version_problems`: the target Talos version must be reachable from what each node
  runs, the cluster's Kubernetes version supported by the target, and talosctl of the
  target's minor (:mod:`talos.core.compat`). Not skipped by any flag: Talos refuses those
  upgrades itself, halfway through a rollout.

Pure: both take facts and return or raise; the tasks gather the facts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from talos.core.compat import RULES, client_problem, kubernetes_problem, parse, upgrade_problem
from talos.errors import ClusterFileError, RolloutError

if TYPE_CHECKING:
    from talos.core.cluster import Cluster
    from talos.ops.etcd import EtcdHealth

SKIP_FLAG = "--skip-etcd-check"
SKIPPED = "etcd health and membership checks of the control planes"


def require_healthy_etcd(
    health: EtcdHealth,
    *,
    action: str,
    skip: bool = False,
    say: Callable[[str], None] = lambda line: None,
) -> None:
    """Return when etcd is safe to touch; else :class:`RolloutError` naming each node and
    reason, or with ``skip`` a line saying what is skipped."""
    if health.healthy:
        return
    problems = "; ".join(str(p) for p in health.problems)
    if skip:
        say(f"{SKIP_FLAG}: skipping the {SKIPPED}, which found: {problems}")
        return
    raise RolloutError(
        f"pre-flight refused {action}: {problems}. Nothing was changed; bring the "
        "control planes and etcd back to health (inv etcd.status), or pass "
        f"{SKIP_FLAG} to go on anyway (etcd may lose its quorum)"
    )


def version_problems(
    nodes: Iterable[tuple[str, str | None, str]],
    *,
    kubernetes: str,
    client: str | None,
) -> list[str]:
    """Each ``(name, running, target)``: why that upgrade is not allowed; then whether
    ``kubernetes`` runs on each target, and ``client`` (talosctl) fits the targets."""
    problems: list[str] = []
    targets: dict[str, None] = {}
    for name, running, target in nodes:
        targets[target] = None
        if running is None:
            continue
        problem = upgrade_problem(running, target)
        if problem:
            problems.append(f"{name}: {problem}")
    for target in targets:
        problem = kubernetes_problem(kubernetes, target)
        if problem:
            problems.append(problem)
        if client is not None:
            problem = client_problem(client, target)
            if problem:
                problems.append(problem)
    return problems


def require_versions(problems: Sequence[str], *, action: str) -> None:
    if problems:
        raise RolloutError(f"pre-flight refused {action}: {'; '.join(problems)}. Nothing "
                           "was changed")


def require_cluster_versions(cluster: Cluster) -> None:
    """``genconfig``'s check: the cluster file's Kubernetes version runs on its Talos."""
    problems = cluster_version_problems(cluster.kubernetes_version,
                                        [cluster.talos_version_of(n) for n in cluster.nodes])
    if problems:
        raise ClusterFileError(str(cluster.path), "; ".join(problems), key="kubernetesVersion")


def cluster_version_problems(
    kubernetes: str, talos_versions: Iterable[str]
) -> list[str]:
    """What ``genconfig`` refuses: a Kubernetes version a node's Talos does not run.
    Talos minors without rules here are left to talosctl."""
    problems = []
    for talos in dict.fromkeys(talos_versions):
        if parse(talos)[:2] not in RULES:
            continue
        problem = kubernetes_problem(kubernetes, talos)
        if problem:
            problems.append(problem)
    return problems
