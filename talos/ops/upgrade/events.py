"""What a rollout tells while it runs: each node's phases as events, and their wording.

A node goes through STARTING, WAITING, then (a control plane) CHECKING_ETCD, and ends
DONE, FAILED or CHECK_FAILED; INTERRUPTED names the nodes left mid-upgrade by Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from talos.errors import TalosError

# Phases reported to the progress callback, in the order a node goes through them.
STARTING = "upgrading"
WAITING = "waiting until running and ready"
CHECKING_ETCD = "checking etcd health"
DONE = "upgraded"
FAILED = "failed"
CHECK_FAILED = "upgraded, but the health check failed"
INTERRUPTED = "interrupted; waiting until it answers again (Ctrl-C again to stop waiting)"


@dataclass(frozen=True)
class Event:
    """Progress: ``node`` entered ``phase``, ``elapsed`` seconds after the rollout began."""

    node: str
    phase: str
    elapsed: float
    detail: str = ""


Progress = Callable[[Event], None]


def failure_message(exc: TalosError) -> str:
    """The error on one line. The talosctl adapter's messages already carry talosctl's
    own words (tidied); its raw stderr stays on the exception."""
    return " ".join(str(exc).split())


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: elapsed time for a person."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
