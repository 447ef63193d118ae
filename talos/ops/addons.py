"""The cluster's addons: ``kustomize build ADDONS --enable-helm | kubectl apply -f -``.

The build runs first and its YAML is handed to kubectl on stdin, so nothing is applied
when the build fails. kustomize renders the Helm charts by running ``helm`` itself: all
three programs are checked before anything runs, each missing one named in the error.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from talos.adapters.command import Result, Runner
from talos.errors import ClusterFileError, ToolMissingError

# What each program is for, said when it is missing.
TOOLS = {
    "kustomize": "kustomize (builds addons/)",
    "helm": "helm (kustomize --enable-helm renders the charts with it)",
    "kubectl": "kubectl (applies the result)",
}


@dataclass(frozen=True)
class AddonsResult:
    """What was built and what kubectl said about it."""

    documents: int
    output: str
    server_dry_run: bool


def build_command(addons_dir: Path) -> list[str]:
    return ["kustomize", "build", str(addons_dir), "--enable-helm"]


def apply_command(*, server_dry_run: bool = False, kubectl: str = "kubectl") -> list[str]:
    argv = [kubectl, "apply", "-f", "-"]
    if server_dry_run:
        argv.append("--dry-run=server")
    return argv


def missing_tools(which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """The programs ``inv addons`` needs that are not on PATH, in the order they run."""
    return [tool for tool in TOOLS if which(tool) is None]


def check_tools(which: Callable[[str], str | None] = shutil.which) -> None:
    """One line naming every missing program and what it is needed for."""
    missing = missing_tools(which)
    if missing:
        needed = "; ".join(TOOLS[tool] for tool in missing)
        raise ToolMissingError(
            f"inv addons needs {', '.join(missing)} on PATH: {needed}; install "
            f"{'it' if len(missing) == 1 else 'them'} and retry",
            command=missing,
        )


def count_documents(yaml_text: str) -> int:
    """Non-empty YAML documents in a stream (kustomize separates them with ``---``)."""
    count = 0
    for chunk in ("\n" + yaml_text).split("\n---"):
        body = [
            line for line in chunk.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if body:
            count += 1
    return count


def apply_addons(
    addons_dir: Path,
    *,
    runner: Runner,
    server_dry_run: bool = False,
    which: Callable[[str], str | None] = shutil.which,
    kubectl: str | None = None,
) -> AddonsResult:
    """Build ``addons_dir`` with kustomize (Helm charts included) and apply it with kubectl.

    ``server_dry_run``: kubectl sends everything to the API server, which validates it and
    changes nothing (``--dry-run=server``). A dry ``runner`` prints the apply and skips it.
    ``kubectl``: the binary to apply with (the pinned one), instead of ``kubectl`` on PATH.
    """
    if not (addons_dir / "kustomization.yaml").is_file():
        raise ClusterFileError(
            str(addons_dir), "no kustomization.yaml here; inv addons builds this folder"
        )
    check_tools(which if kubectl is None else
                (lambda tool: kubectl if tool == "kubectl" else which(tool)))
    built = runner.run(build_command(addons_dir), mutates=False)
    # A server-side dry run changes nothing, so it runs even under a dry runner.
    applied: Result = runner.run(
        apply_command(server_dry_run=server_dry_run, kubectl=kubectl or "kubectl"),
        mutates=not server_dry_run,
        input=built.stdout,
    )
    output = (applied.stdout + applied.stderr).strip()
    return AddonsResult(count_documents(built.stdout), output, server_dry_run)
