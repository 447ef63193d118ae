"""Invoke collections, one module per area; ``build_namespace`` assembles them and
declares the settings' defaults (``talos:`` in the Invoke configuration).

Two repeats of shape across these modules are deliberate: each task's ``@task(help=...)``
declaration (Invoke reads a task's flags from its own decorator, so each task names its
own), and the sorted ``from talos.tasks.runtime import (...)`` lists of modules that use
the same helpers.
"""

from __future__ import annotations

from invoke.collection import Collection

from talos.tasks import (
    apply,
    cluster,
    discover,
    etcd,
    explain,
    genconfig,
    media,
    nodes,
    operations,
    patch,
    schematics,
    tools,
    upgrade,
)
from talos.tasks.cli import install
from talos.tasks.runtime import configuration

AREAS = (
    cluster, schematics, patch, genconfig, explain, apply, nodes, upgrade, operations, media, etcd,
    tools, discover
)


def build_namespace() -> Collection:
    """The root namespace of ``inv``: every area registers its tasks into it."""
    install()
    ns = Collection()
    for area in AREAS:
        area.register(ns)
    ns.configure(configuration())
    return ns
