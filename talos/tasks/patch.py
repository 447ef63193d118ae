"""Tasks of this area are not built yet; each entry says so when run."""

from __future__ import annotations

from invoke.collection import Collection

from talos.tasks.runtime import not_built, task


@task
def patch(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("patch")


def register(ns: Collection) -> None:
    ns.add_task(patch)
