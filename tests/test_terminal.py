"""Remote text is shown without terminal control sequences."""

from __future__ import annotations

from talos.core.terminal import printable
from talos.errors import CommandError, FactoryError
from talos.ops.secrets import redact


def test_escape_sequences_and_control_characters_are_removed() -> None:
    hostile = ("\x1b[31mred\x1b[0m \x1b]0;pwned title\x07text\x1b]8;;http://x\x1b\\link"
               "\x1b]8;;\x1b\\ \x1bPdcs\x1b\\bell\x07 cr\r nul\x00 csi\x9b2J del\x7f esc\x1b")
    assert printable(hostile) == "red textlink bell cr nul csi2J del esc"
    assert printable("tab\tand\nnewline stay") == "tab\tand\nnewline stay"


def test_error_messages_and_redacted_output_carry_none() -> None:
    assert str(FactoryError("HTTP 500: \x1b[2J\x1b[Hgone")) == "HTTP 500: gone"
    error = CommandError("talosctl failed: \x1b]0;title\x07boom", stderr="x")
    assert error.message == "talosctl failed: boom"
    assert redact("+  a: \x1b[8mhidden\x1b[0m\n", ()) == "+  a: hidden\n"
