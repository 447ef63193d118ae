"""Replacing a set of files all together: targets checked, folders private, leftovers
of killed runs finished or removed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from talos.adapters import files, fileset
from talos.errors import OutputError


def test_every_file_is_written_0600_and_nothing_else_is_left(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("old a")
    fileset.replace_all(tmp_path, {"a.yaml": b"new a", "b.yaml": b"new b", ".rec": b"r"},
                        last=".rec", shown="out")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".rec", "a.yaml", "b.yaml"]
    assert (tmp_path / "a.yaml").read_bytes() == b"new a"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["folder", "fifo", "symlink"])
def test_a_target_that_is_not_a_regular_file_is_refused_before_anything_is_written(
    tmp_path: Path, kind: str
) -> None:
    (tmp_path / "a.yaml").write_text("old a")
    odd = tmp_path / "b.yaml"
    if kind == "folder":
        odd.mkdir()
    elif kind == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match=r"out/b\.yaml is a .*, not a regular file"):
        fileset.replace_all(tmp_path, {"a.yaml": b"new", "b.yaml": b"new"}, shown="out")
    assert (tmp_path / "a.yaml").read_text() == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml"]


def test_a_loose_output_folder_is_tightened_to_0700(tmp_path: Path) -> None:
    folder = tmp_path / "clusterconfig"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    files.private_folder(folder, "clusterconfig")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    fresh = tmp_path / "new"
    files.private_folder(fresh, "new")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_recover_finishes_a_dead_runs_commit_and_drops_its_staging(tmp_path: Path) -> None:
    dead = 2**22 + 12345  # above the usual pid_max: no such process
    (tmp_path / "a.yaml").write_text("new a")  # moved before the run was killed
    (tmp_path / "b.yaml").write_text("old b")
    (tmp_path / ".rec").write_text("old record")
    commit = tmp_path / f".commit-{dead}"
    commit.mkdir()
    (commit / "b.yaml").write_text("new b")
    (commit / ".rec").write_text("new record")
    staging = tmp_path / f".staging-{dead}-abcdefgh"
    staging.mkdir()
    (staging / "a.yaml").write_text("half")
    (tmp_path / ".a.yaml.k2j4_9xz.tmp").write_text("old scheme")
    live = tmp_path / f".staging-{os.getppid()}-abcdefgh"
    live.mkdir()
    assert fileset.recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".rec", live.name, "a.yaml", "b.yaml"]
    assert (tmp_path / "b.yaml").read_text() == "new b"
    assert (tmp_path / ".rec").read_text() == "new record"
    assert fileset.recover(tmp_path) is None


def test_one_durable_barrier_for_the_whole_set_not_one_fsync_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    barriers: list[Path] = []
    fsyncs: list[int] = []
    real_barrier, real_fsync = fileset.barrier, os.fsync
    monkeypatch.setattr(fileset, "barrier", lambda p: (barriers.append(p), real_barrier(p)))
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    files = {f"node-{i:03d}.yaml": b"config %d\n" % i for i in range(200)}
    fileset.replace_all(tmp_path, files, shown="out")
    assert len(barriers) == 1
    assert len(fsyncs) <= 1  # the folder's entries, after the renames
    assert len(list(tmp_path.iterdir())) == 200
