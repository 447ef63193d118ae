"""The environment a task runs in: the project folder and its `.env`.

Tasks run from the project folder or any folder below it, as ``inv`` finds
``tasks.py``: the project folder is the nearest one, from the current directory
upwards, that holds ``cluster.yaml``.

`.env` in the project folder adds variables to the process environment, never
replacing one already set: the settings' variables (``TALOS_CLUSTER_FILE``,
``TALOSCTL``, ``TALOS_TASKS_TALOSCONFIG``, ``TALOS_FACTORY_URL``, the release URLs: see
:mod:`talos.adapters.settings`, which reads them) and sops' own (``SOPS_AGE_KEY_FILE``,
``SOPS_AGE_KEY``, read by sops).

In `.env`, a relative path (``SOPS_AGE_KEY_FILE=age.key``, ``TALOSCTL=bin/talosctl``)
is taken from the project folder, wherever the task runs from; ``~`` is the home
folder. A bare program name in ``TALOSCTL`` is still looked up on PATH. A `.env` that
cannot be read or is not UTF-8 is :class:`~talos.errors.EnvFileError`, in one line.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from talos.errors import EnvFileError

DEFAULT_CLUSTER_FILE = "cluster.yaml"

_loaded: set[Path] = set()


def project_dir(start: Path | None = None) -> Path:
    """The nearest folder from ``start`` (default: the current directory) upwards that
    holds ``cluster.yaml``; ``start`` itself when none does."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_CLUSTER_FILE).is_file():
            return folder
    return here


#: Variables whose value is a file: relative values in `.env` are from the project folder
#: (sops' key file, and the settings of that kind: see :mod:`talos.adapters.settings`).
PATH_VARIABLES = ("SOPS_AGE_KEY_FILE", "TALOS_CLUSTER_FILE", "TALOS_TASKS_TALOSCONFIG",
                  "TALOSCTL")


def load_env(directory: Path | None = None) -> Path | None:
    """Load ``directory/.env`` (default: the project folder) into ``os.environ``.

    Existing variables are never overridden; relative paths are made absolute (see the
    module docstring). Returns the file loaded, if any. Loading the same file twice in
    one process is a no-op.
    """
    path = (directory or project_dir()) / ".env"
    if not path.is_file():
        return None
    resolved = path.resolve()
    if resolved in _loaded:
        return resolved
    # lazy: 2 ms at start-up, which `inv --list` would pay (this module declares the
    # settings' defaults) though it reads no `.env`
    from dotenv import dotenv_values

    try:
        text = resolved.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = resolved.read_bytes()[: exc.start].count(b"\n") + 1
        raise EnvFileError(f"{path}:{line}: not UTF-8 text; save the file as UTF-8") from None
    except OSError as exc:
        raise EnvFileError(f"cannot read {path}: {exc.strerror or exc}; make it readable "
                           "by you (chmod 600) or remove it") from None
    for name, value in dotenv_values(stream=io.StringIO(text)).items():
        if value is None or name in os.environ:
            continue
        os.environ[name] = from_project(name, value, resolved.parent)
    _loaded.add(resolved)
    return resolved


def from_project(name: str, value: str, root: Path) -> str:
    """``value`` of variable ``name`` from `.env`, a path made absolute from ``root``."""
    if name not in PATH_VARIABLES or not value:
        return value
    return absolute_from(value, root, program=name == "TALOSCTL")


def absolute_from(value: str, root: Path, *, program: bool = False) -> str:
    """The path ``value`` (``~`` expanded) made absolute from ``root``; with ``program``,
    a bare name stays as it is, to be looked up on PATH."""
    if program and "/" not in value and not value.startswith("~"):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else root / path)
