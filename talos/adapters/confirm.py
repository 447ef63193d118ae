"""Typed-name confirmation before a destructive action (``inv reset``).

The user types the name of what is about to be destroyed; anything else, end of input or
no terminal to ask on refuses with :class:`ConfirmationError`. ``--yes`` skips the question
for scripts that have already decided.
"""

from __future__ import annotations

import sys
from typing import TextIO

from talos.errors import ConfirmationError


def _ask(prompt: str, *, yes: bool, stdin: TextIO | None, stdout: TextIO | None,
         no_terminal: str) -> str | None:
    """The one way to ask: None when ``yes`` answered already; else ``prompt`` on
    ``stdout`` and one line from ``stdin`` ("" at end of input, the line then ended so
    the shell's prompt starts on its own). Without a terminal to ask on,
    :class:`ConfirmationError` saying ``no_terminal``."""
    if yes:
        return None
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    if not _is_terminal(stdin):
        raise ConfirmationError(no_terminal)
    stdout.write(prompt)
    stdout.flush()
    answer = stdin.readline()
    if not answer:
        stdout.write("\n")
    return answer


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
    answer = _ask(f"This will {action}.\nType the node name ({name}) to confirm: ",
                  yes=yes, stdin=stdin, stdout=stdout,
                  no_terminal=f"refusing to {action} without confirmation: no terminal to "
                              "ask on; pass --yes to confirm non-interactively")
    if answer is None:
        return
    if not answer:
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
    answer = _ask(f"{question} [y/N] ", yes=yes, stdin=stdin, stdout=stdout,
                  no_terminal=f"not confirmed: no terminal to ask {question!r} on, and no "
                              "--yes; nothing was changed (pass --yes to confirm from a script)")
    if answer is not None and answer.strip().lower() not in ("y", "yes"):
        raise ConfirmationError("not confirmed; nothing was changed")
