"""Readiness checks that run at the same time share their talosctl calls.

With ``--parallel K`` the workers of a wave finish their upgrades within moments of
each other, and each is then asked its machine status until it is running and ready.
Asked one by one, that is one talosctl process per node and per question, all starting
at once beside the next wave's upgrades. :class:`SharedStatuses` reads the machine
status of one node (what :func:`talos.core.readiness.wait_until_ready` polls), but
whoever asks while a call is under way joins the next call, which asks every node
waiting at that moment: ``talosctl get machinestatus --nodes a,b,c`` once instead of
three times. Each node's polling (pauses, backing off while it is down, its deadline)
stays its own.

One slow node must not hold the others up. A node the last call did not hear from (still
rebooting, perhaps not answering at all) is asked alone, in a call of its own, until it
answers again. And questions wait for a call under way only ``hold_at_most`` seconds:
after that they start their own call beside it, so a call held by a node that does not
answer (up to the adapter's read limit, after which the adapter asks each node of the
call on its own) delays the next questions by that much at most.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from talos.adapters.talosctl import Answers, MachineStatus
from talos.errors import CommandError


class StatusesReader(Protocol):
    """Machine statuses of several nodes in one call (``Talosctl.machine_statuses``)."""

    def machine_statuses(self, nodes: Sequence[str]) -> Answers[MachineStatus]: ...


#: Seconds a question waits for a call under way before it starts its own.
HOLD_AT_MOST = 1.0


@dataclass(eq=False)
class _Question:
    node: str
    since: float = field(default_factory=time.monotonic)
    taken: bool = False
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

    def __init__(self, client: StatusesReader, *, hold_at_most: float = HOLD_AT_MOST) -> None:
        self.client = client
        self.hold_at_most = hold_at_most
        self._changed = threading.Condition()
        self._waiting: list[_Question] = []
        self._calls = 0  # calls under way
        self._silent: set[str] = set()  # nodes the last call did not hear from

    @property
    def waiting(self) -> int:
        """Questions waiting for the next call."""
        with self._changed:
            return len(self._waiting)

    def machine_status(self, node: str) -> MachineStatus:
        """``node``'s machine status, from a call that started after this question; a
        node the call did not hear from is a :class:`CommandError` with talosctl's words,
        as a call for that node alone would have raised."""
        with self._changed:
            alone = node in self._silent
        if alone:
            return self._ask_alone(node)
        question = _Question(node)
        with self._changed:
            self._waiting.append(question)
            while not question.answered:
                timeout = None
                if not question.taken:
                    held = time.monotonic() - self._waiting[0].since
                    if self._calls == 0 or held >= self.hold_at_most:
                        batch, self._waiting = self._waiting, []
                        for waiting in batch:
                            waiting.taken = True
                        self._calls += 1
                        break
                    timeout = self.hold_at_most - held
                self._changed.wait(timeout)
            else:
                return question.answer()
        self._ask(batch)
        return question.answer()

    def _ask_alone(self, node: str) -> MachineStatus:
        status, error = outcome(self.client.machine_statuses([node]), node)
        with self._changed:
            (self._silent.add if error is not None else self._silent.discard)(node)
        if error is not None:
            raise error
        assert status is not None
        return status

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
                    assert error is not None
                    question.error = _own(error)
                else:
                    question.status, question.error = outcome(answers, question.node)
                    if question.error is None:
                        self._silent.discard(question.node)
                    else:
                        self._silent.add(question.node)
                question.answered = True
            self._calls -= 1
            self._changed.notify_all()


def _own(error: BaseException) -> BaseException:
    """A copy of ``error`` for one waiting thread to raise (its traceback its own), with
    the original as its cause; the original when it cannot be copied."""
    try:
        mine = copy.copy(error)
    except Exception:  # an exception type that cannot be rebuilt from its arguments
        return error
    mine.__traceback__ = None
    mine.__cause__ = error
    return mine


def outcome(answers: Answers[MachineStatus], node: str
            ) -> tuple[MachineStatus | None, CommandError | None]:
    """What a call for several nodes said of ``node``: its status, or why there is none
    (talosctl's words for it)."""
    if node in answers.answered:
        return answers.answered[node], None
    why = answers.failed.get(node, f"talosctl get machinestatus on {node} gave no answer")
    return None, CommandError(why)
