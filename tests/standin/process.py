"""What the stand-in sees of the process it runs in: environment, output, sleeping.

Not a talosctl behaviour: the stand-in's own machinery. Run as a program
(``tests/bin/talosctl``), these are the process's own: ``os.environ``, ``sys.stdout`` and
``sys.stderr``, ``time.sleep``. Run inside a test's process (:mod:`standin.inprocess`),
one call at a time per thread, each call gets its own: the environment it was given,
output collected for it alone, and sleeps that end at once when the call is stopped (as a
program killed at its deadline would stop), so concurrent calls from a rollout's threads
never see each other's.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import pwd
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


class Stopped(BaseException):
    """The call was stopped from outside (a deadline): it ends at once, as a killed
    program would, writing nothing more (not even its log line)."""


@dataclass
class Call:
    """One in-process call: its environment, its output streams, its stop signal."""

    environ: Mapping[str, str]
    stdout: TextIO
    stderr: TextIO
    stop: threading.Event = field(default_factory=threading.Event)
    #: ``time.monotonic()`` when the call began (a program's start, for Go's ``m=+``)
    began: float = field(default_factory=time.monotonic)


#: When this program began, run as one (its module is imported at start-up).
_BEGAN = time.monotonic()

_current: contextvars.ContextVar[Call | None] = contextvars.ContextVar("standin_call",
                                                                      default=None)


@contextlib.contextmanager
def running(call: Call) -> Iterator[Call]:
    """Make ``call`` the one this thread's stand-in code sees, for the block."""
    token = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(token)


def environ() -> Mapping[str, str]:
    call = _current.get()
    return os.environ if call is None else call.environ


def home() -> Path:
    """``Path.home()`` as the call's environment gives it (``$HOME``, else the account's)."""
    call = _current.get()
    if call is None:
        return Path.home()
    if "HOME" in call.environ:
        return Path(call.environ["HOME"].rstrip("/") or "/")
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def stdout() -> TextIO:
    call = _current.get()
    return sys.stdout if call is None else call.stdout


def stderr() -> TextIO:
    call = _current.get()
    return sys.stderr if call is None else call.stderr


def sleep(seconds: float) -> None:
    """``time.sleep``; inside a call, cut short by its stop (raising :class:`Stopped`)."""
    call = _current.get()
    if call is None:
        time.sleep(seconds)
    elif call.stop.wait(seconds):
        raise Stopped()


def began() -> float:
    """``time.monotonic()`` when the program (or the in-process call) began."""
    call = _current.get()
    return _BEGAN if call is None else call.began


def stopped() -> bool:
    call = _current.get()
    return call is not None and call.stop.is_set()
