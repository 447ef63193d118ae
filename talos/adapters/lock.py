"""One rollout per working copy at a time: a lock file beside the generated configs.

Its scope is this checkout's ``clusterconfig/``, not the cluster: a rollout started from
another clone, another machine's checkout or a CI runner holds its own lock and is not
seen here. Run rollouts of one cluster from one place (or one CI job at a time).

``clusterconfig/rollout.lock`` holds who has it (pid, host, task, start time, as JSON) for
as long as a task that changes nodes runs, and an exclusive ``flock`` on it proves the
holder is alive. A second run refuses in one line naming the holder. A lock left behind by
a process that is gone (its flock went with it) is taken over when it was taken on this
host, saying so; one taken on another host is refused, since its process cannot be
checked from here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from talos.errors import RolloutError

LOCK_NAME = "rollout.lock"


def describe(holder: dict[str, Any]) -> str:
    return (f"inv {holder.get('task', '?')} (pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')}, since {holder.get('started', '?')})")


def _read(handle: Any) -> dict[str, Any] | None:
    handle.seek(0)
    text = handle.read()
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {"task": "?", "pid": "?", "host": "?", "started": "?"}
    return data if isinstance(data, dict) else None


def _lock_now(handle: Any, operation: int, path: Path, *, refused: str) -> None:
    """``flock`` ``handle`` without waiting; when another process holds the lock, a
    :class:`RolloutError` saying what is ``refused`` and naming the holder."""
    try:
        fcntl.flock(handle, operation | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        holder = _read(handle) or {}
        raise RolloutError(f"{refused}: {describe(holder)}; wait for it to finish (lock {path})"
                           ) from exc


@contextlib.contextmanager
def rollout_lock(
    folder: Path,
    task: str,
    *,
    say: Callable[[str], None] = lambda line: None,
    host: str | None = None,
    now: Callable[[], float] = time.time,
) -> Iterator[Path]:
    """Hold this working copy's rollout lock for the ``with`` block; :class:`RolloutError`
    when another run holds it."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / LOCK_NAME
    here = host or socket.gethostname()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    handle = os.fdopen(fd, "r+", encoding="utf-8")
    try:
        _lock_now(handle, fcntl.LOCK_EX, path,
                  refused="another rollout from this working copy is running")
        left = _read(handle)
        if left is not None:
            if left.get("host") != here:
                fcntl.flock(handle, fcntl.LOCK_UN)
                raise RolloutError(
                    f"a rollout lock taken on another host is in place: {describe(left)}; "
                    f"if that run is over, remove {path}")
            say(f"taking over the rollout lock of {describe(left)}: that process is gone")
        started = datetime.fromtimestamp(now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": here, "task": task,
                                 "started": started}) + "\n")
        handle.flush()
        try:
            yield path
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def refuse_during_rollout(folder: Path, doing: str) -> None:
    """:class:`RolloutError` naming the holder when another process holds the rollout lock
    of ``folder``, so ``doing`` (regenerating configs) does not change the files of a
    rollout under way. Creates nothing: a folder without a lock file has no rollout."""
    path = folder / LOCK_NAME
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        _lock_now(handle, fcntl.LOCK_SH, path,
                  refused=f"{doing} refused: a rollout from this working copy is running")
        fcntl.flock(handle, fcntl.LOCK_UN)
