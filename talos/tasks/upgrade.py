"""Tasks of this area are not built yet; each entry says so when run."""

from __future__ import annotations

from invoke.collection import Collection

from talos.tasks.runtime import not_built, task


@task
def upgrade(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("upgrade")


@task
def upgrade_k8s(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("upgrade-k8s")


def register(ns: Collection) -> None:
    ns.add_task(upgrade)
    ns.add_task(upgrade_k8s)
