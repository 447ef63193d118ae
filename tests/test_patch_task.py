"""inv patch --output: written 0600 and atomically, and only over a regular file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from talos.errors import OutputError
from talos.tasks.patch import write_output


def test_output_replaces_a_regular_file_0600(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    target.write_text("old")
    target.chmod(0o644)
    write_output(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_output_that_is_a_device_fifo_or_folder_is_refused_and_left_alone(
    tmp_path: Path, kind: str
) -> None:
    if kind == "device":
        target = Path("/dev/null")
    else:
        target = tmp_path / "out"
        os.mkfifo(target) if kind == "fifo" else target.mkdir()
    before = target.lstat()
    with pytest.raises(OutputError, match="not a regular file"):
        write_output(target, "secret config\n")
    after = target.lstat()
    assert (stat.S_IFMT(after.st_mode), after.st_ino) == (stat.S_IFMT(before.st_mode),
                                                          before.st_ino)
