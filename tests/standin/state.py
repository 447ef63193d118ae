"""The simulated cluster: a JSON file shared by concurrent invocations, and the call log.

Not a talosctl behaviour: the stand-in's own machinery (how long a reboot takes, when a
node answers again) is guessed, and tests set it.

Every read-modify-write holds an exclusive ``flock`` on ``<state>.lock`` and replaces the
file atomically, so parallel invocations (a rollout upgrading several nodes at once)
never lose each other's changes. Nothing sleeps while holding the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import process

STATE_ENV = "TALOSCTL_STANDIN_STATE"
LOG_ENV = "TALOSCTL_STANDIN_LOG"

NODE_DEFAULTS: dict[str, Any] = {
    "hostname": None,
    "role": "worker",
    "talos_version": "v1.12.4",
    "kubernetes_version": "1.35.0",
    "schematic": None,
    "config": None,
    "staged_config": None,
    "reachable": True,
    "maintenance": False,
    "member": True,
    "bootstrapped": False,
    "stage": "running",
    "ready": True,
    "boots": 1,
    "upgrade_seconds": 0.0,
    "reboot_seconds": 0.0,
    "fail_upgrade": None,
    "extensions": [],
    "images": None,
    "usage": {},
}


def state_path() -> Path | None:
    value = process.environ().get(STATE_ENV)
    return Path(value) if value else None


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(_lock_path(path), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"nodes": {}}
    data: dict[str, Any] = json.loads(text) if text.strip() else {"nodes": {}}
    data.setdefault("nodes", {})
    settle(data)
    return data


def settle(data: dict[str, Any], now: float | None = None) -> None:
    """Finish transitions (reboots, upgrades) whose time has come."""
    moment = time.time() if now is None else now
    for node in data.get("nodes", {}).values():
        pending = node.get("pending")
        if pending and pending.get("at", 0) <= moment:
            node.update(pending.get("changes", {}))
            node.pop("pending", None)


def busy(node: dict[str, Any], now: float | None = None) -> bool:
    """True while the node is down for a reboot or an upgrade."""
    pending = node.get("pending")
    return bool(pending) and pending.get("at", 0) > (time.time() if now is None else now)


def _write(path: Path, data: dict[str, Any]) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(temp, path)


def load() -> dict[str, Any]:
    """A snapshot of the state (empty cluster when no state file is configured)."""
    path = state_path()
    if path is None:
        return {"nodes": {}}
    with _locked(path):
        return _read(path)


@contextlib.contextmanager
def update() -> Iterator[dict[str, Any]]:
    """Read, let the caller change, write back: all under the lock."""
    path = state_path()
    if path is None:
        yield {"nodes": {}}
        return
    with _locked(path):
        data = _read(path)
        yield data
        _write(path, data)


def node_view(data: dict[str, Any], ip: str) -> dict[str, Any] | None:
    """The node at ``ip`` with defaults filled in, or None when the state has no such node."""
    raw = data.get("nodes", {}).get(ip)
    if raw is None:
        return None
    view = {**NODE_DEFAULTS, **raw}
    if view["hostname"] is None:
        view["hostname"] = "talos-" + ip.replace(".", "-").replace(":", "-")
    return view


def log_call(argv: list[str], start: float, end: float, exit_code: int) -> None:
    target = process.environ().get(LOG_ENV)
    if not target:
        return
    line = json.dumps({
        "argv": argv,
        "env_talosconfig": process.environ().get("TALOSCONFIG"),
        "time": start,
        "end": end,
        "exit": exit_code,
        "pid": os.getpid(),
    }) + "\n"
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
