"""Which talosctl the tasks run for a cluster, and with which talosconfig.

The binary is the one the ``talosctl`` setting names, else ``talosctl`` on PATH, else
(when PATH has none or one of another minor version) the one ``inv tools.install``
cached for the cluster's Talos version. The talosconfig is the one the ``talosconfig``
setting names, else the generated ``clusterconfig/talosconfig``. Where each node is
reached is :mod:`talos.ops.targets`.

Where the settings alone decide the binary (they name one, or nothing is cached),
:func:`client_version_early` asks its version before the cluster file is read, for a
task to work while the program answers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from talos.adapters.command import Runner
from talos.adapters.settings import Settings, resolve_settings
from talos.adapters.talosctl import Talosctl
from talos.core.cluster import Cluster
from talos.errors import CommandError


def talosconfig_path(cluster: Cluster, named: Path | None = None) -> Path:
    """``named`` (the ``talosconfig`` setting) if given, else the generated
    ``clusterconfig/talosconfig``."""
    return named if named else cluster.output_dir / "talosconfig"


def show_progress(line: str) -> None:
    """Pass a line of talosctl's progress to the user (stderr, where talosctl puts it)."""
    print(f"  {line}", file=sys.stderr, flush=True)


def talosctl_for(
    cluster: Cluster,
    *,
    dry: bool = False,
    progress: Callable[[str], None] | None = show_progress,
    settings: Settings | None = None,
) -> Talosctl:
    """The talosctl adapter for ``cluster``, its binary and talosconfig chosen as the
    module says (a cached binary standing in is said on stderr, by
    :func:`talos.adapters.tools.pinned_talosctl`); ``dry`` echoes changes instead of
    making them. ``progress`` receives the output of long operations (upgrade, reboot,
    reset, health) line by line as it comes; by default it goes to stderr; ``None`` keeps
    them quiet. Without ``settings`` (library use), those of the environment apply.
    """
    chosen = settings or resolve_settings()
    runner = Runner(dry=dry)
    return Talosctl(talosconfig_path(cluster, chosen.talosconfig), runner=runner,
                    progress=progress, binary=_binary(cluster, chosen, runner),
                    named_by=chosen.source_of("talosctl"))


def maintenance_talosctl(cluster: Cluster | None, settings: Settings) -> Talosctl:
    """talosctl for a machine in maintenance mode (no talosconfig), chosen as by
    :func:`talosctl_for`; without a cluster file, no version to pin: PATH's."""
    runner = Runner()
    return Talosctl(None, runner=runner, binary=_binary(cluster, settings, runner),
                    named_by=settings.source_of("talosctl"))


def _binary(cluster: Cluster | None, settings: Settings, runner: Runner) -> str | None:
    if settings.talosctl or cluster is None:
        return settings.talosctl
    # Only a binary the settings do not name is looked for among the cached ones: the
    # tools adapter costs 3 ms to import (process time, min of 7), which a run with a
    # named talosctl does without.
    from talos.adapters.tools import pinned_talosctl

    return pinned_talosctl(cluster, settings.cache_dir, runner)


class EarlyVersion(NamedTuple):
    """talosctl's client version, asked before the cluster file was read."""

    #: the talosctl asked (as :func:`talosctl_for` names it: the setting's, or PATH's)
    binary: str
    #: waits for its answer (``v1.12.4``), raising what ``Talosctl.client_version`` would
    answer: Callable[[], str]

    def for_binary(self, binary: str) -> Callable[[], str] | None:
        """The answer, when ``binary`` is the talosctl that was asked."""
        return self.answer if binary == self.binary else None


@contextmanager
def client_version_early(settings: Settings) -> Iterator[EarlyVersion | None]:
    """talosctl's client version asked before the cluster file is read, where the
    settings alone say which talosctl the tasks will run: the one they name, or PATH's
    when no talosctl is cached to stand in for it. The program then runs while this
    process reads the cluster file. The block receives the question asked; None when
    the choice needs the cluster's Talos version (a talosctl is cached). Leaving the
    block without asking stops the program."""
    if not settings.talosctl:
        from talos.adapters.tools import any_cached  # as _binary would: see there

        if any_cached("talosctl", settings.cache_dir):
            yield None
            return
    talosctl = maintenance_talosctl(None, settings)
    with talosctl.client_version_started() as answer:
        yield EarlyVersion(talosctl.binary, answer)


def require_talosconfig(talosctl: Talosctl) -> None:
    """Without a talosconfig every node would look unreachable: say what is missing instead."""
    path = talosctl.talosconfig
    if path is None or not path.is_file():
        raise CommandError(
            f"no talosconfig at {path or '(none given)'}",
            hint="run `inv genconfig` first, or point TALOS_TASKS_TALOSCONFIG at one",
        )
