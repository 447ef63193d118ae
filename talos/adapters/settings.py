"""Settings: what talos-tasks reads from the Invoke configuration and the environment.

Every setting has a key under ``talos:`` in the Invoke configuration (``invoke.yaml``
beside ``tasks.py``, ``~/.invoke.yaml``, ``/etc/invoke.yaml``, ``inv -f FILE``), and most
have the environment variable users already set. Highest first:

1. the process environment (a variable set for one shell, or one run: ``TALOSCTL=... inv``);
2. ``.env`` of the project folder (:mod:`talos.adapters.env`);
3. the Invoke configuration, in Invoke's own order (``-f FILE`` over the project's
   ``invoke.yaml`` over ``~/.invoke.yaml`` over ``/etc/invoke.yaml``);
4. the default.

An empty value is no value. A relative path is taken, wherever the task runs from: in
the Invoke configuration (any of its files), from the folder Invoke loaded the
project's configuration from (that of ``tasks.py`` and ``invoke.yaml``); in ``.env``,
from the project folder (its own); in the process environment, from the current
folder, as the shell would (the cluster file, if not found there, from the project
folder). ``XDG_CACHE_HOME`` is not a setting of its
own: it moves the default cache folder only, so ``talos.cache_dir`` beats it.

:func:`resolve_settings` reads them all into one :class:`Settings`, once per task call;
the adapters receive the values as parameters and read no environment for them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talos.adapters.env import DEFAULT_CLUSTER_FILE, absolute_from, load_env, project_dir

#: The key of the Invoke configuration that holds the settings.
CONFIG_KEY = "talos"
DEFAULT_TALOS_RELEASES = "https://github.com/siderolabs/talos/releases/download"
DEFAULT_KUBERNETES_RELEASES = "https://dl.k8s.io/release"
DEFAULT_ETCD_KEEP = 5


@dataclass(frozen=True)
class Spec:
    """One setting: its key under ``talos:``, its environment variable (if any), its
    default ("" when the default is worked out: see :class:`Settings`)."""

    key: str
    variable: str | None
    default: str | int = ""
    #: how values are read: "path" (relative ones from the project folder), "program"
    #: (a path, or a bare name looked up on PATH), "text"
    kind: str = "text"


SPECS = (
    Spec("cluster_file", "TALOS_CLUSTER_FILE", kind="path"),
    Spec("talosctl", "TALOSCTL", kind="program"),
    Spec("talosconfig", "TALOS_TASKS_TALOSCONFIG", kind="path"),
    Spec("factory_url", "TALOS_FACTORY_URL"),
    Spec("talos_releases_url", "TALOS_RELEASES_URL", DEFAULT_TALOS_RELEASES),
    Spec("kubernetes_releases_url", "KUBERNETES_RELEASES_URL", DEFAULT_KUBERNETES_RELEASES),
    Spec("cache_dir", None, kind="path"),
    Spec("etcd_keep", None, DEFAULT_ETCD_KEEP),
)


def config_defaults() -> dict[str, str | int]:
    """The defaults as the namespace declares them (``ns.configure({"talos": ...})``)."""
    return {spec.key: spec.default for spec in SPECS}


@dataclass(frozen=True)
class Settings:
    """The settings of one task call, typed. ``None`` means "not set": the adapter's
    own choice applies (talosctl on PATH, the generated talosconfig, the cluster file's
    factory)."""

    cluster_file: Path
    talosctl: str | None = None
    talosconfig: Path | None = None
    factory_url: str | None = None
    talos_releases_url: str = DEFAULT_TALOS_RELEASES
    kubernetes_releases_url: str = DEFAULT_KUBERNETES_RELEASES
    #: the folder holding the downloaded binaries (``<tool>-<version>/<tool>``)
    cache_dir: Path = field(default_factory=lambda: default_cache_dir(os.environ))
    #: ``talos.etcd_keep`` as given (checked where it is used, with ``--keep``)
    etcd_keep: int | str = DEFAULT_ETCD_KEEP
    #: what set each setting that is not its default: the variable, or ``talos.<key>``
    sources: Mapping[str, str] = field(default_factory=dict)
    #: each such setting's text as given, before paths were resolved
    given: Mapping[str, str] = field(default_factory=dict)

    def source_of(self, key: str) -> str | None:
        """``TALOSCTL``, ``talos.talosctl`` (the Invoke configuration), or None (default)."""
        return self.sources.get(key)


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/talos-tasks/bin`` (``~/.cache/talos-tasks/bin`` without it)."""
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "talos-tasks" / "bin"


def resolve_settings(
    config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None,
    config_dir: Path | None = None,
) -> Settings:
    """The settings from ``config`` (the ``talos`` section of the Invoke configuration;
    none for library use) and the environment, after loading ``.env`` into it.

    ``config_dir`` is the folder the relative paths of ``config`` are taken from: the
    one Invoke loaded the project's configuration from (default: the project folder).
    """
    if environ is None:
        load_env()
        environ = os.environ
    section = config or {}
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    given: dict[str, str] = {}
    for spec in SPECS:
        named = environ.get(spec.variable, "") if spec.variable else ""
        if named:
            values[spec.key], sources[spec.key], given[spec.key] = named, spec.variable or "", named
            continue
        configured = section.get(spec.key)
        if configured not in (None, "", spec.default):
            text = str(configured)
            values[spec.key] = _from_config(spec, text, config_dir)
            sources[spec.key], given[spec.key] = f"{CONFIG_KEY}.{spec.key}", text
    return Settings(
        cluster_file=cluster_file_path(values.get("cluster_file", "")),
        talosctl=values.get("talosctl") or None,
        talosconfig=Path(values["talosconfig"]) if values.get("talosconfig") else None,
        factory_url=values.get("factory_url") or None,
        talos_releases_url=values.get("talos_releases_url", DEFAULT_TALOS_RELEASES),
        kubernetes_releases_url=values.get("kubernetes_releases_url",
                                           DEFAULT_KUBERNETES_RELEASES),
        cache_dir=(Path(values["cache_dir"]) if values.get("cache_dir")
                   else default_cache_dir(environ)),
        etcd_keep=values.get("etcd_keep", DEFAULT_ETCD_KEEP),
        sources=sources,
        given=given,
    )


def _from_config(spec: Spec, text: str, config_dir: Path | None) -> str:
    """A value of the Invoke configuration, a relative path made absolute from
    ``config_dir`` (default: the project folder), wherever the task runs from."""
    if spec.kind == "text":
        return text
    return absolute_from(text, config_dir or project_dir(), program=spec.kind == "program")


def cluster_file_path(named: str) -> Path:
    """The cluster file: ``named`` (absolute, or, as a variable of the process
    environment gives it, found from the current directory, else from the project
    folder), else the project folder's ``cluster.yaml``."""
    if not named:
        found = project_dir() / DEFAULT_CLUSTER_FILE
        return found if found.is_file() else Path(DEFAULT_CLUSTER_FILE)
    path = Path(named)
    if path.is_absolute() or path.exists():
        return path
    beside = project_dir() / path
    return beside if beside.exists() else path
