"""What every task shares: the task decorator, the settings, the cluster file.

Kept cheap to import: ``inv --list`` imports every task module, so the cluster model,
the merger and the adapters that run programs (20 ms and more each at start-up: see
``benchmarks/startup.py``) are imported inside the functions that use them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from invoke.config import Config
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task as invoke_task

from talos.adapters.env import DEFAULT_CLUSTER_FILE
from talos.adapters.settings import (
    CONFIG_KEY,
    Settings,
    config_defaults,
    resolve_settings,
)
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


def configuration() -> dict[str, Any]:
    """The defaults the namespace declares (``ns.configure``): the settings under
    ``talos``, which ``invoke.yaml``, ``-f FILE`` and the environment override."""
    return {CONFIG_KEY: config_defaults()}


def settings_of(c: Context) -> Settings:
    """The settings of this task call (see :mod:`talos.adapters.settings`): resolve them
    once, at the start of a task, and pass them on.

    ``etcd.keep``, the older spelling of ``talos.etcd_keep``, is still read, unless
    ``talos.etcd_keep`` is set (to any value, the default too)."""
    section = dict(c.config.get(CONFIG_KEY) or {})
    older = (c.config.get("etcd") or {}).get("keep")
    if older is not None and not is_configured(c.config, CONFIG_KEY, "etcd_keep"):
        section["etcd_keep"] = older
    return resolve_settings(section, config_dir=config_dir(c.config))


def config_dir(config: Config) -> Path | None:
    """The folder Invoke loaded the project's configuration from (that of ``tasks.py``,
    where ``invoke.yaml`` is read): relative paths of the configuration are from there.
    None outside a project (a Config made in code)."""
    prefix = getattr(config, "_project_prefix", None)
    return Path(prefix).absolute() if isinstance(prefix, str) and prefix else None


#: Invoke's configuration levels above the namespace's defaults: the files (system,
#: user, project, ``-f``), its environment variables, the command line and code.
_SET_LEVELS = ("_system", "_user", "_project", "_env", "_runtime", "_overrides",
               "_modifications")


def is_configured(config: Config, section: str, key: str) -> bool:
    """Whether ``section.key`` is set above the namespace's defaults. Invoke merges its
    levels into one value, which cannot tell a value given as the default from the
    default itself, so each level is asked apart."""
    for level in _SET_LEVELS:
        data = getattr(config, level, None)
        values = data.get(section) if isinstance(data, dict) else None
        if isinstance(values, dict) and key in values:
            return True
    return False


def load_cluster(settings: Settings) -> Cluster:
    """The cluster described by the cluster file of ``settings`` (the ``cluster_file``
    setting, else ``cluster.yaml`` of the project folder). Read each time it is called:
    a task loads it once and passes it on."""
    from talos.core.cluster import load_cluster_file  # lazy: 20 ms at start-up

    path = settings.cluster_file
    if not path.is_file():
        raise missing_cluster_file(settings)
    return load_cluster_file(path)


def missing_cluster_file(settings: Settings) -> UsageError:
    """The one-line error for a run outside a project: where it looked, what it needs."""
    here = Path.cwd()
    source = settings.source_of("cluster_file")
    if source:
        named = settings.given["cluster_file"]
        # A variable's relative path is looked for from here, then the project folder;
        # the configuration's was made absolute from its own folder.
        seen = (f"looked for at {settings.cluster_file}"
                if source.startswith(f"{CONFIG_KEY}.")
                else f"seen from {here} (and its project folder)")
        return UsageError(f"{source}={named}: no such file, {seen}; point {source} at "
                          f"your cluster file")
    return UsageError(
        f"no {DEFAULT_CLUSTER_FILE} in {here} or any folder above it: run inv in the "
        f"project folder (the one holding {DEFAULT_CLUSTER_FILE}, see README) or set "
        f"TALOS_CLUSTER_FILE"
    )


def check_timeout(timeout: str | None, flag: str = "--timeout") -> None:
    """Refuse a timeout that is not a positive Go duration before anything is called
    (talosctl would refuse it only after the work began)."""
    if timeout is None:
        return
    # lazy: Go durations are read with decimal, 1.3 ms at start-up for every task
    from talos.core.units import parse_duration

    try:
        positive = parse_duration(timeout) > 0
    except ValueError:
        positive = False
    if not positive:
        raise UsageError(f"{flag} {timeout!r} is not a duration (e.g. 30s, 5m, 1h30m)")


def is_dry(c: Context) -> bool:
    """Invoke's own ``--dry`` (``inv --dry TASK``): print commands that change things."""
    return bool(c.config.run.dry)


def say(line: str) -> None:
    """A line for the person running the task, at once (not when the buffer fills)."""
    print(line, flush=True)


def connect(c: Context, settings: Settings, **options: Any) -> tuple[Cluster, Talosctl]:
    """The cluster file and the talosctl adapter for it, dry under ``inv --dry``;
    ``options`` (``progress=``) go to :func:`talos.ops.client.talosctl_for`."""
    from talos.ops.client import talosctl_for  # lazy: 9 ms at start-up

    cluster = load_cluster(settings)
    return cluster, talosctl_for(cluster, dry=is_dry(c), settings=settings, **options)


def print_json(data: Any) -> None:
    """The one JSON document a task prints with ``--json``: on stdout, sorted keys,
    two-space indent, a final newline. Progress and prose go to stderr meanwhile, so
    ``inv TASK --json | jq`` always reads a single document."""
    sys.stdout.write(json_text(data))
    sys.stdout.flush()


def json_text(data: Any) -> str:
    """The text :func:`print_json` prints (for a task that writes it to a file instead)."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def keep_setting(settings: Settings, keep: int | str | None) -> int:
    """``--keep``, else the ``etcd_keep`` setting (``talos.etcd_keep`` in invoke.yaml,
    or the older ``etcd.keep``), else 5."""
    value = keep if keep is not None else settings.etcd_keep
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"--keep {value!r}: give how many snapshots to keep, 1 or more")
    return int(text)


#: Help of the flag that skips the etcd pre-flight (never a short form: it is dangerous).
SKIP_ETCD_CHECK_HELP = ("go on although the pre-flight etcd health and membership checks "
                        "fail, saying what is skipped (etcd may lose its quorum)")


@contextlib.contextmanager
def guarded(
    settings: Settings, cluster: Cluster, talosctl: Talosctl, action: str, *,
    out: Output | None = None, touches_controlplane: bool, skip_etcd_check: bool = False,
    snapshot: bool = True,
) -> Iterator[Guard]:
    """:func:`talos.ops.safety.guarded` (lock, pre-flight, confirmation, snapshot) with the
    snapshot count of the settings; ``out`` defaults to prose on stdout."""
    from talos.ops import safety  # lazy: 48 ms at start-up (etcd, talosctl, the model)

    with safety.guarded(cluster, talosctl, action, out=out or safety.Output(False),
                        touches_controlplane=touches_controlplane,
                        skip_etcd_check=skip_etcd_check, snapshot=snapshot,
                        keep=keep_setting(settings, None)) as guard:
        yield guard
