"""Invoke entry point for talos-tasks: `inv --list` shows every task."""

import sys

# Invoke writes no bytecode unless told to (`--write-pyc`), so that no cache appears
# beside this file; every `inv` call would then compile the package again, which costs
# more than most tasks' own work. The interpreter's own choice stands (-B,
# PYTHONDONTWRITEBYTECODE). Set before the package is imported, so all of it is cached.
sys.dont_write_bytecode = bool(sys.flags.dont_write_bytecode)

from talos.tasks import build_namespace  # noqa: E402

ns = build_namespace()
