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


def load_env(directory: Path | None = None) -> Path | None:
    """Load ``directory/.env`` (default: the project folder) into ``os.environ``.

    Existing variables are never overridden. Returns the file loaded, if any. Loading
    the same file twice in one process is a no-op.
    """
    path = (directory or project_dir()) / ".env"
    if not path.is_file():
        return None
    resolved = path.resolve()
    if resolved not in _loaded:
        from dotenv import load_dotenv

        load_dotenv(resolved, override=False)
        _loaded.add(resolved)
    return resolved


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
