"""`.env`: paths from the project folder wherever a task runs, unreadable files in one
line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from talos.adapters import env
from talos.errors import EnvFileError

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]
NAMES = ("SOPS_AGE_KEY_FILE", "TALOSCTL", "TALOS_CLUSTER_FILE", "TALOS_TASKS_TALOSCONFIG",
         "EXTRA")


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(env, "_loaded", set())
    yield
    for name in NAMES:
        os.environ.pop(name, None)


def project(tmp_path: Path, dotenv: bytes) -> Path:
    root = tmp_path / "project"
    (root / "patches" / "nodes").mkdir(parents=True)
    (root / "cluster.yaml").write_text("name: x\n")
    (root / ".env").write_bytes(dotenv)
    return root


def test_relative_paths_are_from_the_project_folder_wherever_the_task_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, b"SOPS_AGE_KEY_FILE=age.key\nTALOSCTL=tests/bin/talosctl\n"
                             b"TALOS_TASKS_TALOSCONFIG=./tc\nEXTRA=relative/kept\n")
    monkeypatch.chdir(root / "patches" / "nodes")
    assert env.load_env() == root / ".env"
    assert os.environ["SOPS_AGE_KEY_FILE"] == str(root / "age.key")
    assert os.environ["TALOSCTL"] == str(root / "tests" / "bin" / "talosctl")
    assert os.environ["TALOS_TASKS_TALOSCONFIG"] == str(root / "tc")
    assert os.environ["EXTRA"] == "relative/kept"


def test_program_names_absolute_paths_home_and_the_process_environment_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, b"TALOSCTL=talosctl\nSOPS_AGE_KEY_FILE=~/keys.txt\n"
                             b"TALOS_CLUSTER_FILE=/abs/cluster.yaml\n"
                             b"TALOS_TASKS_TALOSCONFIG=from-dotenv\n")
    monkeypatch.setenv("TALOS_TASKS_TALOSCONFIG", "mine")
    env.load_env(root)
    assert os.environ["TALOSCTL"] == "talosctl"
    assert os.environ["SOPS_AGE_KEY_FILE"] == str(Path("~/keys.txt").expanduser())
    assert os.environ["TALOS_CLUSTER_FILE"] == "/abs/cluster.yaml"
    assert os.environ["TALOS_TASKS_TALOSCONFIG"] == "mine"


def test_a_dotenv_that_is_not_utf8_is_one_line_naming_its_line(tmp_path: Path) -> None:
    root = project(tmp_path, b"A=1\nB=caf\xe9\n")
    with pytest.raises(EnvFileError, match=r"\.env:2: not UTF-8 text") as caught:
        env.load_env(root)
    assert "\n" not in str(caught.value)


def test_an_unreadable_dotenv_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, b"A=1\n")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # as root, chmod 0 would not do
    with pytest.raises(EnvFileError, match=r"cannot read .*\.env: Permission denied"):
        env.load_env(root)


@pytest.mark.e2e
def test_inv_from_a_subfolder_with_a_non_utf8_dotenv_exits_with_one_line(
    tmp_path: Path,
) -> None:
    root = project(tmp_path, b"SOPS_AGE_KEY_FILE=\xff\n")
    result = subprocess.run([*INV, "--search-root", str(REPO), "genconfig"],
                            cwd=root / "patches", capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if k not in NAMES})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {root / '.env'}:1: not UTF-8 text; save the file as UTF-8"]
