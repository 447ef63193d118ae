"""What every task shares: the task decorator and access to the cluster file.

Kept small and cheap to import: ``inv --list`` imports every task module, so heavy
imports (httpx, sh, the merger) belong inside task bodies or the modules they call.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task as invoke_task

from talos.errors import TalosError, UsageError
from talos.tasks.cli import TalosTask

if TYPE_CHECKING:
    from talos.adapters.talosctl import Talosctl
    from talos.core.cluster import Cluster
    from talos.ops.safety import Guard, Output

#: Help of the node selection every node task shares.
NODE_HELP = "a node by name (repeatable); default: every node (of --role, if given)"
ROLE_HELP = "only nodes of this role: controlplane or worker"
JSON_HELP = "print one JSON document on stdout (shape in the README); prose goes to stderr"


#: What a task body is: a function of the Invoke context and the task's options.
TaskBody = Callable[..., Any]


@overload
def task(body: TaskBody, /) -> TalosTask: ...


@overload
def task(**options: Any) -> Callable[[TaskBody], TalosTask]: ...


def task(*args: Any, **kwargs: Any) -> TalosTask | Callable[[TaskBody], TalosTask]:
    """``invoke.task`` whose body may raise :class:`TalosError`, as ``@task`` or
    ``@task(help=...)``.

    Such an error becomes ``Exit``: its one-line message on stderr, no traceback, and
    the error's exit code. Anything else is a bug and keeps its traceback.
    """

    def decorate(body: TaskBody) -> TalosTask:
        @functools.wraps(body)
        def run(*call_args: Any, **call_kwargs: Any) -> Any:
            try:
                return body(*call_args, **call_kwargs)
            except TalosError as exc:
                raise Exit(f"error: {exc}", code=exc.exit_code) from exc

        made = invoke_task(run, klass=TalosTask, **kwargs)
        assert isinstance(made, TalosTask)
        return made

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return decorate(args[0])
    return decorate


def load_cluster(c: Context) -> Cluster:
    """The cluster described by the cluster file this invocation uses.

    The file is ``$TALOS_CLUSTER_FILE`` (from the environment or ``.env``), else
    ``cluster.yaml`` in the current directory. Loaded once per invocation.
    """
    from talos.adapters.env import cluster_file_path, load_env
    from talos.core.cluster import load_cluster_file

    cached = getattr(c, "_talos_cluster", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    load_env()
    path = cluster_file_path()
    if not path.is_file():
        raise missing_cluster_file(path)
    cluster = load_cluster_file(path)
    c._talos_cluster = cluster
    return cluster


def missing_cluster_file(path: Path) -> UsageError:
    """The one-line error for a run outside a project: where it looked, what it needs."""
    import os

    from talos.adapters.env import CLUSTER_FILE_VARIABLE, DEFAULT_CLUSTER_FILE

    here = Path.cwd()
    named = os.environ.get(CLUSTER_FILE_VARIABLE)
    if named:
        return UsageError(
            f"{CLUSTER_FILE_VARIABLE}={named}: no such file, seen from {here} "
            f"(and its project folder); point {CLUSTER_FILE_VARIABLE} at your cluster file"
        )
    return UsageError(
        f"no {DEFAULT_CLUSTER_FILE} in {here} or any folder above it: run inv in the "
        f"project folder (the one holding {DEFAULT_CLUSTER_FILE}, see README) or set "
        f"{CLUSTER_FILE_VARIABLE}"
    )


def is_dry(c: Context) -> bool:
    """Invoke's own ``--dry`` (``inv --dry TASK``): print commands that change things."""
    return bool(c.config.run.dry)


def say(line: str) -> None:
    """A line for the person running the task, at once (not when the buffer fills)."""
    print(line, flush=True)


def connect(c: Context, **options: Any) -> tuple[Cluster, Talosctl]:
    """The cluster file and the talosctl adapter for it, dry under ``inv --dry``;
    ``options`` (``progress=``) go to :func:`talos.ops.targets.talosctl_for`."""
    from talos.ops.targets import talosctl_for

    cluster = load_cluster(c)
    return cluster, talosctl_for(cluster, dry=is_dry(c), **options)


def print_json(data: Any) -> None:
    """The one JSON document a task prints with ``--json``: on stdout, sorted keys,
    two-space indent, a final newline. Progress and prose go to stderr meanwhile, so
    ``inv TASK --json | jq`` always reads a single document."""
    sys.stdout.write(json_text(data))
    sys.stdout.flush()


def json_text(data: Any) -> str:
    """The text :func:`print_json` prints (for a task that writes it to a file instead)."""
    import json

    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def keep_setting(c: Context, keep: int | str | None) -> int:
    """``--keep``, else ``etcd.keep`` of the Invoke configuration (invoke.yaml), else 5."""
    from talos.ops.etcd import DEFAULT_KEEP

    value = keep if keep is not None else c.config.get("etcd", {}).get("keep", DEFAULT_KEEP)
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"--keep {value!r}: give how many snapshots to keep, 1 or more")
    return int(text)


#: Help of the flag that skips the etcd pre-flight (never a short form: it is dangerous).
SKIP_ETCD_CHECK_HELP = ("go on although the pre-flight etcd health and membership checks "
                        "fail, saying what is skipped (etcd may lose its quorum)")


@contextlib.contextmanager
def guarded(
    c: Context, cluster: Cluster, talosctl: Talosctl, action: str, *, out: Output,
    touches_controlplane: bool, skip_etcd_check: bool = False, snapshot: bool = True,
) -> Iterator[Guard]:
    """:func:`talos.ops.safety.guarded` (lock, pre-flight, confirmation, snapshot) with the
    snapshot count of the Invoke configuration."""
    from talos.ops.safety import guarded as guard_with

    with guard_with(cluster, talosctl, action, out=out,
                    touches_controlplane=touches_controlplane,
                    skip_etcd_check=skip_etcd_check, snapshot=snapshot,
                    keep=keep_setting(c, None)) as guard:
        yield guard
