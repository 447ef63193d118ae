"""The Invoke edge: hints for mistyped command lines, one meaning per short flag, typed
numbers in -h, and a clear error outside a project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from invoke.collection import Collection
from invoke.tasks import Task

from talos.tasks import build_namespace
from talos.tasks.cli import SHORT_FLAGS

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]


def inv(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INV, "--search-root", str(REPO), *args], cwd=cwd, capture_output=True, text=True,
        timeout=60, env={**os.environ, "TALOS_CLUSTER_FILE": str(REPO / "cluster.yaml"), **env},
    )


def all_tasks(ns: Collection, prefix: str = "") -> dict[str, Task]:
    found = {f"{prefix}{name}": task for name, task in ns.tasks.items()}
    for name, sub in ns.collections.items():
        found.update(all_tasks(sub, f"{prefix}{name}."))
    return found


@pytest.mark.e2e
def test_a_bare_node_name_asks_whether_node_was_meant() -> None:
    result = inv("apply", "worker-03")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "No idea what 'worker-03' is! Did you mean `--node worker-03`?"
    )


@pytest.mark.e2e
def test_a_misspelt_node_name_suggests_the_closest_node() -> None:
    result = inv("status", "worker-3")
    assert "Did you mean `--node worker-03`?" in result.stderr


@pytest.mark.e2e
def test_a_bare_role_asks_whether_role_was_meant() -> None:
    result = inv("reboot", "controlplane")
    assert "Did you mean `--role controlplane`?" in result.stderr


@pytest.mark.e2e
def test_a_node_for_a_task_without_nodes_says_so() -> None:
    result = inv("nodes", "worker-03")
    assert "`inv nodes` takes no node; `inv -h nodes` lists what it takes." in result.stderr


@pytest.mark.e2e
def test_outside_a_project_the_error_names_the_folder_and_the_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TALOS_CLUSTER_FILE"}
    result = subprocess.run([*INV, "--search-root", str(REPO), "nodes"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: no cluster.yaml in {tmp_path} or any folder above it: run inv in the "
        "project folder (the one holding cluster.yaml, see README) or set TALOS_CLUSTER_FILE"
    )


@pytest.mark.e2e
def test_a_missing_named_cluster_file_is_named(tmp_path: Path) -> None:
    result = inv("nodes", cwd=tmp_path, TALOS_CLUSTER_FILE="lab.yaml")
    assert result.returncode == 2
    assert "TALOS_CLUSTER_FILE=lab.yaml: no such file" in result.stderr


def test_short_flags_mean_one_thing_in_every_task() -> None:
    meanings: dict[str, set[str]] = {}
    for name, task in all_tasks(build_namespace()).items():
        for argument in task.get_arguments():
            for flag in argument.names:
                if len(flag) == 1:
                    meanings.setdefault(flag, set()).add(argument.name)
                    assert SHORT_FLAGS.get(argument.name) == flag, (name, argument.name)
    assert all(len(names) == 1 for names in meanings.values()), meanings
    assert meanings["n"] == {"node"} and meanings["r"] == {"role"}


def test_every_node_and_role_argument_has_its_short_flag() -> None:
    for name, task in all_tasks(build_namespace()).items():
        for argument in task.get_arguments():
            if argument.name in ("node", "role"):
                assert SHORT_FLAGS[argument.name] in argument.names, name


def test_help_shows_numbers_as_numbers() -> None:
    for name, task in all_tasks(build_namespace()).items():
        for argument in task.get_arguments():
            if argument.name in ("parallel", "keep"):
                assert argument.kind is int, (name, argument.name)


@pytest.mark.e2e
def test_explain_path_may_be_left_out_and_a_node_given_as_path_is_caught() -> None:
    result = inv("explain", "worker-01")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: which node? Did you mean `--node worker-01`?"
