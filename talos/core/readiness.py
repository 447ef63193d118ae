"""Waiting for a node to be back: machine status ``running`` and ready.

A node that reboots (to take a config, or after an upgrade) does not answer for a while,
then answers while it boots; it is back when its machine status says ``running`` and
ready. Pure: it polls through the reader it is given, with the clock and sleep it is
given, so tests run without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from talos.errors import CommandError, NotReady, ToolMissingError

__all__ = ["NotReady", "Polling", "describe", "is_ready", "wait_until_ready"]


class MachineStatusLike(Protocol):
    """What a node says of itself (``talos.adapters.talosctl.MachineStatus``)."""

    @property
    def stage(self) -> str: ...

    @property
    def ready(self) -> bool: ...


class StatusReader(Protocol):
    """The part of the talosctl adapter that asks a node for its machine status."""

    def machine_status(self, node: str) -> MachineStatusLike: ...


@dataclass(frozen=True)
class Polling:
    """How long to wait, and how often to ask: ``first`` seconds between questions while
    the node answers (booting), and from ``first`` doubling up to ``most`` while it does
    not answer (down)."""

    timeout: float = 900.0
    first: float = 0.5
    most: float = 5.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def is_ready(status: MachineStatusLike) -> bool:
    return status.stage.lower() == "running" and status.ready


def describe(status: MachineStatusLike) -> str:
    return f"stage {status.stage}, {'ready' if status.ready else 'not ready'}"


def wait_until_ready(
    reader: StatusReader,
    address: str,
    polling: Polling,
    *,
    explain: Callable[[CommandError], str] = str,
) -> None:
    """Ask ``address`` for its machine status until it is running and ready.

    A node that does not answer (a :class:`CommandError`) is asked again: it may be
    rebooting. A missing talosctl is raised at once. After ``polling.timeout`` seconds,
    :class:`NotReady` says what the node said last; ``explain`` shortens a failure to
    answer for that message.
    """
    deadline = polling.clock() + polling.timeout
    down = polling.first  # the pause while the node does not answer: it doubles
    last = "no answer yet"
    while True:
        try:
            status = reader.machine_status(address)
        except ToolMissingError:
            raise
        except CommandError as exc:
            last = f"no answer: {explain(exc)}"
            pause = down
            down = min(down * 2, polling.most)
        else:
            if is_ready(status):
                return
            last = describe(status)
            # It answers: it is booting and will be ready soon; no backing off.
            pause = polling.first
        if polling.clock() >= deadline:
            raise NotReady(address, polling.timeout, last)
        polling.sleep(pause)
