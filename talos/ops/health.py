"""The cluster's health as ``talosctl health`` judges it, in one line.

``talosctl health`` runs its checks from one control plane, told every node; its output
(``waiting for CHECK: OUTCOME`` lines) is summarised by a pure function, so the line a
person reads and the ``--json`` a script reads say the same thing.

    check_health(cluster, talosctl, timeout=..., transcript=...)  -> str   one summary line
    answering(talosctl, controlplanes)   -> address      the first control plane that answers
    summarise_health(text)               -> HealthSummary      pure
    health_line(summary, healthy=...)    -> str                pure
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from talos.core.wording import count, first_line
from talos.errors import CommandError, SelectionError, ToolMissingError
from talos.ops.client import require_talosconfig
from talos.ops.targets import locations

if TYPE_CHECKING:
    from talos.adapters.talosctl import Talosctl
    from talos.core.cluster import Cluster


@dataclass(frozen=True)
class HealthSummary:
    """The checks ``talosctl health`` reported, each with its last outcome."""

    checks: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> list[str]:
        return [name for name, outcome in self.checks if outcome == "OK"]

    @property
    def skipped(self) -> list[str]:
        return [name for name, outcome in self.checks if outcome == "SKIP"]

    @property
    def failing(self) -> list[tuple[str, str]]:
        return [(n, o) for n, o in self.checks if o not in ("OK", "SKIP")]


# -- words (pure) -----------------------------------------------------------------------


def summarise_health(text: str) -> HealthSummary:
    """Each ``waiting for CHECK: OUTCOME`` line, the last outcome of each check kept.

    An outcome may go on over indented lines (talosctl's multi-errors: ``2 errors
    occurred:`` then ``\t* ...`` per error); those are joined into one line.
    """
    outcomes: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("waiting for ") and ": " in line:
            name, _, outcome = line[len("waiting for "):].partition(": ")
            current = outcomes[name] = [outcome.strip()]
        elif current is not None and raw[:1].isspace() and line:
            current.append(line.removeprefix("* "))
        else:
            current = None
    return HealthSummary(tuple((name, _joined(parts)) for name, parts in outcomes.items()))


def _joined(parts: list[str]) -> str:
    head, *details = parts
    if details and re.fullmatch(r"\d+ errors? occurred:", head):
        return "; ".join(details)
    return " ".join([head, *details])


def health_line(summary: HealthSummary, *, healthy: bool) -> str:
    passed = f"{len(summary.passed)} of {count(len(summary.checks), 'check')} passed"
    skipped = f", skipped: {', '.join(summary.skipped)}" if summary.skipped else ""
    if healthy:
        return f"healthy: {passed}{skipped}"
    failing = summary.failing
    if failing:
        name, outcome = failing[-1]
        reason = "did not finish" if outcome == "..." else outcome
        return f"unhealthy: {name}: {reason} ({passed}{skipped})"
    return f"unhealthy ({passed}{skipped})"


# -- asking (these run talosctl) --------------------------------------------------------


def check_health(
    cluster: Cluster,
    talosctl: Talosctl,
    *,
    timeout: str = "5m",
    transcript: Sequence[str] | None = None,
) -> str:
    """``talosctl health`` from the first control plane, told every node; one summary line.

    ``transcript``: the lines talosctl printed, as the adapter's progress callback
    collected them (otherwise the error's stderr tail is summarised). Raises
    :class:`CommandError` naming the failing check when the cluster is unhealthy, and
    :class:`SelectionError` when a node of the cluster file is not among the members.
    """
    require_talosconfig(talosctl)
    located = locations(cluster, cluster.nodes, talosctl)
    missing = [name for name, where in located.items() if where.address is None]
    controlplanes = [a for n in cluster.controlplanes if (a := located[n.name].address)]
    workers = [a for n in cluster.workers if (a := located[n.name].address)]
    if not controlplanes:
        raise SelectionError("no control plane could be located; check the cluster file's IPs")
    node = answering(talosctl, controlplanes)
    try:
        text = talosctl.health(
            node, control_planes=controlplanes, workers=workers, timeout=timeout
        )
    except ToolMissingError:
        raise
    except CommandError as exc:
        said = "\n".join(transcript) if transcript else exc.stderr or str(exc)
        summary = summarise_health(said)
        verdict = health_line(summary, healthy=False) if summary.checks else (
            f"unhealthy: {first_line(exc)}"
        )
        raise CommandError(
            f"{verdict}, asked {node}",
            command=exc.command, exit_code=exc.returncode, stderr=exc.stderr,
        ) from exc
    line = f"{health_line(summarise_health(text), healthy=True)}, asked {node}"
    if missing:
        raise SelectionError(f"{line}; but {', '.join(missing)} not found among the members")
    return line


def answering(talosctl: Talosctl, controlplanes: Sequence[str]) -> str:
    """The first control plane that answers: the checks are run from it.

    Asked from a control plane that is down, talosctl could only say it is down; from
    one that is up, it says which checks that node's absence breaks.
    """
    failures = []
    for address in controlplanes:
        try:
            talosctl.server_version(address)
        except ToolMissingError:
            raise
        except CommandError as exc:
            failures.append(first_line(exc))
        else:
            return address
    raise CommandError(
        f"unhealthy: no control plane answers ({'; '.join(failures)})",
        hint="check the control planes are powered and on the network",
    )
