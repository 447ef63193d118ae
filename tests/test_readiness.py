"""Waiting for a node to be back: what counts as ready, asking again, giving up."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from talos.core.readiness import NotReady, Polling, wait_until_ready
from talos.errors import CommandError, ToolMissingError


@dataclass(frozen=True)
class Status:
    stage: str
    ready: bool


class Node:
    """Answers with ``answers`` in turn (the last one for ever); an exception is raised."""

    def __init__(self, *answers: Status | Exception) -> None:
        self.answers = list(answers)
        self.asked = 0

    def machine_status(self, node: str) -> Status:
        self.asked += 1
        answer = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def polling(self, timeout: float = 60.0) -> Polling:
        return Polling(timeout=timeout, first=0.5, most=4.0, clock=lambda: self.now,
                       sleep=self.sleep)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


DOWN = CommandError("dial tcp 192.168.0.201:50000: connect: connection refused")


def test_a_node_running_and_ready_is_not_asked_twice() -> None:
    node, clock = Node(Status("running", True)), Clock()
    wait_until_ready(node, "192.168.0.201", clock.polling())
    assert node.asked == 1
    assert clock.slept == []


def test_a_rebooting_node_is_asked_again_until_it_is_running_and_ready() -> None:
    node = Node(DOWN, DOWN, Status("booting", False), Status("booting", True),
                Status("running", False), Status("running", True))
    clock = Clock()
    wait_until_ready(node, "192.168.0.201", clock.polling())
    assert node.asked == 6
    # backing off only while it does not answer; once it answers, asked at `first`
    assert clock.slept == [0.5, 1.0, 0.5, 0.5, 0.5]


def test_a_long_silence_backs_off_up_to_most() -> None:
    node = Node(*[DOWN] * 6, Status("running", True))
    clock = Clock()
    wait_until_ready(node, "192.168.0.201", clock.polling())
    assert clock.slept == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_giving_up_says_what_the_node_said_last() -> None:
    clock = Clock()
    with pytest.raises(NotReady) as caught:
        wait_until_ready(Node(Status("booting", False)), "192.168.0.201", clock.polling(10))
    assert caught.value.last == "stage booting, not ready"
    assert str(caught.value) == (
        "192.168.0.201 is not running and ready after 10s (stage booting, not ready)"
    )
    assert clock.now >= 10


def test_a_node_that_never_answers_is_reported_with_the_reason_shortened() -> None:
    with pytest.raises(NotReady) as caught:
        wait_until_ready(Node(DOWN), "192.168.0.201", Clock().polling(5),
                         explain=lambda exc: "connection refused")
    assert caught.value.last == "no answer: connection refused"


def test_a_missing_talosctl_is_not_waited_out() -> None:
    clock = Clock()
    with pytest.raises(ToolMissingError):
        wait_until_ready(Node(ToolMissingError("talosctl is not installed")), "192.168.0.201",
                         clock.polling())
    assert clock.slept == []
