"""``inv diff`` reports: text for a terminal, JSON for scripts, Markdown for a pull request.

    check_format(fmt)                    -> None (UsageError for an unknown format)
    render(report, fmt, cluster_name)    -> str  the whole report in that format
    diff_document(report)                -> dict the ``--json`` shape
    write_report(path, text)             -> None atomically, onto a regular file only

Pure but for :func:`write_report`. The report's diffs, messages and errors are redacted
before they get here (:func:`talos.ops.apply.run_diff` passes them through
:func:`talos.ops.secrets.redact`); Markdown adds nothing of the config but what they hold.
"""

from __future__ import annotations

import html
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos.adapters.files import write_atomic
from talos.core.table import render_table
from talos.errors import OutputError, UsageError
from talos.ops.apply import DIFF_HEADERS

if TYPE_CHECKING:
    from talos.ops.apply import DiffReport, NodeDiff

FORMATS = ("text", "markdown")
#: A pull-request comment holds at most 65536 characters; the diffs are cut to fit.
COMMENT_LIMIT = 60000


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: not a format; use {' or '.join(FORMATS)}")


def status(d: NodeDiff) -> str:
    """``error``, ``changed`` or ``unchanged``."""
    if d.error is not None:
        return "error"
    return "changed" if d.changed else "unchanged"


def diff_document(report: DiffReport) -> dict[str, Any]:
    """``inv diff --json``: per node, its status, reboot and the redacted diff."""
    return {
        "exitCode": report.exit_code,
        "summary": report.summary(),
        "nodes": [
            {
                "node": d.target.node.name,
                "address": d.target.address,
                "status": status(d),
                "reboot": d.reboot if d.error is None and d.changed else None,
                "diff": d.diff if d.error is None and d.changed else None,
                "message": d.message or None,
                "error": d.error,
            }
            for d in report.diffs
        ],
    }


def render(report: DiffReport, fmt: str, cluster_name: str) -> str:
    """The report in ``fmt`` (see :data:`FORMATS`), ending with a newline."""
    check_format(fmt)
    if fmt == "markdown":
        return render_markdown(report, cluster_name)
    return render_text(report)


def render_text(report: DiffReport) -> str:
    lines: list[str] = []
    for d in report.diffs:
        lines.append(f"== {d.target.node.name} ({d.target.address})")
        if d.error is not None:
            lines.append(f"error: {d.error}")
        elif d.changed:
            lines.append(d.diff.rstrip() or d.message or "(changes; talosctl showed no diff)")
        else:
            lines.append("no changes")
    lines.append("")
    lines.append(render_table(DIFF_HEADERS, report.rows()))
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _block(text: str, language: str = "") -> list[str]:
    fence = _fence(text)
    return [f"{fence}{language}", text.rstrip("\n"), fence]


def render_markdown(report: DiffReport, cluster_name: str,
                    limit: int = COMMENT_LIMIT) -> str:
    """A summary table, then each node's diff in a collapsible section (changes first)."""
    head = [
        f"### Talos config diff: {_cell(cluster_name)}",
        "",
        _cell(report.summary()),
        "",
        "| node | address | config | reboot |",
        "|---|---|---|---|",
    ]
    for d in report.diffs:
        reboot = ("yes" if d.reboot else "no") if d.error is None and d.changed else "-"
        config = {"error": "**error**", "changed": "changes", "unchanged": "no changes"}[status(d)]
        head.append(f"| `{_cell(d.target.node.name)}` | {_cell(d.target.address)} | "
                    f"{config} | {reboot} |")
    sections = [_section(d) for d in _ordered(report.diffs) if status(d) != "unchanged"]
    text = "\n".join(head) + "\n"
    budget = limit - len(text)
    cut = 0
    for section in sections:
        if len(section) + 2 > budget:
            cut += 1
            continue
        text += "\n" + section + "\n"
        budget -= len(section) + 2
    if cut:
        text += (f"\n{cut} diff(s) left out: a comment holds {limit} characters; "
                 "run `inv diff` to see them all.\n")
    return text


def _ordered(diffs: Sequence[NodeDiff]) -> list[NodeDiff]:
    return [d for d in diffs if d.error is not None] + [d for d in diffs if d.error is None]


def _section(d: NodeDiff) -> str:
    name = html.escape(d.target.node.name)
    address = html.escape(d.target.address)
    if d.error is not None:
        title = f"<code>{name}</code> ({address}): error"
        body = _block(d.error)
    else:
        title = (f"<code>{name}</code> ({address}): changes, "
                 f"{'reboots' if d.reboot else 'no reboot'}")
        body = _block(d.diff, "diff") if d.diff.strip() else _block(
            d.message or "(changes; talosctl showed no diff)")
    return "\n".join([f"<details><summary>{title}</summary>", "", *body, "", "</details>"])


def write_report(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically; only a regular file (or nothing) may be
    there: a symlink, folder or device is refused rather than followed or replaced."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot check it ({exc.strerror})") from exc
    if mode is not None and not stat.S_ISREG(mode):
        kind = "a symlink" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else (
            "not a regular file")
        raise UsageError(f"--output {path}: {kind}; name a regular file (it is replaced)")
    if not path.parent.is_dir():
        raise UsageError(f"--output {path}: folder {path.parent} does not exist")
    try:
        write_atomic(path, text.encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
