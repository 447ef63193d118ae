"""The environment a task runs in: `.env` loading and the variables talos-tasks reads.

Tasks run from the project folder or any folder below it, as ``inv`` finds
``tasks.py``: the project folder is the nearest one, from the current directory
upwards, that holds ``cluster.yaml``.

Variables (from the process environment, else from `.env` in the project folder;
the process environment always wins):

- ``TALOS_CLUSTER_FILE``: the cluster file to use (default ``cluster.yaml`` of the
  project folder); a relative path is taken from the current directory, else from the
  project folder.
- ``SOPS_AGE_KEY_FILE`` / ``SOPS_AGE_KEY``: the age identity sops decrypts with.
- ``TALOSCONFIG``: read by nothing here on purpose; tasks pass ``--talosconfig``
  explicitly (the generated ``clusterconfig/talosconfig``) unless
  ``TALOS_TASKS_TALOSCONFIG`` names another file.
- ``TALOS_FACTORY_URL``: a self-hosted Image Factory instead of the cluster file's.
- ``TALOSCTL``: the talosctl binary to run (default: ``talosctl`` on PATH).

In `.env`, a relative path (``SOPS_AGE_KEY_FILE=age.key``, ``TALOSCTL=bin/talosctl``)
is taken from the project folder, wherever the task runs from; ``~`` is the home
folder. A bare program name in ``TALOSCTL`` is still looked up on PATH. A `.env` that
cannot be read or is not UTF-8 is :class:`~talos.errors.EnvFileError`, in one line.
"""

from __future__ import annotations

import os
from pathlib import Path

CLUSTER_FILE_VARIABLE = "TALOS_CLUSTER_FILE"
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


#: Variables whose value is a file: relative values in `.env` are from the project folder.
PATH_VARIABLES = ("SOPS_AGE_KEY_FILE", CLUSTER_FILE_VARIABLE, "TALOS_TASKS_TALOSCONFIG",
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
    import io

    from dotenv import dotenv_values

    from talos.errors import EnvFileError

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
    if name == "TALOSCTL" and "/" not in value and not value.startswith("~"):
        return value  # a program name, looked up on PATH
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else root / path)


def cluster_file_path() -> Path:
    """The cluster file this invocation uses: ``$TALOS_CLUSTER_FILE`` or the project
    folder's ``cluster.yaml`` (see the module docstring)."""
    named = os.environ.get(CLUSTER_FILE_VARIABLE)
    if not named:
        found = project_dir() / DEFAULT_CLUSTER_FILE
        return found if found.is_file() else Path(DEFAULT_CLUSTER_FILE)
    path = Path(named)
    if path.is_absolute() or path.exists():
        return path
    beside = project_dir() / path
    return beside if beside.exists() else path
