"""Tasks of this area are not built yet; each entry says so when run."""

from __future__ import annotations

from invoke.collection import Collection

from talos.tasks.runtime import not_built, task


@task
def addons(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("addons")


@task
def images(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("images")


@task
def status(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("status")


@task
def health(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("health")


def register(ns: Collection) -> None:
    ns.add_task(addons)
    ns.add_task(images)
    ns.add_task(status)
    ns.add_task(health)
