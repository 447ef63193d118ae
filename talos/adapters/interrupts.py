"""Signals as interruptions, so that cleanup code runs however a run is stopped.

Python turns Ctrl-C (SIGINT) into ``KeyboardInterrupt``; SIGTERM (``kill``), SIGHUP (a
closed terminal or SSH session) and SIGQUIT (Ctrl-\\) kill it outright, skipping every
``finally``. Two ways to make them interruptions:

- :func:`sigterm_as_interrupt` (rollouts): SIGTERM raises :class:`Terminated`, a
  ``KeyboardInterrupt`` too, so one ``except`` stops the rollout for either (and
  :mod:`talos.adapters.command` passes the SIGTERM on to the program it runs, which did not get
  it). The exit code says which: 130 or 143.
- :func:`interruptible` (work on decrypted secrets, writing configs): SIGINT, SIGTERM,
  SIGHUP and SIGQUIT all raise, so private folders and staged files are removed; on the
  way out the interruption becomes :class:`~talos.errors.Interrupted` (exit 128 + the
  signal number). Inside it, :func:`deferred` makes signals wait until a step that must
  not be cut (the renames that switch configs) is done.

Handlers are installed from the main thread only (elsewhere these do nothing). A signal
the process ignores (``nohup`` ignores SIGHUP) stays ignored by :func:`interruptible`.

A program is started by forking this process (sh does so in Python), and the child runs
Python code until it becomes the program. A signal landing in that window (Ctrl-C goes
to the whole process group) would run our handler in the child, in the middle of the
interpreter's after-fork hooks, and print a stray traceback. So while a thread starts a
program (:func:`launching`; sh forks from the thread that calls it), it holds the four
signals back across the fork: the parent gets any of them right after, and the child
sets them to their defaults first (as starting the program would), so a signal meant for
it stops it the way it would stop the program. Any other fork of the process (another
thread's, or one outside :func:`launching`) keeps the handlers and the mask as they are.

    Terminated(signum)      the ``KeyboardInterrupt`` raised for a signal other than SIGINT
    signal_number(exc)      the signal behind an interruption (SIGINT for Ctrl-C)
    signal_name(exc)        ``Ctrl-C``, ``SIGTERM``, ``SIGHUP``, ``SIGQUIT``
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from talos.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
NAMES: dict[int, str] = {
    signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP",
    signal.SIGQUIT: "SIGQUIT",
}

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Terminated(KeyboardInterrupt):
    """A signal other than SIGINT (default SIGTERM), raised in the main thread as an
    interruption: whoever runs a program waits for it (or stops it) on
    ``KeyboardInterrupt`` before letting go, so no child is left writing into a
    directory that is being removed. ``signum`` is the signal."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"stopped by {_name(signum)}")
        self.signum = signum


def _name(signum: int) -> str:
    return NAMES.get(signum, f"signal {signum}")


def signal_number(exc: BaseException) -> int:
    """The signal behind an interruption: SIGINT for a plain ``KeyboardInterrupt``."""
    return exc.signum if isinstance(exc, Terminated) else int(signal.SIGINT)


def signal_name(exc: BaseException) -> str:
    return _name(signal_number(exc))


@contextlib.contextmanager
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


class _State:
    """One interruption per block: the first signal raises, later ones wait."""

    def __init__(self) -> None:
        self.raised = False
        self.pending: int | None = None
        #: the signal that raised; kept, since an exception raised while the main thread
        #: runs a finaliser is only printed ("Exception ignored in ..."), not propagated
        self.signum: int | None = None


_lock = threading.Lock()
_stack: list[_State] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    state = _stack[-1] if _stack else None
    if state is None:
        raise Terminated(signum) if signum != signal.SIGINT else KeyboardInterrupt()
    if state.raised or state.pending is not None:
        return  # cleanup of the first interruption is under way (or deferred): not cut
    if _deferring:
        state.pending = signum
        return
    state.raised = True
    state.signum = signum
    if signum == signal.SIGINT:
        raise KeyboardInterrupt()
    raise Terminated(signum)


_deferring = False


def _install() -> dict[int, Handler]:
    previous: dict[int, Handler] = {}
    for signum in SIGNALS:
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, _handler)
    return previous


def _restore(previous: dict[int, Handler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def interruptible(what: str = "the run") -> Iterator[None]:
    """The four signals raise inside the block; leaving it, an interruption (after the
    block's own ``finally`` clauses ran) is raised as :class:`Interrupted`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = _State()
    with _lock:
        previous = _install() if not _stack else {}
        _stack.append(state)
    try:
        yield
    except KeyboardInterrupt as exc:
        signum = signal_number(exc)
        raise Interrupted(f"{what} was stopped by {_name(signum)}",
                          signal_number=signum) from exc
    except Interrupted:
        raise
    except Exception as exc:
        if state.signum is None:
            raise
        # The signal's exception was lost (raised inside a finaliser), and what failed
        # next failed because of it: a program killed by the same signal, say.
        raise Interrupted(f"{what} was stopped by {_name(state.signum)}",
                          signal_number=state.signum) from exc
    finally:
        with _lock:
            _stack.remove(state)
            if not _stack:
                _restore(previous)
    late = state.pending if state.pending is not None else state.signum
    if late is not None:
        raise Interrupted(f"{what} was stopped by {_name(late)} "
                          "(after its last step had completed)", signal_number=late)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Signals arriving inside the block take effect when it ends (inside an
    :func:`interruptible` block; elsewhere this does nothing)."""
    global _deferring
    if threading.current_thread() is not threading.main_thread() or not _stack:
        yield
        return
    outer, _deferring = _deferring, True
    try:
        yield
    finally:
        _deferring = outer
    state = _stack[-1]
    if not outer and state.pending is not None and not state.raised:
        signum, state.pending = state.pending, None
        state.raised = True
        raise Terminated(signum) if signum != signal.SIGINT else KeyboardInterrupt()


#: Per thread: ``launching`` (inside :func:`launching`) and ``mask`` (the signal mask
#: before the fork, while one is held). Thread-local, so that a fork by another thread at
#: the same moment is left alone; the forking thread's values live on in the child.
_held = threading.local()


@contextlib.contextmanager
def launching() -> Iterator[None]:
    """Forks by this thread inside the block start programs: they hold the signals back
    and give the child the default dispositions (see above; :func:`guard_forks` must
    have been called)."""
    outer = getattr(_held, "launching", False)
    _held.launching = True
    try:
        yield
    finally:
        _held.launching = outer


def _hold_before_fork() -> None:
    if getattr(_held, "launching", False):
        _held.mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


def _release_in_parent() -> None:
    mask = getattr(_held, "mask", None)
    if mask is not None:
        _held.mask = None
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _defaults_in_child() -> None:
    mask = getattr(_held, "mask", None)
    if mask is None:
        return  # not a program being started: the child keeps what the parent had
    _held.mask = None
    # The forking thread is the child's only thread, and its main one.
    for signum in SIGNALS:
        if callable(signal.getsignal(signum)):
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


_guarding = False


def guard_forks() -> None:
    """Register the fork hooks (once): they act on forks inside :func:`launching`."""
    global _guarding
    if _guarding:
        return
    _guarding = True
    # "Before" hooks run in reverse order of registration and "after" hooks in order, so
    # this one holds the signals before any hook registered earlier (logging's) runs.
    os.register_at_fork(before=_hold_before_fork, after_in_parent=_release_in_parent,
                        after_in_child=_defaults_in_child)

