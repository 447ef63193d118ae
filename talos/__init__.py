"""talos-tasks: run a Talos Linux cluster from one declarative cluster file."""

from __future__ import annotations

__version__ = "0.1.0"
