"""Ctrl-C and SIGTERM during a rollout: both stop it the same way.

SIGINT is Python's ``KeyboardInterrupt``; inside :func:`sigterm_as_interrupt` a SIGTERM
raises :class:`Terminated`, a ``KeyboardInterrupt`` too, so one ``except`` stops the
rollout for either (and :mod:`talos.command` passes the SIGTERM on to the program it
runs, which did not get it). The exit code says which: 130 or 143.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as an interruption."""


def signal_number(exc: BaseException) -> int:
    return signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT


def signal_name(exc: BaseException) -> str:
    return "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in the main thread for the ``with`` block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
