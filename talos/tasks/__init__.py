"""Invoke collections, one module per area; ``build_namespace`` assembles them."""

from __future__ import annotations

from invoke.collection import Collection

from talos.tasks import (
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

AREAS = (
    cluster, schematics, patch, genconfig, explain, nodes, upgrade, operations, media, etcd,
    tools, discover
)


def build_namespace() -> Collection:
    """The root namespace of ``inv``: every area registers its tasks into it."""
    from talos.tasks.cli import install

    install()
    ns = Collection()
    for area in AREAS:
        area.register(ns)
    return ns
