"""The suite's own rules (tests/conftest.py): which programs make a test end to end."""

from __future__ import annotations

import sys

import pytest
from conftest import TALOSCTL, _e2e_program

PY = sys.executable


@pytest.mark.parametrize(
    ("argv", "program"),
    [
        ([PY, "-c", "from invoke.main import program; program.run()", "--list"], "inv"),
        ([PY, "-m", "invoke", "patch"], "inv"),
        (["/venv/bin/inv", "--list"], "inv"),
        (["talosctl", "version", "--client"], "talosctl"),
        ([str(TALOSCTL), "get", "members"], "talosctl"),
        ([PY, str(TALOSCTL), "get", "members"], "talosctl"),
        (["/usr/local/bin/sops", "--decrypt", "x"], "sops"),
        ("sops --version", "sops"),
        ([PY, "-c", "import time; time.sleep(1)"], None),
        ([PY, "-c", "print('talosctl sops inv')"], None),
        (["kubectl", "apply", "-f", "-"], None),
        ([], None),
    ],
)
def test_the_programs_that_make_a_test_end_to_end_are_recognised(
    argv: list[str] | str, program: str | None
) -> None:
    assert _e2e_program(argv) == program
