"""Private folders and private, atomic file writes: one home for how files holding keys
and plaintext reach the disk.

Each variant is named for what it guarantees; pick by name, they are not interchangeable:

    private_folder(folder, shown)        create ``folder`` 0700, or tighten an existing one
    write_new_private(path, data)        a new file, 0600 from its creation; refuses an
                                         existing one (FileExistsError); OSError as is
    write_private_temp(path, data) -> p  the same, for a file in a private temporary folder:
                                         a failure is an OutputError naming TMPDIR
    stage_file(path, data, mode) -> tmp  a synced temp file next to ``path``, ``mode`` set
                                         before the data is written; the caller renames it
    write_atomic(path, data, mode)       replace ``path`` (temp file + os.replace): readers
                                         see the old file or the new one; OSError as is
    replace_private(path, data)          write_atomic with 0600 that also creates the
                                         folder and turns OSError into OutputError

Pure of any policy about which file is which: callers decide what is private.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from talos.errors import OutputError


def private_folder(folder: Path, shown: str) -> None:
    """Create ``folder`` (0700), or make an existing one 0700: it holds keys."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError(20, "Not a directory", str(folder))
        if stat.S_IMODE(info.st_mode) & 0o077:
            if info.st_uid != os.getuid():
                raise OutputError(
                    f"{shown}/ is readable by others (mode {stat.S_IMODE(info.st_mode):o}) "
                    "and not yours to tighten: make it 0700 (chmod 700) or remove it"
                )
            os.chmod(folder, 0o700)
    except OSError as exc:
        raise OutputError(
            f"cannot create {shown}/: {exc.strerror or exc}; nothing was written"
        ) from exc


def write_new_private(path: Path, data: bytes) -> Path:
    """Create ``path`` with mode 0600 and write ``data``; refuses an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    # Written with the os module's calls rather than a file object: genconfig writes a
    # file per node, and a buffered writer around each made 500 of them take 27 ms, not
    # 21 (warm, min of 2).
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    return path


def write_private_temp(path: Path, data: bytes) -> Path:
    """:func:`write_new_private` for a file in a private temporary folder: a failure (disk
    full) is an :class:`OutputError` that says which folder to free or move."""
    try:
        return write_new_private(path, data)
    except FileExistsError:
        raise
    except OSError as exc:
        raise OutputError(
            f"cannot write {path.name} in {path.parent.parent}: {exc.strerror or exc}; "
            "free some space there or point TMPDIR at another folder"
        ) from exc


def stage_file(path: Path, data: bytes, *, mode: int = 0o600) -> Path:
    """Write ``data`` to a new temp file next to ``path``; the caller renames or removes it."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically (temp file in the same folder, os.replace).

    Readers see the old file or the new one, never a part; the mode is set before the
    content is written, so the data is never readable by others.
    """
    temp = stage_file(path, data, mode=mode)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def replace_private(path: Path, data: bytes) -> None:
    """:func:`write_atomic` with mode 0600, creating the folder first; a failure is an
    :class:`OutputError` naming ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, mode=0o600)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
