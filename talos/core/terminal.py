"""Text from elsewhere (a node, talosctl, the Image Factory) made safe to print.

    printable(text) -> str   without terminal control sequences and control characters

A remote answer could carry escape sequences that recolour, retitle, move the cursor or
hide text on the user's terminal; what is shown keeps only printable text, line breaks
and tabs. Pure.
"""

from __future__ import annotations

import re

# Compiled on first use (re keeps it), not at import: talos.errors imports this module.
_CONTROL = (
    r"\x1b\[[0-?]*[ -/]*[@-~]"          # CSI: colours, cursor moves, erasing
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"   # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"                # other escapes (and a lone ESC)
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"   # C0 but tab and newline, DEL, C1
)


def printable(text: str) -> str:
    """``text`` without terminal control sequences or control characters."""
    return re.sub(_CONTROL, "", text) if text else text
