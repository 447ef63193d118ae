"""The runner: real programs (this Python), every way a command can fail, dry runs."""

from __future__ import annotations

import hashlib
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
import sh

from talos.adapters import command
from talos.adapters.command import Result, Runner
from talos.errors import CommandError, CommandTimeout, ToolMissingError

PY = sys.executable


def script(code: str) -> list[str]:
    return [PY, "-c", code]


def test_a_command_runs_and_its_output_and_exit_code_are_kept() -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr)"
    result = Runner().run(script(code), mutates=False)
    assert result == Result((PY, "-c", code), 0, "out\n", "err\n")
    assert result.ok


def test_a_failing_command_raises_one_line_with_command_exit_code_and_stderr_tail() -> None:
    noisy = "import sys; [print(f'line {i}', file=sys.stderr) for i in range(50)]; sys.exit(3)"
    with pytest.raises(CommandError) as caught:
        Runner().run(script(noisy))
    error = caught.value
    assert "\n" not in str(error)
    assert "exit code 3" in str(error)
    assert "line 49" in str(error)
    assert error.returncode == 3
    assert error.command == (PY, "-c", noisy)
    tail = error.stderr.splitlines()
    assert tail[-1] == "line 49"
    assert len(tail) == command.STDERR_TAIL_LINES


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("print('progress'); print('the real error', file=sys.stderr)", "the real error"),
        ("print('said on stdout'); print('', file=sys.stderr)", "said on stdout"),
        ("pass", "no output"),
    ],
    ids=["stderr over stdout", "stdout when stderr is empty", "neither"],
)
def test_a_failure_names_the_last_line_of_stderr_else_of_stdout(code: str, why: str) -> None:
    with pytest.raises(CommandError) as caught:
        Runner().run(script(f"import sys; {code}; sys.exit(2)"))
    assert str(caught.value).endswith(f"failed (exit code 2): {why}")


def test_check_false_returns_the_failed_result_instead_of_raising() -> None:
    result = Runner().run(script("import sys; sys.exit(1)"), check=False)
    assert result.exit_code == 1
    assert not result.ok


def test_a_missing_program_says_how_to_install_it() -> None:
    with pytest.raises(ToolMissingError) as caught:
        Runner().run(["/nonexistent/bin/talosctl", "version", "--client"], mutates=False)
    message = str(caught.value)
    assert "talosctl is not installed" in message
    assert "TALOSCTL" in message
    assert "\n" not in message


def test_a_missing_unknown_program_still_gets_a_hint() -> None:
    with pytest.raises(ToolMissingError, match="install no-such-tool-xyz or put it on PATH"):
        Runner().run(["no-such-tool-xyz"])


@pytest.mark.parametrize("on_path", [False, True], ids=["by its path", "found on PATH"])
def test_a_program_that_is_not_executable_is_a_command_error(
    tmp_path: Path, on_path: bool
) -> None:
    program = tmp_path / "talosctl"
    program.write_text("#!/bin/sh\necho hi\n")
    program.chmod(0o644)
    with pytest.raises(CommandError, match="permission denied") as caught:
        if on_path:
            Runner().run(["talosctl"], env={"PATH": str(tmp_path)})
        else:
            Runner().run([str(program)])
    assert not isinstance(caught.value, ToolMissingError)


def test_a_dry_runner_echoes_commands_that_change_things_and_runs_none(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    echoed: list[str] = []
    argv = script(f"open({str(marker)!r}, 'w').write('x')")
    result = Runner(dry=True, echo=echoed.append).run(argv)
    assert not marker.exists()
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    assert echoed == [shlex.join(argv)]


def test_a_dry_runner_echo_is_a_shell_line_that_reads_back_to_the_same_argv() -> None:
    echoed: list[str] = []
    argv = ["talosctl", "upgrade", "--image", "factory.talos.dev/installer/abc:v1.12.4",
            "--nodes", "192.168.0.201", "--timeout", "10m 30s"]
    Runner(dry=True, echo=echoed.append).run(argv)
    assert shlex.split(echoed[0]) == argv


def test_a_dry_runner_still_runs_reads() -> None:
    echoed: list[str] = []
    result = Runner(dry=True, echo=echoed.append).run(script("print('fact')"), mutates=False)
    assert result.stdout == "fact\n"
    assert echoed == []


def test_a_command_that_runs_too_long_is_stopped_and_reported_as_timed_out() -> None:
    # The error is only raised for a program the limit killed: one left to sleep its 30 s
    # would end by itself and fail the `raises`.
    with pytest.raises(CommandTimeout, match=r"timed out after 0\.3s") as caught:
        Runner().run(script("import time; time.sleep(30)"), timeout=0.3, mutates=False)
    assert "\n" not in str(caught.value)


def test_a_time_limit_is_not_sh_polling_and_is_gone_once_the_program_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # sh's own limit (`_timeout`) is watched by a thread polling every 0.1 s that each
    # command waits for when it ends: ten quick reads would cost a second.
    options: list[dict[str, object]] = []
    call = sh.Command.__call__

    def recording(self: object, *args: object, **kwargs: object) -> object:
        options.append(kwargs)
        return call(self, *args, **kwargs)

    monkeypatch.setattr(sh.Command, "__call__", recording)
    runner = Runner()
    for _ in range(10):
        assert runner.run(["true"], mutates=False, timeout=60).ok
    assert len(options) == 10 and not any("_timeout" in given for given in options)
    lingering = [t for t in threading.enumerate()
                 if isinstance(t, threading.Timer) and not t.finished.is_set()]
    assert lingering == [], "a finished program's time limit is still waiting"


def test_input_is_fed_to_the_program() -> None:
    result = Runner().run(script("import sys; print(sys.stdin.read().upper())"), input="abc")
    assert result.stdout == "ABC\n"


def test_env_is_added_to_the_current_environment_not_replacing_it() -> None:
    code = "import os; print(os.environ['TALOS_X'], 'PATH' in os.environ)"
    result = Runner().run(script(code), env={"TALOS_X": "1"})
    assert result.stdout == "1 True\n"


def test_progress_receives_every_line_as_it_comes_and_the_output_is_still_kept(
    tmp_path: Path,
) -> None:
    # The program says "two" only once "one" has reached the callback (which answers by
    # creating a file): progress reported at the end would leave it saying "late".
    answer = tmp_path / "one-seen"
    code = (
        "import os, sys, time\n"
        "print('one', flush=True)\n"
        "deadline = time.monotonic() + 60\n"
        f"while not os.path.exists({str(answer)!r}) and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        f"print('two' if os.path.exists({str(answer)!r}) else 'late', file=sys.stderr,"
        " flush=True)\n"
    )
    seen: list[str] = []

    def progress(line: str) -> None:
        seen.append(line)
        if line == "one":
            answer.touch()

    result = Runner().run(script(code), progress=progress)
    assert seen == ["one", "two"]
    assert result.stdout == "one\n" and result.stderr == "two\n"


def test_ctrl_c_propagates_and_the_program_does_not_outlive_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(command, "INTERRUPT_GRACE", 0.2)
    pids: list[int] = []

    def interrupt_once_started(line: str) -> None:
        pids.append(int(line))
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()

    with pytest.raises(KeyboardInterrupt):
        Runner().run(
            script("import os, time; print(os.getpid(), flush=True); time.sleep(30)"),
            progress=interrupt_once_started,
        )
    assert pids
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


class Terminated(KeyboardInterrupt):
    """An interruption that reached only this process (a SIGTERM turned into one)."""


def test_an_interruption_the_program_did_not_get_is_passed_on_to_it_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(command, "INTERRUPT_GRACE", 20.0)
    said: list[str] = []

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGUSR1, terminate)
    code = ("import os, signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: (print('got SIGTERM', flush=True), "
            "sys.exit(0)))\n"
            "print('ready', flush=True); time.sleep(30)")
    try:
        with pytest.raises(Terminated):
            Runner().run(
                script(code),
                progress=lambda line: (said.append(line), line == "ready" and threading.Timer(
                    0.1, os.kill, (os.getpid(), signal.SIGUSR1)).start()),
            )
    finally:
        signal.signal(signal.SIGUSR1, previous)
    # It heard of the interruption from us: the grace would have ended in a kill instead.
    assert "got SIGTERM" in said


def test_the_program_writes_to_a_pipe_not_a_terminal() -> None:
    code = "import sys; print(sys.stdout.isatty(), sys.stderr.isatty(), sys.stdin.isatty())"
    result = Runner().run(script(code), mutates=False)
    assert result.stdout == "False False False\n"


def test_without_input_the_program_reads_an_empty_stdin() -> None:
    result = Runner().run(script("import sys; print(repr(sys.stdin.read()))"), timeout=10)
    assert result.stdout == "''\n"


def test_bytes_input_reaches_the_program_unchanged() -> None:
    data = bytes(range(256)) * 40  # not UTF-8, and more than one pipe write
    code = "import sys, hashlib; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"
    result = Runner().run(script(code), input=data)
    assert result.stdout == hashlib.sha256(data).hexdigest() + "\n"


def test_binary_keeps_stdout_as_the_raw_bytes_the_program_wrote() -> None:
    data = bytes(range(256)) * 1000 + b"\r\n\x00no newline at the end"
    code = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"
    result = Runner().run(script(code), input=data, binary=True)
    assert result.stdout_bytes == data
    assert result.stdout == ""


def test_without_binary_stdout_bytes_stay_empty_and_bad_utf8_is_replaced() -> None:
    code = "import sys; sys.stdout.buffer.write(b'caf\\xe9 ok\\n')"
    result = Runner().run(script(code), mutates=False)
    assert result.stdout == "caf\ufffd ok\n"
    assert result.stdout_bytes == b""


def test_text_input_is_sent_as_utf8() -> None:
    code = "import sys; print(sys.stdin.buffer.read().hex())"
    result = Runner().run(script(code), input="é\n")
    assert result.stdout == "c3a90a\n"


def test_with_binary_progress_still_receives_the_stderr_lines() -> None:
    seen: list[str] = []
    code = "import sys; sys.stdout.buffer.write(b'\\x00\\x01'); print('step', file=sys.stderr)"
    result = Runner().run(script(code), binary=True, progress=seen.append)
    assert seen == ["step"]
    assert result.stdout_bytes == b"\x00\x01" and result.stderr == "step\n"


def test_a_program_killed_by_a_signal_has_a_negative_exit_code() -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    result = Runner().run(script(code), check=False)
    assert result.exit_code == -signal.SIGKILL
    with pytest.raises(CommandError, match=r"exit code -9"):
        Runner().run(script(code))


@pytest.mark.slow
def test_a_timeout_keeps_what_the_program_said_before_it_was_stopped() -> None:
    code = (
        "import sys, time\n"
        "print('waiting for 10.0.0.9', file=sys.stderr, flush=True)\n"
        "time.sleep(30)\n"
    )
    with pytest.raises(CommandTimeout) as caught:
        Runner().run(script(code), timeout=1.0)
    assert caught.value.stderr == "waiting for 10.0.0.9"


def test_a_program_is_looked_for_on_the_path_given_in_env(tmp_path: Path) -> None:
    program = tmp_path / "talosctl-xyz"
    program.write_text("#!/bin/sh\necho found\n")
    program.chmod(0o755)
    result = Runner().run(["talosctl-xyz"], env={"PATH": f"{tmp_path}{os.pathsep}/usr/bin:/bin"})
    assert result.stdout == "found\n"


def test_a_file_that_is_no_program_is_a_command_error_not_a_crash(tmp_path: Path) -> None:
    program = tmp_path / "talosctl"
    program.write_bytes(b"\x7fELF not really")
    program.chmod(0o755)
    with pytest.raises(CommandError, match=r"cannot run .*talosctl") as caught:
        Runner().run([str(program)])
    assert "\n" not in str(caught.value)
    assert not isinstance(caught.value, ToolMissingError)


def test_a_script_whose_interpreter_is_missing_is_reported_as_a_missing_tool(
    tmp_path: Path,
) -> None:
    program = tmp_path / "talosctl"
    program.write_text("#!/nonexistent/interpreter\n")
    program.chmod(0o755)
    with pytest.raises(ToolMissingError, match="talosctl is not installed"):
        Runner().run([str(program)])


def test_the_program_is_not_shielded_from_hangups() -> None:
    # Running in sh's background mode must not make the program outlive the terminal.
    code = "import signal; print(signal.getsignal(signal.SIGHUP) == signal.SIG_DFL)"
    assert Runner().run(script(code)).stdout == "True\n"


def test_an_error_in_the_progress_callback_reaches_the_caller_after_the_program_ends(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "finished"
    code = f"print('a', flush=True); print('b'); open({str(marker)!r}, 'w').close()"

    def fail(line: str) -> None:
        raise RuntimeError(f"cannot show {line}")

    with pytest.raises(RuntimeError, match="cannot show a"):
        Runner().run(script(code), progress=fail)
    assert marker.exists()


def test_runs_from_several_threads_at_once_each_get_their_own_output() -> None:
    results: dict[int, Result] = {}

    def run(index: int) -> None:
        code = f"import sys; print({index}); print('e{index}', file=sys.stderr)"
        results[index] = Runner().run(script(code), input=str(index))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {i: (r.stdout, r.stderr) for i, r in results.items()} == {
        i: (f"{i}\n", f"e{i}\n") for i in range(8)
    }


def test_a_result_built_the_old_way_has_no_raw_stdout() -> None:
    result = Result(("true",), 0, "", "")
    assert result.stdout_bytes == b""


def test_the_program_stays_in_our_process_group_so_a_terminal_ctrl_c_reaches_it() -> None:
    result = Runner().run(script("import os; print(os.getpgrp())"), mutates=False)
    assert result.stdout == f"{os.getpgrp()}\n"


def test_the_adapters_import_sh_and_httpx_only_when_a_program_runs_or_a_request_goes() -> None:
    # Both take tens of milliseconds to import; a task that imports the adapters and
    # runs nothing must not pay for them.
    script = ("import sys\n"
              "import talos.adapters.command, talos.adapters.factory, talos.adapters.talosctl\n"
              "import talos.adapters.sops\n"
              "print(sorted(m for m in ('sh', 'httpx') if m in sys.modules))\n"
              "talos.adapters.command.Runner().run([sys.executable, '-c', ''])\n"
              "print(sorted(m for m in ('sh', 'httpx') if m in sys.modules))\n")
    result = Runner().run([PY, "-c", script], mutates=False)
    assert result.stdout.splitlines() == ["[]", "['sh']"]


# -- starting now, answering later ---------------------------------------------------------


def test_a_started_program_runs_while_the_caller_works_and_wait_gives_its_result(
    tmp_path: Path,
) -> None:
    # The program says it runs, then waits for the caller: a start that ran nothing
    # until asked would leave no sign, one that waited for the end would never return.
    running, flag = tmp_path / "running", tmp_path / "flag"
    code = (f"import os, time\nopen({str(running)!r}, 'w').close()\n"
            f"while not os.path.exists({str(flag)!r}): time.sleep(0.01)\nprint('saw it')")
    with Runner().start(script(code), mutates=False, timeout=20) as started:
        assert _appears(running), "the program did not start before it was waited for"
        flag.write_text("")
        result = started.wait()
    assert result == Result((PY, "-c", code), 0, "saw it\n", "")
    assert started.wait() is result  # asked again: the same answer, nothing run again


def _appears(path: Path, within: float = 20.0) -> bool:
    waited = 0.0
    while not path.exists() and waited < within:
        threading.Event().wait(0.01)
        waited += 0.01
    return path.exists()


def test_a_started_program_fails_at_wait_as_run_would_fail() -> None:
    started = Runner().start(script("import sys; print('bad', file=sys.stderr); sys.exit(4)"),
                             mutates=False)
    with started, pytest.raises(CommandError, match=r"exit code 4\): bad"):
        started.wait()


def test_a_missing_program_is_reported_when_the_answer_is_asked_for_not_at_the_start() -> None:
    started = Runner().start(["talos-tasks-no-such-program", "x"], mutates=False)
    with pytest.raises(ToolMissingError, match="not installed"):
        started.wait()


def test_leaving_the_block_without_waiting_stops_the_program_and_reaps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(command, "INTERRUPT_GRACE", 0.5)
    pid_file = tmp_path / "pid"
    code = (f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
            "time.sleep(30)")
    with Runner().start(script(code), mutates=False) as started:
        assert _appears(pid_file), "the program did not start"
        while not pid_file.read_text():  # created, not yet written
            threading.Event().wait(0.01)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # gone, and no zombie left: it was reaped
        os.kill(pid, 0)
    with pytest.raises(CommandError, match="stopped before it was waited for"):
        started.wait()


def test_a_dry_runner_starts_nothing_that_changes_things(tmp_path: Path) -> None:
    echoed: list[str] = []
    target = tmp_path / "made"
    with Runner(dry=True, echo=echoed.append).start(["touch", str(target)]) as started:
        assert started.wait().exit_code == 0
    assert not target.exists()
    assert echoed == [f"touch {target}"]


def test_a_runner_whose_run_is_replaced_runs_the_program_through_it_when_asked() -> None:
    asked: list[tuple[str, ...]] = []

    class Answering(Runner):
        def run(self, argv: Sequence[str], **options: object) -> Result:
            asked.append(tuple(argv))
            return Result(tuple(argv), 0, "v1.12.4\n", "")

    started = Answering().start(["talosctl", "version", "--client"], mutates=False)
    assert asked == []  # nothing run yet: it has its own way to run programs
    assert started.wait().stdout == "v1.12.4\n"
    assert asked == [("talosctl", "version", "--client")]
    with Answering().start(["talosctl", "version", "--client"], mutates=False) as left:
        pass
    with pytest.raises(CommandError, match="stopped before it was waited for"):
        left.wait()
    assert len(asked) == 1  # left unasked, it never ran
