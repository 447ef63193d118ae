"""The edge between Invoke and the tasks: one meaning per short flag, typed numbers,
optional positional arguments and parse errors that say what to type instead.

Invoke gives every argument a short flag of its own choosing (the first free letter of
its name), so ``-r`` meant ``--role`` in one task and ``--recipient`` in another, and
an argument without a default shows as ``STRING`` in ``-h`` even when it is a number.
:class:`TalosTask` (the class every task of this project is made with) gives short
flags from :data:`SHORT_FLAGS` only, and takes an argument's kind from its annotation.

Invoke's own parse errors (``No idea what 'worker-03' is!``) are completed by
:func:`install` with a hint: a node name given without ``--node``, a role without
``--role``. It runs when the namespace is built, before Invoke parses the task part of
the command line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any

from invoke.parser.argument import Argument
from invoke.parser.parser import ParseMachine
from invoke.tasks import Task

from talos.adapters.settings import resolve_settings

#: The short flag of each argument name, the same in every task; other arguments have
#: none, so a letter never means two things.
SHORT_FLAGS = {
    "node": "n",
    "role": "r",
    "json": "j",
    "yes": "y",
    "force": "f",
    "output": "o",
    "timeout": "t",
    "parallel": "p",
}
ROLES = ("controlplane", "worker")
_KINDS: dict[str, type] = {"int": int, "float": float}
_UNKNOWN = re.compile(r"^No idea what '(?P<token>[^']*)' is!$")
#: Our wrappers of Invoke's parser methods, so that they are installed once.
_HOOKS: set[Callable[..., None]] = set()


class TalosTask(Task[Callable[..., Any]]):
    """An Invoke task with this project's flag conventions (see the module docstring).

    ``optional_positional`` names positional arguments that may be left out (Invoke
    requires every positional argument otherwise); they are then ``""``.
    """

    def __init__(self, body: Callable[..., Any], *args: Any,
                 optional_positional: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(body, *args, **kwargs)
        self.auto_shortflags = False
        self.optional_positional = tuple(optional_positional)

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        if short and short not in taken_names:
            opts["names"] = [*opts["names"], short]
        kind = _annotated_kind(self.body, name)
        if kind is not None and opts.get("kind", str) is str:
            opts["kind"] = kind
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        kept = dict(self.help)  # Invoke consumes the help it uses: asked twice, it has none
        try:
            arguments = super().get_arguments(ignore_unknown_help)
        finally:
            self.help = kept
        for argument in arguments:
            number = argument.kind in _KINDS.values()
            if argument.name in self.optional_positional:
                argument.__class__ = OptionalNumberArgument if number else OptionalArgument
            elif number:
                argument.__class__ = NumberArgument
        return arguments


class NumberArgument(Argument):
    """A number argument (``-h`` says ``INT``) that leaves text it cannot read as a number
    to the task, which says in one line what it wanted instead of a traceback."""

    def set_value(self, value: Any, cast: bool = True) -> None:
        try:
            super().set_value(value, cast)
        except ValueError:
            super().set_value(value, cast=False)


class OptionalArgument(Argument):
    """A positional argument a task may be called without: its value is then ``""``."""


class OptionalNumberArgument(NumberArgument, OptionalArgument):
    """A number argument that may also be left out."""


def _annotated_kind(body: Callable[..., Any], name: str) -> type | None:
    """``int`` for ``count: int | None = None`` or ``str | int`` (annotations are strings)."""
    annotations = getattr(getattr(body, "__wrapped__", body), "__annotations__", {})
    members = str(annotations.get(name, "")).replace("Optional[", "").rstrip("]").split("|")
    for member in members:
        kind = _KINDS.get(member.strip())
        if kind is not None:
            return kind
    return None


# -- parse errors ------------------------------------------------------------------------


def _node_names() -> list[str]:
    """The cluster file's node names, or none when it cannot be read (an error path).

    Invoke's parser does not see its configuration, so the cluster file here is the one
    the environment names, else the project's ``cluster.yaml``."""
    try:
        from talos.core.cluster import load_cluster_file  # lazy: 20 ms at start-up

        return [node.name for node in load_cluster_file(resolve_settings().cluster_file).nodes]
    except Exception:  # a hint is a courtesy: never let it hide the real error
        return []


def hint(token: str, task: str | None, flags: Iterable[str]) -> str:
    """What the user probably meant by ``token`` where Invoke expected a task or flag."""
    flags = set(flags)
    if token in ROLES and "--role" in flags:
        return f"Did you mean `--role {token}`?"
    names = _node_names()
    close = difflib.get_close_matches(token, names, n=1, cutoff=0.75)
    node = token if token in names else (close[0] if close else None)
    if node is None and not names and re.fullmatch(r"[a-z0-9][a-z0-9.-]*", token):
        node = token  # the cluster file cannot be read: a hostname-like word is a guess
    if node is not None and "--node" in flags:
        return f"Did you mean `--node {node}`?"
    if node is not None and task:
        return f"`inv {task}` takes no node; `inv -h {task}` lists what it takes."
    if task:
        return f"`inv -h {task}` lists what it takes."
    return "`inv --list` lists the tasks."


def _error(original: Callable[[ParseMachine, str], None]) -> Callable[[ParseMachine, str], None]:
    def error(self: ParseMachine, msg: str) -> None:
        found = _UNKNOWN.match(msg)
        if found:
            context = self.context
            task = context.name if context is not None else None
            flags = list(context.flags.keys()) if context is not None else []
            msg = f"{msg} {hint(found.group('token'), task, flags)}"
        original(self, msg)

    _HOOKS.add(error)
    return error


def _complete(original: Callable[[ParseMachine], None]) -> Callable[[ParseMachine], None]:
    def complete_context(self: ParseMachine) -> None:
        if self.context is not None:
            for argument in self.context.missing_positional_args:
                if isinstance(argument, OptionalArgument):
                    argument.value = ""
        original(self)

    _HOOKS.add(complete_context)
    return complete_context


def install() -> None:
    """Hook the hints into Invoke's parser (once per process)."""
    if ParseMachine.error not in _HOOKS:
        setattr(ParseMachine, "error", _error(ParseMachine.error))  # noqa: B010
    if ParseMachine.complete_context not in _HOOKS:
        setattr(ParseMachine, "complete_context",  # noqa: B010
                _complete(ParseMachine.complete_context))
