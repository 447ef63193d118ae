"""Invoke entry point for talos-tasks: `inv --list` shows every task."""

from talos.tasks import build_namespace

ns = build_namespace()
