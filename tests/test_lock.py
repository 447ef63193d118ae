"""The rollout lock: one holder at a time, named to the second; stale locks on this host
are taken over, those of another host are not."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from talos.adapters.lock import LOCK_NAME, rollout_lock
from talos.errors import RolloutError

HOLD = """
import sys, time
from pathlib import Path
from talos.adapters.lock import rollout_lock
with rollout_lock(Path(sys.argv[1]), "upgrade"):
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_second_holder_is_refused_with_the_first_named(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(RolloutError) as caught, rollout_lock(tmp_path, "reboot"):
            pass
        assert f"inv upgrade (pid {holder.pid} on " in str(caught.value)
        assert stat.S_IMODE((tmp_path / LOCK_NAME).stat().st_mode) == 0o600
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_dead_process_on_this_host_is_taken_over(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.kill()
    holder.wait()
    said: list[str] = []
    with rollout_lock(tmp_path, "apply", say=said.append):
        content = json.loads((tmp_path / LOCK_NAME).read_text())
        assert content["task"] == "apply" and content["pid"] == os.getpid()
    assert said and f"pid {holder.pid}" in said[0] and "that process is gone" in said[0]
    assert (tmp_path / LOCK_NAME).read_text() == ""  # released


def test_a_lock_of_another_host_is_refused(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text(json.dumps(
        {"pid": 1, "host": "elsewhere", "task": "upgrade", "started": "2026-01-01T00:00:00Z"}))
    with pytest.raises(RolloutError, match=r"taken on another host.*elsewhere"), \
            rollout_lock(tmp_path, "reboot", host="here"):
        pass


def test_released_lock_can_be_taken_again(tmp_path: Path) -> None:
    said: list[str] = []
    with rollout_lock(tmp_path, "upgrade", say=said.append):
        pass
    with rollout_lock(tmp_path, "reboot", say=said.append):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["task"] == "reboot"
    assert said == []  # a cleanly released lock is not a stale one
