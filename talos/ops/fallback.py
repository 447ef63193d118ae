"""Release-day merging: ``talosctl machineconfig patch`` where the merger's rules are older.

The merger knows the document kinds and fields of one Talos minor (the rules' version,
:func:`talos.core.merge.rules.rules_version`). When a new Talos ships, talosctl of that version
knows its new kinds and fields the same day; the rules do not. So:

- a node whose Talos minor is newer than the rules is merged by talosctl (its base
  config, from ``gen config`` of that version, may already hold fields the rules lack);
- a patch that uses a kind or field the rules do not know (:class:`UnknownToRules`) is
  merged by talosctl when talosctl's minor is newer than the rules (it is the authority
  on its own Talos); with a talosctl no newer than the rules, it is the user's mistake
  and the merger's error stands.

Configs merged this way are checked with ``talosctl validate`` like any other. Callers
say once that the route was taken (:attr:`Route.note`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from talos.adapters.files import write_private_temp
from talos.adapters.sops import private_tempdir
from talos.adapters.talosctl import Talosctl
from talos.core.merge.rules import rules_version
from talos.errors import CommandError, UnknownToRules


class PatchTool(Protocol):
    """What the route needs of talosctl (:class:`talos.adapters.talosctl.Talosctl` provides it)."""

    def machineconfig_patch(self, base: Path, patches: Sequence[str], output: Path) -> None: ...


def minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"^v?(\d+)\.(\d+)", version.strip())
    return (int(match[1]), int(match[2])) if match else None


def rules_minor() -> tuple[int, int]:
    found = minor(rules_version())
    assert found is not None, "rules.json names no Talos version"
    return found


def newer_than_rules(version: str) -> bool:
    """Whether ``version`` (``v1.13.0``) is of a Talos minor the rules do not cover."""
    found = minor(version)
    return found is not None and found > rules_minor()


def rules_label() -> str:
    major, minor_number = rules_minor()
    return f"v{major}.{minor_number}"


@dataclass
class Route:
    """Which nodes talosctl merges, and the one line that says why."""

    by_talosctl: set[str] = field(default_factory=set)
    note: str = ""

    def choose(self, name: str, reason: str) -> None:
        self.by_talosctl.add(name)
        if not self.note:
            self.note = reason


def plan_route(
    nodes: Iterable[tuple[str, str]],
    *,
    client_version: str,
    load: Callable[[str], object],
) -> Route:
    """Decide, for each ``(node name, its Talos version)``, who merges.

    ``load(name)`` reads the node's patches with the merger (raising
    :class:`UnknownToRules` for what the rules lack); it is skipped for nodes talosctl
    merges anyway, whose patches may use fields of their newer Talos.
    """
    route = Route()
    for name, talos_version in nodes:
        if newer_than_rules(talos_version):
            route.choose(name, (
                f"Talos {talos_version} is newer than the merger's rules ({rules_label()}): "
                f"configs are merged by talosctl machineconfig patch ({client_version}) "
                "and validated"
            ))
            continue
        try:
            load(name)
        except UnknownToRules as exc:
            if not newer_than_rules(client_version):
                raise
            route.choose(name, (
                f"a patch uses what the merger's rules ({rules_label()}) do not know "
                f"({exc.what}); talosctl is {client_version}: configs are merged by "
                "talosctl machineconfig patch and validated"
            ))
    return route


def merge_with_talosctl(
    tool: PatchTool,
    work: Path,
    name: str,
    base: str,
    derived: Sequence[dict[str, Any]],
    patch_files: Sequence[Path],
) -> str:
    """``base`` patched by ``derived`` documents, then ``patch_files``, by talosctl.

    Everything goes through ``work`` (a private folder: the base holds the cluster's
    secrets); files are 0600.
    """
    folder = work / "talosctl-merge"
    folder.mkdir(mode=0o700, exist_ok=True)
    base_file = write_private_temp(folder / f"{name}.base.yaml", base.encode("utf-8"))
    derived_file = write_private_temp(
        folder / f"{name}.derived.yaml",
        yaml.safe_dump_all(list(derived), sort_keys=False).encode("utf-8"),
    )
    output = folder / f"{name}.yaml"
    tool.machineconfig_patch(
        base_file, [f"@{derived_file}", *(f"@{path}" for path in patch_files)], output
    )
    output.chmod(0o600)
    return output.read_text(encoding="utf-8")


def patch_file_by_talosctl(
    base: Path,
    specs: Sequence[str],
    *,
    base_dir: Path,
    error: UnknownToRules,
    talosctl: Any = None,
) -> str:
    """``inv patch``'s fallback: the patched config by ``talosctl machineconfig patch``,
    when talosctl is of a Talos newer than the rules; otherwise ``error`` stands (also
    when there is no talosctl to ask). Says so on stderr."""
    tool = talosctl or Talosctl(None)
    try:
        version = tool.client_version()
    except CommandError:
        raise error from None
    if not newer_than_rules(version):
        raise error
    print(f"note: the patches use what the merger's rules ({rules_label()}) do not know "
          f"({error.what}); talosctl is {version}: patched by talosctl machineconfig patch",
          file=sys.stderr, flush=True)
    with private_tempdir() as work:
        output = work / "patched.yaml"
        tool.machineconfig_patch(base.resolve(), [_absolute(spec, base_dir) for spec in specs],
                                 output)
        return output.read_text(encoding="utf-8")


def _absolute(spec: str, base_dir: Path) -> str:
    """A patch argument that names a file, made absolute (talosctl may run elsewhere)."""
    if spec.startswith("@"):
        return f"@{(base_dir / spec[1:]).resolve()}"
    candidate = base_dir / spec
    if not any(c.isspace() for c in spec) and not spec.startswith(("[", "{")) \
            and candidate.is_file():
        return f"@{candidate.resolve()}"
    return spec
