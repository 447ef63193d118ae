"""interruptible(): the four stopping signals become Interrupted, even when their
exception was swallowed on the way; deferred() holds them until a step is done."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator

import pytest

from talos.adapters.interrupts import deferred, interruptible
from talos.errors import Interrupted


@pytest.fixture(autouse=True)
def as_from_a_terminal() -> Iterator[None]:
    """A suite run as a background job has SIGQUIT ignored, which interruptible() keeps
    ignoring: give these tests a terminal's dispositions."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGQUIT, signal.SIGHUP)}
    for s in saved:
        signal.signal(s, signal.SIG_DFL)
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def wait_for_signal() -> None:
    time.sleep(5)  # the handler raises out of this long before it ends


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                    signal.SIGQUIT])
def test_each_signal_stops_the_block_with_its_exit_code(signum: int) -> None:
    ran_finally = []
    with pytest.raises(Interrupted, match="work was stopped by") as caught, \
            interruptible("work"):
        try:
            os.kill(os.getpid(), signum)
            wait_for_signal()
        finally:
            ran_finally.append(True)
    assert caught.value.exit_code == 128 + signum
    assert ran_finally == [True]
    assert signal.getsignal(signal.SIGTERM) is not None  # handlers restored after


def test_an_interruption_lost_in_a_finaliser_still_stops_the_block() -> None:
    with pytest.raises(Interrupted, match="stopped by SIGHUP") as caught, interruptible("work"):
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            wait_for_signal()
        except KeyboardInterrupt:
            pass  # what Python does to an exception raised in a finaliser
        raise RuntimeError("sops failed: it was killed by the same SIGHUP")
    assert caught.value.exit_code == 129
    with pytest.raises(Interrupted, match=r"SIGTERM \(after its last step"), \
            interruptible("work"):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            wait_for_signal()
        except KeyboardInterrupt:
            pass


def test_a_deferred_step_completes_and_the_signal_takes_effect_after_it() -> None:
    steps = []
    with pytest.raises(Interrupted) as caught, interruptible("work"):
        with deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            steps.append("renames done")
        steps.append("not reached")
    assert steps == ["renames done"]
    assert caught.value.exit_code == 143


# -- a fork: the window before the child becomes the program ------------------------------

def test_a_signal_held_across_a_fork_reaches_the_parent_right_after() -> None:
    from talos.adapters import interrupts

    interrupts.guard_forks()
    with pytest.raises(Interrupted, match="stopped by SIGQUIT"), interruptible("work"):
        with interrupts.launching():
            interrupts._hold_before_fork()
            try:
                os.kill(os.getpid(), signal.SIGQUIT)
                assert signal.SIGQUIT in signal.sigpending()  # held: no handler ran yet
            finally:
                interrupts._release_in_parent()
        wait_for_signal()


def fork_and_report(launch: bool) -> tuple[bytes, int]:
    """Fork (inside ``launching()`` with ``launch``): the child says whether it has the
    default dispositions and the parent's mask, then sends itself SIGTERM; the parent
    keeps its handlers and mask either way. What the child said, and how it ended."""
    from talos.adapters import interrupts

    interrupts.guard_forks()
    handler = signal.getsignal(signal.SIGQUIT)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    read, write = os.pipe()
    with interrupts.launching() if launch else contextlib.nullcontext():
        pid = os.fork()
    if pid == 0:  # the child: report, then stop the way the program would
        defaults = all(signal.getsignal(s) == signal.SIG_DFL for s in
                       (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT))
        same_mask = signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask
        os.write(write, (b"default" if defaults else b"handled")
                 + (b"" if same_mask else b", masked"))
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # SIGQUIT's default would dump core
        finally:
            os._exit(3)  # reached when SIGTERM is handled (it raised) rather than default
    os.close(write)
    said = os.read(read, 32)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert signal.getsignal(signal.SIGQUIT) is handler
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask
    return said, status


def test_a_program_launched_by_fork_starts_with_the_default_dispositions() -> None:
    with interruptible("work"):
        said, status = fork_and_report(launch=True)
    assert said == b"default"
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


def test_any_other_fork_keeps_the_handlers() -> None:
    with interruptible("work"):
        said, status = fork_and_report(launch=False)
    assert said == b"handled"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3


def test_the_runner_forks_its_programs_inside_launching(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from talos.adapters import interrupts
    from talos.adapters.command import Runner

    launched: list[bool] = []
    fork = os.fork

    def recording_fork() -> int:
        pid = fork()
        if pid:
            launched.append(getattr(interrupts._held, "launching", False))
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    assert Runner().run(["true"]).exit_code == 0
    assert launched == [True]
    assert not getattr(interrupts._held, "launching", False)  # and only while it starts
