"""Replacing a set of files in a folder all together or not at all, durably.

    replace_all(folder, files, last=..., shown=..., switched=None)
                                    write every file of ``files`` into ``folder``
    recover(folder)     -> str|None finish or undo what a killed run left; what was done
    check_targets(folder, names, shown)   OutputError unless each is a regular file or absent

How, so that an interruption at any moment leaves either the complete old set or the
complete new set (and never a temp file after the next start):

1. Every new file is written into a staging folder inside ``folder``
   (``.staging-<pid>-<random>/``, 0700, files 0600). An interruption or an error here
   removes it; ``folder`` was not touched.
2. One durable barrier (``syncfs`` of the file system, else ``sync``) instead of one
   ``fsync`` per file, then the staging folder is renamed ``.commit-<pid>``: that rename
   is the commit point.
3. The files are moved into place (``last``, the record that vouches for the others,
   at the end), the empty commit folder is removed and the folder's entries are made
   durable. Signals wait until this step is done (it is renames only).

A run killed (SIGKILL, power cut) during 1 leaves a staging folder that :func:`recover`
removes; killed during 3, a commit folder that :func:`recover` finishes moving into
place. Folders of a process that is still running are left alone.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from talos.adapters.files import write_new_private
from talos.adapters.interrupts import deferred
from talos.errors import OutputError

STAGING = ".staging-"
COMMIT = ".commit-"
# Temp files of the per-file scheme this replaced (`.<name>.<random>.tmp`).
_OLD_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def check_targets(folder: Path, names: list[str], shown: str) -> None:
    """Refuse before writing anything when a target is not a regular file (a folder, a
    FIFO, a device, a symlink): replacing it would not be what anyone wants."""
    for name in names:
        try:
            info = (folder / name).lstat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot check {shown}/{name}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(
                f"{shown}/{name} is {_kind(info.st_mode)}, not a regular file: move it "
                "away and run again; nothing was written"
            )


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def replace_all(
    folder: Path,
    files: Mapping[str, bytes],
    *,
    last: str | None = None,
    shown: str,
    switched: Callable[[], None] | None = None,
) -> None:
    """Write ``files`` (name -> content, 0600) into ``folder`` together; see the module
    docstring. ``last`` is moved into place after the others; ``switched`` is called
    once the new set is in place (before a signal that waited is let through)."""
    recover(folder)
    check_targets(folder, list(files), shown)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING}{os.getpid()}-", dir=folder))
    committed = False
    try:
        name = ""
        try:
            for name in files:
                _write_new(staging / name, files[name])
            name = ""
            barrier(staging)
        except OSError as exc:
            what = f"{shown}/{name}" if name else f"{shown}/"
            raise OutputError(
                f"cannot write {what}: {exc.strerror or exc}; nothing in {shown}/ was "
                "changed (free some space or make it writable)"
            ) from exc
        order = sorted(files, key=lambda n: n == last)
        commit = folder / f"{COMMIT}{os.getpid()}"
        with deferred():
            try:
                os.rename(staging, commit)
            except OSError as exc:
                raise OutputError(
                    f"cannot replace files in {shown}/: {exc.strerror or exc}; nothing "
                    "was changed"
                ) from exc
            committed = True
            _finish(folder, commit, order)
            if switched is not None:
                switched()
    finally:
        if not committed:
            shutil.rmtree(staging, ignore_errors=True)


def _write_new(path: Path, data: bytes) -> None:
    write_new_private(path, data)


def _finish(folder: Path, commit: Path, order: list[str]) -> None:
    """Move the committed files into place in ``order``, then drop the commit folder."""
    for name in order:
        source = commit / name
        if source.exists():
            os.replace(source, folder / name)
    with contextlib.suppress(OSError):
        commit.rmdir()
    _sync_folder(folder)


def recover(folder: Path) -> str | None:
    """Finish a commit a killed run left half done; remove its staging folders and the
    temp files of older versions. Returns what was done, or None."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return None
    done = []
    for entry in entries:
        if entry.name.startswith(COMMIT) and entry.is_dir() and _dead(entry, COMMIT):
            names = sorted(p.name for p in entry.iterdir())
            # The record of what was written (a dot file: .state.json) goes last.
            order = sorted(names, key=lambda n: n.startswith("."))
            _finish(folder, entry, order)
            done.append(f"finished an interrupted write of {len(names)} file(s)")
        elif entry.name.startswith(STAGING) and entry.is_dir() and _dead(entry, STAGING):
            shutil.rmtree(entry, ignore_errors=True)
            done.append("removed the files of an interrupted run")
        elif _OLD_TEMP.match(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            done.append(f"removed {entry.name}")
    return "; ".join(done) or None


def _dead(entry: Path, prefix: str) -> bool:
    """Whether the process that made ``entry`` (its name carries the PID) is gone."""
    pid = entry.name[len(prefix):].split("-", 1)[0]
    if not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# -- durability ----------------------------------------------------------------------------


@functools.cache
def _load_syncfs() -> Callable[[int], int] | None:
    # ctypes on first use, not at import: 1.1 ms (ctypes and loading libc) that every
    # genconfig run paid, also the ones with nothing to write.
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


def barrier(path: Path) -> None:
    """Make everything written on ``path``'s file system durable: one ``syncfs`` (Linux),
    else one ``sync``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        syncfs = _load_syncfs()
        if syncfs is not None and syncfs(fd) == 0:
            return
        os.sync()
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """Make the folder's entries (the renames) durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
