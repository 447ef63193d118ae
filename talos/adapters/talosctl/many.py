"""One question asked of several nodes in one talosctl call: who answered what, and why
the others did not.

talosctl asks every node of ``--nodes`` through one endpoint and prints what came back;
the nodes that failed are listed as ``* <node>: <error>`` (a warning when others
answered, the error when none did). :func:`split_answers` turns such a call into
:class:`Answers`, each failure put in words by a :class:`Wording`. One hung node holds up
the whole answer: :func:`each_if_hung` then asks each node on its own.
:func:`running` puts the version, schematic and machine status questions together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from talos.adapters.command import Result, failure
from talos.adapters.talosctl.failures import diagnose, parse_node_errors, tidy
from talos.adapters.talosctl.parse import MachineStatus, parse_json_stream
from talos.errors import CommandTimeout

T = TypeVar("T")

#: Nodes asked at once, each on its own, when a call to all of them hung.
EACH_AT_ONCE = 8


@dataclass(frozen=True)
class Answers(Generic[T]):
    """A question asked of several nodes in one call: who answered what, and why the
    others did not (one line each, naming the node)."""

    answered: dict[str, T]
    failed: dict[str, str]


@dataclass(frozen=True)
class Wording:
    """How a node that did not answer is put in words: ``failed(what, node, error)`` with
    talosctl's error about it, ``silent(what, node)`` when talosctl said nothing of it
    (``what``: the command, ``get extensions``)."""

    failed: Callable[[str, str, str], str]
    silent: Callable[[str, str], str]


def _named_failure(what: str, node: str, error: str) -> str:
    reason, _ = diagnose(error)
    return f"talosctl {what} on {node} failed: {reason}"


#: A line that stands on its own: the command, the node and the diagnosed reason
#: (``talosctl version on 192.168.0.202 failed: node is unreachable: dial tcp ...``).
NAMED = Wording(_named_failure, lambda what, node: f"talosctl {what} on {node} gave no answer")
#: talosctl's error, tidied, and nothing else: for a report that names the node and the
#: question itself (etcd's health: ``cp-3: etcd does not answer (dial tcp ...)``).
BARE = Wording(lambda what, node, error: tidy(error), lambda what, node: "no answer")


def split_answers(result: Result, nodes: Sequence[str], what: str, found: dict[str, T],
                  wording: Wording = NAMED) -> Answers[T]:
    """Split a call to several nodes into answers (``found``, read from its output) and
    per-node failures. A failure that names no node (no endpoint answered) is every
    node's."""
    raw = parse_node_errors(result.stderr)
    failed = {node: wording.failed(what, node, error) for node, error in raw.items()}
    if result.exit_code != 0 and not raw:
        reason, hint = diagnose(result.stderr or result.stdout)
        shared = f"talosctl {what} failed: {reason}" + (f" ({hint})" if hint else "")
        failed = {n: shared for n in nodes}
    answered = {n: v for n, v in found.items() if n in nodes and n not in failed}
    for node in nodes:
        if node not in answered and node not in failed:
            failed[node] = wording.silent(what, node)
    return Answers(answered, failed)


def grouped_by_node(result: Result, resource: str) -> dict[str, list[dict[str, Any]]]:
    """The objects of a ``get RESOURCE -o json`` call to several nodes, by their node."""
    try:
        objects = parse_json_stream(result.stdout)
    except ValueError as exc:
        raise failure(result, f"talosctl get {resource} printed unreadable JSON: {exc}"
                      ) from exc
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in objects:
        grouped.setdefault(str(item.get("node", "")), []).append(item)
    return grouped


def each_if_hung(ask: Callable[[Sequence[str]], Answers[T]],
                 nodes: Sequence[str]) -> Answers[T]:
    """``ask`` all ``nodes`` in one call; when that call is stopped for taking too long
    (one hung node holds up the whole answer), ask each node on its own, a few at a
    time, so the hung one fails with the timeout and the others are heard."""
    try:
        return ask(nodes)
    except CommandTimeout as exc:
        if len(nodes) == 1:
            return Answers({}, {nodes[0]: str(exc)})

    def one(node: str) -> Answers[T]:
        try:
            return ask([node])
        except CommandTimeout as exc:
            return Answers({}, {node: str(exc)})

    answered: dict[str, T] = {}
    failed: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=min(EACH_AT_ONCE, len(nodes))) as pool:
        for node, answer in zip(nodes, pool.map(one, nodes), strict=True):
            answered.update((n, v) for n, v in answer.answered.items() if n == node)
            failed.update((n, v) for n, v in answer.failed.items() if n == node)
    return Answers(answered, failed)


# ---------------------------------------------------------------------------------------
# What each node runs


@dataclass(frozen=True)
class Running:
    """What one node runs, asked of many nodes at once (:func:`running`).

    ``problem`` is the first question the node did not answer (its version, then its
    extensions, then its machine status), talosctl's message for it; what it answered
    before that is kept."""

    version: str | None = None
    extensions_answered: bool = False
    schematic: str | None = None
    status: MachineStatus | None = None
    problem: str | None = None


class Asker(Protocol):
    """The questions :func:`running` asks of many nodes at once (:class:`Talosctl`)."""

    def server_versions(self, nodes: Sequence[str]) -> Answers[str]: ...

    def installed_schematics(self, nodes: Sequence[str]) -> Answers[str | None]: ...


def running(
    client: Asker, nodes: Sequence[str], *,
    statuses: Callable[[Sequence[str]], Answers[MachineStatus]] | None = None,
) -> dict[str, Running]:
    """Ask ``client`` (a :class:`Talosctl`) each node's Talos version, then the schematic
    (and with ``statuses`` the machine status, asked at the same time) of those that
    answered: two or three talosctl calls whatever the number of nodes; a node that
    hangs is asked on its own (the others are still heard).
    ``statuses``: how to ask the machine statuses (``Talosctl.machine_statuses``)."""
    if not nodes:
        return {}
    versions = client.server_versions(nodes)
    up = [n for n in nodes if n in versions.answered]
    schematics: Answers[str | None] = Answers({}, {})
    status: Answers[MachineStatus] = Answers({}, {})
    if up:
        with ThreadPoolExecutor(max_workers=2) as pool:
            asked = pool.submit(client.installed_schematics, up)
            asked_statuses = pool.submit(statuses, up) if statuses else None
            schematics = asked.result()
            if asked_statuses is not None:
                status = asked_statuses.result()
    found: dict[str, Running] = {}
    for node in nodes:
        version = versions.answered.get(node)
        if version is None:
            found[node] = Running(problem=versions.failed.get(node, "no answer"))
        elif node not in schematics.answered:
            found[node] = Running(version, problem=schematics.failed.get(node,
                                                                         "no answer"))
        elif statuses and node not in status.answered:
            found[node] = Running(version, True, schematics.answered[node],
                                  problem=status.failed.get(node, "no answer"))
        else:
            found[node] = Running(version, True, schematics.answered[node],
                                  status.answered.get(node))
    return found
