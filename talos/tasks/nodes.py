"""Tasks of this area are not built yet; each entry says so when run."""

from __future__ import annotations

from invoke.collection import Collection

from talos.tasks.runtime import not_built, task


@task
def apply(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("apply")


@task
def diff(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("diff")


@task
def bootstrap(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("bootstrap")


@task
def kubeconfig(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("kubeconfig")


@task
def reboot(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("reboot")


@task
def reset(c):  # type: ignore[no-untyped-def]
    """Not built yet."""
    not_built("reset")


def register(ns: Collection) -> None:
    ns.add_task(apply)
    ns.add_task(diff)
    ns.add_task(bootstrap)
    ns.add_task(kubeconfig)
    ns.add_task(reboot)
    ns.add_task(reset)
