"""Programs the tests run inside their own process: the talosctl stand-in, behind the
runner the code under test already uses, and ``inv``.

Starting a Python program costs far more than most stand-in calls do, and a run makes
about a thousand of them; the code under test reaches talosctl only through
:class:`talos.adapters.command.Runner`, so the ``standin`` fixture swaps that runner's
``run`` for :func:`standin_run` (what the runner ``start``s then goes through it too,
when the answer is asked for): a command line whose program resolves (on the PATH the
runner would search) to ``tests/bin/talosctl`` goes to the stand-in's in-process entry
point (:func:`standin.inprocess.call`), everything else to the program as before. What
the code under test sees is what :meth:`Runner.run` gives for the program: the same
environment (``env`` added to ours), output, progress lines as they come, exit codes,
``CommandError`` and ``CommandTimeout``; a dry runner still only echoes what changes.
A command line run somewhere else than our working folder (``cwd``) runs the program.

:func:`inv` runs Invoke's own program object in this process, as ``inv ARGS`` would
run in ``cwd`` with the environment ``env`` and ``input`` on stdin, and returns what
``subprocess.run`` would (exit code, stdout, stderr): for tests about what a task does,
not about its process (signals, start-up, a second process holding the lock).

End-to-end tests keep the real thing: any test that starts ``talosctl`` or ``inv`` with
``subprocess`` (they are marked ``e2e``) runs the program, and so does every talosctl an
``inv`` program starts.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from invoke import Program, __version__
from standin import inprocess

from talos.adapters import env as env_file
from talos.adapters.command import Result, Runner, failure, stderr_tail
from talos.errors import CommandTimeout

TALOSCTL = Path(__file__).resolve().parent / "bin" / "talosctl"

RunMethod = Callable[..., Result]


def _is_standin(program: str, env: Mapping[str, str] | None) -> bool:
    """Whether ``program`` is the stand-in, found as the runner finds programs."""
    path = os.pathsep.join(os.get_exec_path(env))
    found = shutil.which(program, path=path)
    return found is not None and os.path.realpath(found) == str(TALOSCTL)


class _Progress:
    """The runner's progress callback: every line as it comes, newline stripped; an error
    in it does not stop the program and is raised once it has finished."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self._progress = progress
        self.error: Exception | None = None

    def line(self, line: str) -> None:
        if self._progress is None or self.error is not None:
            return
        try:
            self._progress(line.rstrip("\n"))
        except Exception as exc:
            self.error = exc


def standin_run(original: RunMethod) -> RunMethod:
    """``Runner.run`` that runs the stand-in in this process, and the rest as ``original``."""

    def run(
        self: Runner,
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
        command = tuple(os.fspath(part) for part in argv)
        full_env = None if env is None else {**os.environ, **env}
        elsewhere = cwd is not None and Path(cwd).resolve() != Path.cwd().resolve()
        if (not command or (self.dry and mutates) or elsewhere
                or not _is_standin(command[0], full_env)):
            return original(self, argv, mutates=mutates, input=input, env=env,
                            timeout=timeout, check=check, progress=progress, binary=binary,
                            cwd=cwd)
        reported = _Progress(progress)
        outcome = inprocess.call(
            command[1:], environ=os.environ if full_env is None else full_env,
            timeout=timeout, on_stdout=None if binary else reported.line,
            on_stderr=reported.line,
        )
        if outcome.killed:
            assert timeout is not None  # only a deadline stops a call
            # As Runner.run reports a program its deadline killed.
            raise CommandTimeout(
                f"{shlex.join(command)} timed out after {timeout:g}s and was stopped",
                command=command,
                stderr=stderr_tail(outcome.stderr),
                hint="the program did not finish in time; check the target is reachable",
            )
        if reported.error is not None:
            raise reported.error
        if binary:
            result = Result(command, outcome.exit_code, "", outcome.stderr,
                            outcome.stdout.encode("utf-8"))
        else:
            result = Result(command, outcome.exit_code, outcome.stdout, outcome.stderr)
        if check and result.exit_code != 0:
            raise failure(result)
        return result

    return run


def patch_runner(monkeypatch: Any) -> None:
    """Make every :class:`Runner` of the test run the stand-in in this process."""
    monkeypatch.setattr(Runner, "run", standin_run(Runner.run))


#: The signals a task may take over while it runs (talos.adapters.interrupts).
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def inv(args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
        input: str = "") -> subprocess.CompletedProcess[str]:
    """``inv ARGS`` run here as the program would run: working folder ``cwd``, environment
    ``env`` (default: ours), ``input`` on a stdin that is not a terminal. Everything the
    run changes in this process (environment, the `.env` files read into it, folder,
    standard streams, signal handlers, the temporary folder, the import path) is put back
    afterwards; each call reads `.env` afresh, as each program would."""
    argv = ["inv", *args]
    saved_env = dict(os.environ)
    saved_env_files = set(env_file._loaded)
    saved_cwd = os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_path = list(sys.path)
    saved_tempdir = tempfile.tempdir
    saved_signals = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    out, err = inprocess.LineStream(), inprocess.LineStream()
    code = 0
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        env_file._loaded.clear()  # a program starts having read no `.env`
        os.chdir(cwd)
        tempfile.tempdir = None  # found again from this run's TMPDIR
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(input), out, err
        program = Program(name="Invoke", binary="inv[oke]", binary_names=["invoke", "inv"],
                          version=__version__)
        try:
            program.run(argv)
        except SystemExit as exc:
            code = _exit_code(exc, err)
        except Exception:
            # What Python does with an exception nothing caught.
            err.write(traceback.format_exc())
            code = 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for signum, handler in saved_signals.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        tempfile.tempdir = saved_tempdir
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        env_file._loaded.clear()
        env_file._loaded.update(saved_env_files)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def _exit_code(exc: SystemExit, err: inprocess.LineStream) -> int:
    """The exit status Python gives ``sys.exit(exc.code)``."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    err.write(f"{exc.code}\n")
    return 1
