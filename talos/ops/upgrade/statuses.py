"""Readiness checks that run at the same time share their talosctl calls.

With ``--parallel K`` the workers of a wave finish their upgrades within moments of
each other, and each is then asked its machine status until it is running and ready.
Asked one by one, that is one talosctl process per node and per question, all starting
at once beside the next wave's upgrades. :class:`SharedStatuses` reads the machine
status of one node (what :func:`talos.core.readiness.wait_until_ready` polls), but
whoever asks while a call is under way joins the next call, which asks every node
waiting at that moment: ``talosctl get machinestatus --nodes a,b,c`` once instead of
three times. Each node's polling (pauses, backing off while it is down, its deadline)
stays its own. A node that hangs holds its call up to the adapter's read limit, after
which the adapter asks each node of the call on its own (``Talosctl.machine_statuses``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from talos.adapters.talosctl import Answers, MachineStatus
from talos.errors import CommandError


class StatusesReader(Protocol):
    """Machine statuses of several nodes in one call (``Talosctl.machine_statuses``)."""

    def machine_statuses(self, nodes: Sequence[str]) -> Answers[MachineStatus]: ...


@dataclass
class _Question:
    node: str
    answered: bool = False
    status: MachineStatus | None = None
    error: BaseException | None = None

    def answer(self) -> MachineStatus:
        if self.error is not None:
            raise self.error
        assert self.status is not None
        return self.status


class SharedStatuses:
    """``machine_status(node)`` for many threads; questions asked while a call runs
    are put together into the next call."""

    def __init__(self, client: StatusesReader) -> None:
        self.client = client
        self._changed = threading.Condition()
        self._waiting: list[_Question] = []
        self._asking = False

    @property
    def waiting(self) -> int:
        """Questions waiting for the next call."""
        with self._changed:
            return len(self._waiting)

    def machine_status(self, node: str) -> MachineStatus:
        """``node``'s machine status, from a call that started after this question; a
        node the call did not hear from is a :class:`CommandError` with talosctl's words,
        as a call for that node alone would have raised."""
        question = _Question(node)
        with self._changed:
            self._waiting.append(question)
            while not question.answered:
                if not self._asking:  # nobody is asking: ask for everyone waiting
                    self._asking = True
                    batch, self._waiting = self._waiting, []
                    break
                self._changed.wait()
            else:
                return question.answer()
        self._ask(batch)
        return question.answer()

    def _ask(self, batch: list[_Question]) -> None:
        nodes = list(dict.fromkeys(q.node for q in batch))
        try:
            answers = self.client.machine_statuses(nodes)
        except BaseException as exc:
            # The call itself failed (talosctl missing, a bug, an interruption): that is
            # every waiting question's answer, as a future's exception is each waiter's.
            self._settle(batch, None, exc)
            raise
        self._settle(batch, answers, None)

    def _settle(self, batch: list[_Question], answers: Answers[MachineStatus] | None,
                error: BaseException | None) -> None:
        with self._changed:
            for question in batch:
                if answers is None:
                    question.error = error
                else:
                    question.status, question.error = outcome(answers, question.node)
                question.answered = True
            self._asking = False
            self._changed.notify_all()


def outcome(answers: Answers[MachineStatus], node: str
            ) -> tuple[MachineStatus | None, CommandError | None]:
    """What a call for several nodes said of ``node``: its status, or why there is none
    (talosctl's words for it)."""
    if node in answers.answered:
        return answers.answered[node], None
    why = answers.failed.get(node, f"talosctl get machinestatus on {node} gave no answer")
    return None, CommandError(why)
