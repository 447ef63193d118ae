"""Typed-name confirmation before a destructive action (``inv reset``).

The user types the name of what is about to be destroyed; anything else, end of input or
no terminal to ask on refuses with :class:`ConfirmationError`. ``--yes`` skips the question
for scripts that have already decided.
"""

from __future__ import annotations

import sys
from typing import TextIO

from talos.errors import ConfirmationError


def confirm_by_name(
    name: str,
    *,
    action: str,
    yes: bool = False,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Return when the user confirmed ``action`` by typing ``name``; raise otherwise.

    ``action`` is a sentence fragment naming what would happen ("reset worker-03 (wipes
    EPHEMERAL, META)"); it appears in the question and in the refusal.
    """
    if yes:
        return
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    if not _is_terminal(stdin):
        raise ConfirmationError(
            f"refusing to {action} without confirmation: no terminal to ask on; "
            "pass --yes to confirm non-interactively"
        )
    stdout.write(f"This will {action}.\nType the node name ({name}) to confirm: ")
    stdout.flush()
    answer = stdin.readline()
    if not answer:
        stdout.write("\n")
        raise ConfirmationError(f"not confirmed (end of input): did not {action}")
    if answer.strip() != name:
        raise ConfirmationError(
            f"not confirmed: typed {answer.strip()!r}, not {name!r}; did not {action}"
        )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def confirm_plan(
    question: str,
    *,
    yes: bool = False,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Ask ``question`` (``Apply to 2 nodes?``) once, ``[y/N]``; return on yes.

    ``yes`` answers for scripts. Without a terminal to ask on, or on any other answer,
    :class:`ConfirmationError`: nothing has been changed yet.
    """
    if yes:
        return
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    if not _is_terminal(stdin):
        raise ConfirmationError(
            f"not confirmed: no terminal to ask {question!r} on, and no --yes; nothing "
            "was changed (pass --yes to confirm from a script)"
        )
    stdout.write(f"{question} [y/N] ")
    stdout.flush()
    answer = stdin.readline()
    if answer.strip().lower() not in ("y", "yes"):
        if not answer:
            stdout.write("\n")
        raise ConfirmationError("not confirmed; nothing was changed")
