"""tests/inprocess.py: the stand-in and inv run in the test's process give what the
programs give (output, exit codes, timeouts, progress), and leave the process as it was."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import inprocess
import pytest
from conftest import TALOSCTL, Standin

from talos.adapters import env as env_file
from talos.adapters.command import Result, Runner
from talos.errors import CommandError, CommandTimeout

REPO = Path(__file__).resolve().parents[1]
CP1 = "192.168.0.201"
#: Runner.run as the code under test has it without the standin fixture: the program.
PROGRAM_RUN = Runner.run


@pytest.fixture
def talosconfig(standin: Standin, tmp_path: Path) -> Path:
    standin.pitower()
    out = tmp_path / "gen"
    Runner().run([str(TALOSCTL), "gen", "config", "pitower", "https://192.168.0.200:6443",
                  "-o", str(out)])
    return out / "talosconfig"


def both(argv: list[str]) -> tuple[Result, Result]:
    """``argv`` run by the fixture's runner (in this process), then as the program."""
    return Runner().run(argv, check=False), PROGRAM_RUN(Runner(), argv, check=False)


@pytest.mark.parametrize("args", [
    ["version", "--client"],
    ["version", "--colour"],
    ["get", "members", "-o", "json", "--nodes", CP1, "--endpoints", CP1],
    ["get", "nonsense", "--nodes", CP1, "--endpoints", CP1],
    ["reboot", "--nodes", "192.168.0.204", "--endpoints", "192.168.0.204"],
    ["help", "no-such-topic"],
], ids=["offline", "unknown-flag", "json", "unknown-type", "progress", "help"])
def test_a_command_line_gives_what_the_program_gives(
    standin: Standin, talosconfig: Path, args: list[str]
) -> None:
    argv = [str(TALOSCTL), *args]
    if "--nodes" in args:
        argv += ["--talosconfig", str(talosconfig)]
    here, program = both(argv)
    assert (here.exit_code, here.stdout) == (program.exit_code, program.stdout)
    assert mask_times(here.stderr) == mask_times(program.stderr)
    logged = [entry["pid"] for entry in standin.log()[-2:]]
    assert logged[0] == os.getpid() != logged[1]  # one here, one a program


def mask_times(text: str) -> str:
    """Progress lines carry the time they were written and a fresh actor ID."""
    text = re.sub(r"actor ID: [0-9a-f-]+", "actor ID: ID", text)
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \+0000 UTC m=\+[\d.]+", "TIME", text)


def test_progress_lines_arrive_one_by_one_without_their_newline(
    standin: Standin, talosconfig: Path
) -> None:
    lines: list[str] = []
    result = Runner().run([str(TALOSCTL), "reboot", "--talosconfig", str(talosconfig),
                           "--nodes", "192.168.0.204", "--endpoints", "192.168.0.204"],
                          progress=lines.append)
    assert lines and all("\n" not in line for line in lines)
    assert "\n".join(lines) + "\n" == result.stdout + result.stderr


def test_a_failure_is_the_runners_command_error(standin: Standin, talosconfig: Path) -> None:
    with pytest.raises(CommandError, match=r"version --colour failed \(exit code 1\)") as caught:
        Runner().run([str(TALOSCTL), "version", "--colour"])
    assert caught.value.exit_code == 1
    assert caught.value.stderr.startswith("unknown flag: --colour")


def test_a_call_past_its_deadline_is_stopped_logs_nothing_and_is_a_timeout(
    standin: Standin, talosconfig: Path
) -> None:
    state = standin.state()
    state["latency"] = 600.0
    standin.set_state(state)
    before = len(standin.log())
    with pytest.raises(CommandTimeout, match=r"timed out after 0\.2s and was stopped"):
        Runner().run([str(TALOSCTL), "version", "--talosconfig", str(talosconfig),
                      "--nodes", CP1, "--endpoints", CP1], timeout=0.2, mutates=False)
    assert len(standin.log()) == before  # as a killed program, it wrote no log line


def test_a_dry_runner_only_echoes_what_changes(standin: Standin, talosconfig: Path) -> None:
    echoed: list[str] = []
    before = standin.state()
    Runner(dry=True, echo=echoed.append).run(
        [str(TALOSCTL), "reboot", "--talosconfig", str(talosconfig), "--nodes", CP1])
    assert echoed == [f"{TALOSCTL} reboot --talosconfig {talosconfig} --nodes {CP1}"]
    assert standin.state() == before


def test_another_program_still_runs_as_a_program(standin: Standin) -> None:
    result = Runner().run([sys.executable, "-c", "import os; print(os.getpid())"])
    assert int(result.stdout) != os.getpid()


@pytest.mark.e2e
def test_inv_gives_what_the_program_gives_and_leaves_the_process_as_it_was(
    tmp_path: Path
) -> None:
    env = {**os.environ, "TALOS_CLUSTER_FILE": str(REPO / "cluster.yaml"), "MARK": "1"}
    before = dict(os.environ), os.getcwd(), sys.stdout, list(sys.path)
    here = inprocess.inv(["--search-root", str(REPO), "nodes"], cwd=tmp_path, env=env)
    assert (dict(os.environ), os.getcwd(), sys.stdout, list(sys.path)) == before
    program = subprocess.run(
        [sys.executable, "-c", "from invoke.main import program; program.run()",
         "--search-root", str(REPO), "nodes"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert (here.returncode, here.stdout, here.stderr) == (
        program.returncode, program.stdout, program.stderr)
    assert here.returncode == 0 and "worker-pi-03" in here.stdout


def test_a_second_inv_in_the_same_project_reads_its_env_file_again(tmp_path: Path) -> None:
    # As two programs would: each run reads `.env` afresh, so both refuse its cluster file.
    (tmp_path / "cluster.yaml").write_text((REPO / "cluster.yaml").read_text())
    (tmp_path / ".env").write_text("TALOS_CLUSTER_FILE=nope.yaml\n")
    env = {name: value for name, value in os.environ.items()
           if name not in ("TALOS_CLUSTER_FILE", "TALOSCTL")}
    before = set(env_file._loaded)
    runs = [inprocess.inv(["--search-root", str(REPO), "nodes"], cwd=tmp_path, env=env)
            for _ in range(2)]
    assert env_file._loaded == before
    assert [run.returncode for run in runs] == [2, 2]
    assert all(f"TALOS_CLUSTER_FILE={tmp_path / 'nope.yaml'}: no such file" in run.stderr
               for run in runs)
