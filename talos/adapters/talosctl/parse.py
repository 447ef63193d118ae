"""talosctl's outputs read into data: what a command printed, as the adapter returns it.

Pure: text in, data out (used by the adapter, and by tests on real-format output).
``get -o json`` prints a stream of JSON objects, not an array (PITFALLS 8); tables are
Go tabwriter columns read by their header names; ``apply-config`` speaks on stderr
(PITFALLS 9); sizes are go-humanize's display form (:func:`parse_printed_size`).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from talos.adapters.talosctl.failures import without_diffs


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply-config`` did (or, with ``dry_run``, would do) on one node.

    ``changed``: with ``dry_run``, the node's config differs from the file; otherwise
    the config was applied (talosctl cannot tell an identical apply apart).
    ``reboot``: the change takes a reboot (``auto`` mode decided so, or maintenance mode).
    ``diff``: the dry-run unified diff, or the diff of the fields that made ``auto`` mode
    reboot ("" when there is none). It holds the config's secrets in clear: redact it
    before showing it (``talos.ops.secrets.redact``), as ``inv diff`` does.
    ``message``: talosctl's summary, e.g. "Applied configuration without a reboot" (never
    the diff).
    """

    node: str
    changed: bool
    reboot: bool
    diff: str
    message: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class MachineStatus:
    """``get machinestatus``: the boot stage (``running``, ``booting``, ...) and readiness."""

    stage: str
    ready: bool
    unmet: tuple[str, ...] = ()  # "name: reason" of each unmet condition


@dataclass(frozen=True)
class Member:
    """One cluster member as discovery reports it (``get members``)."""

    hostname: str
    addresses: tuple[str, ...]
    machine_type: str
    os_version: str  # "v1.12.4" (from "Talos (v1.12.4)"), or the raw text if unusual

    @property
    def address(self) -> str | None:
        """The address to reach the member at: its first IPv4 address, else its first."""
        for candidate in self.addresses:
            try:
                if ipaddress.ip_address(candidate).version == 4:
                    return candidate
            except ValueError:
                continue
        return self.addresses[0] if self.addresses else None


@dataclass(frozen=True)
class ContainerImage:
    """One row of ``image list``."""

    name: str
    digest: str
    size_bytes: int
    created: str


def parse_json_stream(text: str) -> list[dict[str, Any]]:
    """Objects of a ``get -o json`` stream (concatenated JSON objects, not an array)."""
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return objects
        value, index = decoder.raw_decode(text, index)
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {type(value).__name__}")
        objects.append(value)


def member_of(resource: dict[str, Any]) -> Member:
    spec = resource.get("spec") or {}
    os_text = str(spec.get("operatingSystem") or "")
    version = re.search(r"\((v[^)]+)\)", os_text)
    return Member(
        hostname=str(spec.get("hostname") or resource.get("metadata", {}).get("id", "")),
        addresses=tuple(str(a) for a in spec.get("addresses") or ()),
        machine_type=str(spec.get("machineType") or ""),
        os_version=version.group(1) if version else os_text,
    )


def machine_status_of(resource: dict[str, Any]) -> MachineStatus:
    spec = resource.get("spec") or {}
    status = spec.get("status") or {}
    unmet = tuple(
        f"{c.get('name', '')}: {c.get('reason', '')}".strip(": ")
        for c in status.get("unmetConditions") or ()
        if isinstance(c, dict)
    )
    return MachineStatus(
        stage=str(spec.get("stage") or "unknown"), ready=bool(status.get("ready")), unmet=unmet
    )


def schematic_of(extensions: Sequence[dict[str, Any]]) -> str | None:
    """The schematic ID: the version of the ``schematic`` virtual extension, if any."""
    for resource in extensions:
        metadata = (resource.get("spec") or {}).get("metadata") or {}
        if metadata.get("name") == "schematic" and metadata.get("version"):
            return str(metadata["version"])
    return None


def parse_version_tag(stdout: str, block: str) -> str | None:
    """The ``Tag:`` of the ``Client:`` or ``Server:`` block of ``talosctl version``."""
    inside = False
    for line in stdout.splitlines():
        stripped = line.strip()
        if not line.startswith((" ", "\t")):
            inside = stripped == f"{block}:"
            continue
        if not inside:
            continue
        if stripped.startswith("Tag:"):
            return stripped.removeprefix("Tag:").strip() or None
        short = re.fullmatch(r"Talos (v\S+)", stripped)
        if short:
            return short.group(1)
    return None


# The units talosctl prints: go-humanize's ``Bytes`` (SI: ``4.2 MB``, one decimal below
# 10), and the IEC names in case a column uses ``IBytes``; exact case, as printed.
_PRINTED_UNITS = {
    "B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15,
    "EB": 10**18, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}


def parse_printed_size(text: str) -> int:
    """Bytes of a size as talosctl prints it in a table (``27 MB``, ``1.2 GB``, ``512 B``)
    or a plain number.

    Not :func:`talos.core.units.parse_bytes`, which reads a size the way Talos
    reads one in a machine config (go-humanize ``ParseBytes``: any case, ``10gib``,
    ``1,000``, the fraction cut off): this one reads display output, whose figures are
    rounded to one decimal, so it rounds, and it refuses a unit talosctl does not print.
    """
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if not match or (match.group(2) and match.group(2) not in _PRINTED_UNITS):
        raise ValueError(f"not a size: {text!r}")
    factor = _PRINTED_UNITS.get(match.group(2), 1)
    return round(float(match.group(1)) * factor)


def read_table(stdout: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a tabwriter table (columns apart by 2+ spaces or tabs)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return [], []
    split = [re.split(r"\t+|\s{2,}", line.strip()) for line in lines]
    return split[0], split[1:]


def parse_image_list(stdout: str) -> list[ContainerImage]:
    header, rows = read_table(stdout)
    if not header:
        return []
    column = {name: i for i, name in enumerate(header)}
    missing = {"IMAGE", "DIGEST", "SIZE", "CREATED"} - set(column)
    if missing:
        raise ValueError(f"image list without column(s) {', '.join(sorted(missing))}")
    images = []
    for row in rows:
        if len(row) < len(header):
            continue
        images.append(ContainerImage(
            name=row[column["IMAGE"]],
            digest=row[column["DIGEST"]],
            size_bytes=parse_printed_size(row[column["SIZE"]]),
            created=row[column["CREATED"]],
        ))
    return images


def parse_usage(stdout: str, path: str) -> int | None:
    """Bytes of ``path`` in ``usage`` output (``SIZE NAME`` or ``NODE SIZE NAME`` rows).

    NAME is relative to the requested path: the path itself is ``.`` (its row comes after
    the folders below it). A NAME equal to ``path`` is read too.
    """
    header, rows = read_table(stdout)
    if "SIZE" not in header or "NAME" not in header:
        return None
    size_at, name_at = header.index("SIZE"), header.index("NAME")
    wanted = path.rstrip("/") or "/"
    found: int | None = None
    for row in rows:
        if len(row) <= max(size_at, name_at):
            continue
        name = row[name_at]
        if name == "." or (name.rstrip("/") or "/") == wanted:
            found = parse_printed_size(row[size_at])
            if name == ".":
                return found
    return found


def parse_apply(node: str, stderr: str, *, dry_run: bool, insecure: bool) -> ApplyResult:
    """Read ``apply-config``'s stderr: ``WARNING:`` lines, then the node's message.

    The message is a summary line (``Applied configuration with a reboot``; in ``try``
    mode a second line says when it is reverted) that may go on with a config diff: after
    ``Config diff:`` in a dry run, after ``diff:`` when ``auto`` mode explains its reboot
    (``...: this config change can't be applied in immediate mode``). The summary becomes
    ``message``, the diff ``diff``: the diff carries the config's tokens and keys in
    clear, so whoever shows it redacts it first; ``message`` never contains it.
    """
    lines = stderr.splitlines()
    warnings = tuple(
        line.strip().removeprefix("WARNING:").strip()
        for line in lines
        if line.startswith("WARNING:")
    )
    text = "\n".join(line for line in lines if not line.startswith("WARNING:"))
    summary = without_diffs(text)
    diff = text[len(summary):]
    diff = diff.lstrip("\n").removeprefix("Config diff:").removeprefix("diff:").strip("\n")
    if diff == "No changes.":
        diff = ""
    said = [
        line.strip()
        for line in summary.splitlines()
        if line.strip() and line.strip() != "Dry run summary:"
    ]
    if dry_run:
        said = [line.replace(" (skipped in dry-run).", "") for line in said]
    message = "\n".join(said)
    maintenance = "maintenance mode" in message
    reboot = insecure or maintenance or message.startswith("Applied configuration with a reboot")
    diff = diff + "\n" if diff else ""
    if dry_run:
        changed = bool(diff) or maintenance
        return ApplyResult(node, changed, reboot and changed, diff, message, warnings)
    return ApplyResult(node, True, reboot, diff, message, warnings)


def parse_server_versions(stdout: str) -> dict[str, str]:
    """``talosctl version`` of several nodes: each ``NODE:`` line of the ``Server:`` part,
    with the ``Tag:`` under it (cmd/talosctl/cmd/talos/version.go)."""
    versions: dict[str, str] = {}
    node: str | None = None
    inside = False
    for line in stdout.splitlines():
        stripped = line.strip()
        if not line.startswith((" ", "\t")):
            inside = stripped == "Server:"
            continue
        if not inside:
            continue
        if stripped.startswith("NODE:"):
            node = stripped.removeprefix("NODE:").strip()
        elif stripped.startswith("Tag:") and node is not None:
            versions[node] = stripped.removeprefix("Tag:").strip()
    return versions
