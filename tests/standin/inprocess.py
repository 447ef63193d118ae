"""The stand-in run inside the calling process: argv in, exit code and output out.

Not a talosctl behaviour: the stand-in's own machinery, for tests that are not about the
process boundary (starting a program costs far more than the simulated call itself).
:func:`call` runs exactly what ``tests/bin/talosctl`` runs (:func:`standin.cli.run`),
with the environment it is given, its output collected (and each line handed on as it
comes, for progress), and a deadline that stops it as a killed program would stop: its
sleeps end at once and it logs nothing. Several threads may call at once (a rollout):
each call sees only its own environment and output (:mod:`standin.process`), and the
state file's lock is a ``flock`` on a file each call opens itself, which excludes other
threads of the same process as it excludes other processes.

What a program would get that a call does not: its own working folder (callers run the
program instead when they need another one) and stdin (the stand-in reads none).
"""

from __future__ import annotations

import io
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from . import cli, process

#: The exit code reported for a call stopped at its deadline: a SIGKILLed program's.
KILLED = -9


class LineStream(io.TextIOBase):
    """A text stream that keeps everything written and hands each complete line (with
    its newline) to ``on_line`` as it comes, as a pipe's reader would see it."""

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self._on_line = on_line
        self._parts: list[str] = []
        self._pending = ""

    def write(self, text: str) -> int:
        self._parts.append(text)
        if self._on_line is not None:
            lines = (self._pending + text).split("\n")
            self._pending = lines.pop()
            for line in lines:
                self._on_line(line + "\n")
        return len(text)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def end(self) -> None:
        """The program ended: a last line without a newline is handed on too."""
        if self._on_line is not None and self._pending:
            self._on_line(self._pending)
        self._pending = ""

    def getvalue(self) -> str:
        return "".join(self._parts)


@dataclass(frozen=True)
class Outcome:
    """How a call ended: its exit code (:data:`KILLED` when stopped at its deadline) and
    what it wrote."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.exit_code == KILLED


class _Deadline:
    """Stops the call once ``seconds`` have passed, unless it finished first (a program
    that exits just as its deadline passes is not killed)."""

    def __init__(self, seconds: float | None, entry: process.Call) -> None:
        self._entry = entry
        self._lock = threading.Lock()
        self._finished = False
        self._timer: threading.Timer | None = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if not self._finished:
                self._entry.stop.set()

    def finish(self) -> bool:
        """Mark the call finished; True when the deadline stopped it first."""
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._finished = True
            return self._entry.stop.is_set()


def call(
    argv: Sequence[str],
    *,
    environ: Mapping[str, str],
    timeout: float | None = None,
    on_stdout: Callable[[str], None] | None = None,
    on_stderr: Callable[[str], None] | None = None,
) -> Outcome:
    """Run ``talosctl ARGV`` (``argv`` without the program name) in this thread."""
    out, err = LineStream(on_stdout), LineStream(on_stderr)
    entry = process.Call(environ=dict(environ), stdout=out, stderr=err)
    deadline = _Deadline(timeout, entry)
    code = 1
    try:
        with process.running(entry):
            try:
                code = cli.run(list(argv))
            except process.Stopped:
                pass
            except Exception:
                # What Python does with an exception nothing caught: the traceback on
                # stderr, exit code 1.
                err.write(traceback.format_exc())
                code = 1
    finally:
        killed = deadline.finish()
    if killed:
        return Outcome(KILLED, out.getvalue(), err.getvalue())
    out.end()
    err.end()
    return Outcome(code, out.getvalue(), err.getvalue())
