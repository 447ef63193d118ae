"""The environment a task runs in: `.env` loading and the variables talos-tasks reads.

Variables (from the process environment, else from `.env` in the current directory;
the process environment always wins):

- ``TALOS_CLUSTER_FILE``: the cluster file to use (default ``cluster.yaml``).
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


def load_env(directory: Path | None = None) -> Path | None:
    """Load ``directory/.env`` (default: the current directory) into ``os.environ``.

    Existing variables are never overridden. Returns the file loaded, if any. Loading
    the same file twice in one process is a no-op.
    """
    path = (directory or Path.cwd()) / ".env"
    if not path.is_file():
        return None
    resolved = path.resolve()
    if resolved not in _loaded:
        from dotenv import load_dotenv

        load_dotenv(resolved, override=False)
        _loaded.add(resolved)
    return resolved


def cluster_file_path() -> Path:
    """The cluster file this invocation uses: ``$TALOS_CLUSTER_FILE`` or ``cluster.yaml``."""
    return Path(os.environ.get(CLUSTER_FILE_VARIABLE) or DEFAULT_CLUSTER_FILE)
