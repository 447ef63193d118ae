"""The configs a plan was made with, kept as they were until the plan is carried out.

An apply is planned (each node asked what would change), shown, confirmed, then carried
out node by node, possibly over many minutes. The files in ``clusterconfig/`` may be
regenerated meanwhile; what goes to a node must be what was shown. :func:`pinned_configs`
reads each step's config once, at plan time, into a private folder (0700, each copy
0600: they hold the cluster's secrets) and hands back the steps pointing at those copies;
the folder is removed however the block ends.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from talos.adapters.files import write_new_private
from talos.ops.apply import ApplyStep


@contextmanager
def pinned_configs(steps: Sequence[ApplyStep]) -> Iterator[list[ApplyStep]]:
    """``steps`` with each config read now and applied from a private copy."""
    with tempfile.TemporaryDirectory(prefix="talos-apply-") as folder:
        os.chmod(folder, 0o700)
        pinned = []
        for step in steps:
            data = step.config.read_bytes()
            copy = Path(folder) / f"{step.name}.yaml"
            write_new_private(copy, data)
            pinned.append(replace(step, file=copy,
                                  sha256=hashlib.sha256(data).hexdigest()))
        yield pinned
