"""Typed-name confirmation: what a destructive task asks before it acts."""

from __future__ import annotations

import io

import pytest

from talos.adapters.confirm import confirm_by_name, confirm_plan
from talos.errors import ConfirmationError


class Terminal(io.StringIO):
    """Keyboard input on a terminal: what the user types, one line per answer."""

    def isatty(self) -> bool:
        return True


def ask(typed: str | None, *, yes: bool = False, terminal: bool = True) -> str:
    stdin: io.StringIO = Terminal(typed or "") if terminal else io.StringIO(typed or "")
    out = io.StringIO()
    confirm_by_name("worker-03", action="reset worker-03", yes=yes, stdin=stdin, stdout=out)
    return out.getvalue()


def test_typing_the_node_name_confirms_and_the_question_names_it() -> None:
    question = ask("worker-03\n")
    assert "reset worker-03" in question
    assert "Type the node name (worker-03) to confirm" in question


def test_surrounding_spaces_in_the_answer_do_not_matter() -> None:
    ask("  worker-03  \n")


@pytest.mark.parametrize("typed", ["worker-3\n", "y\n", "yes\n", "\n", "WORKER-03\n"])
def test_any_other_answer_refuses(typed: str) -> None:
    with pytest.raises(ConfirmationError, match=r"not confirmed.*did not reset worker-03"):
        ask(typed)


def test_end_of_input_refuses() -> None:
    with pytest.raises(ConfirmationError, match="end of input"):
        ask(None)


def test_without_a_terminal_it_refuses_and_says_to_pass_yes() -> None:
    with pytest.raises(ConfirmationError, match=r"no terminal.*--yes"):
        ask("worker-03\n", terminal=False)


def test_yes_confirms_without_asking_even_without_a_terminal() -> None:
    assert ask(None, yes=True, terminal=False) == ""


# -- the plan's y/N question ----------------------------------------------------------------


def ask_plan(typed: str, *, terminal: bool = True, yes: bool = False) -> str:
    stdin: io.StringIO = Terminal(typed) if terminal else io.StringIO(typed)
    out = io.StringIO()
    confirm_plan("Apply to 2 nodes?", yes=yes, stdin=stdin, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("answer", ["y\n", "yes\n", "Y\n", " YES \n"])
def test_yes_on_a_terminal_goes_on_after_asking_once(answer: str) -> None:
    assert ask_plan(answer) == "Apply to 2 nodes? [y/N] "


@pytest.mark.parametrize("answer", ["\n", "n\n", "no\n", "yep\n", ""])
def test_anything_else_is_no_and_nothing_changes(answer: str) -> None:
    with pytest.raises(ConfirmationError, match="not confirmed; nothing was changed"):
        ask_plan(answer)


def test_without_a_terminal_only_yes_goes_on() -> None:
    with pytest.raises(ConfirmationError, match="no terminal to ask 'Apply to 2 nodes\\?'"):
        ask_plan("y\n", terminal=False)
    assert ask_plan("", terminal=False, yes=True) == ""
