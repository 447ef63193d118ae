"""The task namespace as a user meets it: `inv --list`, `inv -h TASK`, `inv nodes`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from invoke.collection import Collection
from invoke.tasks import Task

from talos.tasks import build_namespace

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]


def all_tasks(ns: Collection, prefix: str = "") -> dict[str, Task]:
    found = {f"{prefix}{name}": task for name, task in ns.tasks.items()}
    for name, sub in ns.collections.items():
        found.update(all_tasks(sub, f"{prefix}{name}."))
    return found


def inv(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `inv` as a user would, with this repository's tasks.py, in folder ``cwd``."""
    return subprocess.run(
        [*INV, "--search-root", str(REPO), *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_every_task_has_a_summary_and_help_for_every_argument() -> None:
    tasks = all_tasks(build_namespace())
    assert {"nodes", "genconfig", "apply", "upgrade", "schematics", "status"} <= set(tasks)
    for name, task in tasks.items():
        doc = (task.__doc__ or "").strip()
        assert doc and not doc.startswith("Not built"), f"{name} has no summary"
        for arg in task.get_arguments():
            if arg.name in ("c",):
                continue
            assert arg.help, f"inv {name}: argument --{arg.name} has no help"


@pytest.mark.e2e
def test_inv_list_shows_every_task_with_its_summary() -> None:
    result = inv("--list")
    assert result.returncode == 0, result.stderr
    listed: dict[str, str] = {}  # task name -> its summary, wrapped lines joined
    for line in result.stdout.splitlines()[2:]:
        if line.startswith("  ") and not line.startswith("   "):
            name, _, summary = line.strip().partition(" ")
            listed[name] = re.sub(r"^\s*\([\w.-]+\)", "", summary)  # a default's alias
        elif line.strip() and listed:
            listed[name] += line
    tasks = all_tasks(build_namespace())
    assert sorted(listed) == sorted(tasks)
    for name, task in tasks.items():
        summary = (task.__doc__ or "").strip().splitlines()[0]
        assert "".join(listed[name].split()) == "".join(summary.split()), name


@pytest.mark.e2e
def test_inv_nodes_prints_the_pitower_table() -> None:
    result = inv("nodes", env={"TALOS_CLUSTER_FILE": str(REPO / "cluster.yaml")})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("pitower: https://192.168.0.200:6443")
    assert lines[1].split() == ["NODE", "ROLE", "IP", "SCHEMATIC", "INSTALLER", "IMAGE"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert len(rows) == 9
    assert rows["worker-01"][:4] == ["worker-01", "controlplane", "192.168.0.201", "amd"]
    assert rows["worker-05"][2] == "discovered"
    images = {name: row[4] for name, row in rows.items()}
    assert images["worker-01"].startswith("factory.talos.dev/installer/")
    assert images["worker-01"].endswith(":v1.12.4")
    # one image per schematic: the three classes of machine get three different images
    assert images["worker-01"] == images["worker-03"]
    assert len({images["worker-01"], images["worker-04"], images["worker-pi-01"]}) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: lab\nnodez: []\n", "unknown key 'nodez'"),
        ("name: [\n", "malformed YAML"),
    ],
)
@pytest.mark.e2e
def test_a_bad_cluster_file_is_one_line_and_exit_1(
    tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "cluster.yaml").write_text(text)
    result = inv("nodes", cwd=tmp_path, env={"TALOS_CLUSTER_FILE": ""})
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.e2e
def test_tasks_run_from_a_folder_below_the_project_use_its_cluster_file_and_env(
    tmp_path: Path,
) -> None:
    project = tmp_path / "lab"
    for part in ("cluster.yaml", "patches", "extensions"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, project / part)
        else:
            project.mkdir(exist_ok=True)
            shutil.copy(source, project / part)
    (project / "clusters").mkdir()
    renamed = (REPO / "cluster.yaml").read_text().replace("name: pitower", "name: lab", 1)
    (project / "clusters" / "lab.yaml").write_text(
        renamed.replace("extensions/", "../extensions/").replace("patches/", "../patches/")
    )
    below = project / "patches" / "nodes"
    unset = {k: v for k, v in os.environ.items() if k != "TALOS_CLUSTER_FILE"}
    plain = subprocess.run([*INV, "--search-root", str(REPO), "nodes"], cwd=below, env=unset,
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("pitower: ")
    (project / ".env").write_text("TALOS_CLUSTER_FILE=clusters/lab.yaml\n")
    chosen = subprocess.run([*INV, "--search-root", str(REPO), "nodes"], cwd=below, env=unset,
                            capture_output=True, text=True, timeout=60)
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.startswith("lab: ")
