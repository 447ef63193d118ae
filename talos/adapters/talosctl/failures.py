"""talosctl's failures read into one line: what went wrong, on which node, what to do.

Pure: text in, text out (used by the adapter, and by tests on real-format stderr).
talosctl prints its error last (after usage text, warnings and progress); a call to
several nodes lists each node's failure as ``* <node>: <error>``; gRPC wraps the fact
that matters (``dial tcp ...``, ``desc = ...``); a refused config change ends with a
diff holding secrets, which is never part of a message.
"""

from __future__ import annotations

import re

# Patterns are compiled on first use (re keeps them), not at import: every task that
# runs talosctl imports this module, most never read a failure.
_RPC = r"rpc error: code = (\w+) desc = (.*)"
_DIAL = r'dial tcp [^"]+'
_NODE_PREFIX = r'^(?:"[^"]+"|\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]+:[0-9a-fA-F:]*):\s+'
_DIAGNOSES: tuple[tuple[str, str, str], ...] = (
    (
        r"unknown (?:shorthand )?flag|unknown command|accepts \d+ arg|invalid argument",
        "talosctl rejected the command line",
        "the installed talosctl is probably not v1.12: install the cluster's version",
    ),
    (
        r"error validating etcd for upgrade",
        "the node refused to upgrade: etcd is not healthy enough",
        "check `inv etcd.status` and bring every member back first; --force skips the "
        "check and may lose data",
    ),
    (
        r"tls: certificate required",
        "the node is configured already (not in maintenance mode)",
        "apply without --insecure",
    ),
    (
        r"(?i)x509:|certificate signed by unknown authority|tls: ",
        "the node does not accept our certificates",
        "it is in maintenance mode (apply with --insecure) or belongs to another cluster "
        "than the talosconfig; check TALOS_TASKS_TALOSCONFIG",
    ),
    (
        r"talos config file is empty|failed to determine endpoints|"
        r"failed to resolve configuration context",
        "the talosconfig is unusable",
        "regenerate it with `inv genconfig` or point TALOS_TASKS_TALOSCONFIG at a valid one",
    ),
    (
        r"(?i)PermissionDenied|not authorized",
        "permission denied",
        "use the cluster's admin talosconfig",
    ),
    (
        r"(?i)connection refused|no route to host|i/o timeout|network is unreachable|"
        r"connection error|no such host|host is down",
        "node is unreachable",
        "check it is powered on and its address in the cluster file",
    ),
    (
        r"(?i)DeadlineExceeded|context deadline exceeded",
        "timed out",
        "check the node is up, then retry",
    ),
)


def error_line(stderr: str) -> str:
    """The line of talosctl's stderr that says what went wrong, as printed ("" if none).

    Usage text, warnings and multi-error headers are passed over: the last line left is
    the error (talosctl prints it last, and progress trackers end with it).
    """
    text = without_diffs(stderr).split("\nUsage:", 1)[0]
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line.strip().startswith("WARNING:")
        and not re.fullmatch(r"\d+ errors? occurred:", line.strip())
    ]
    return lines[-1] if lines else ""


def without_diffs(text: str) -> str:
    """``text`` cut before any config diff talosctl appended to a message.

    A node that refuses a change in ``no-reboot``/``try`` mode (or, in ``auto`` mode,
    explains its reboot) ends its message with ``diff:`` and a unified diff of the
    machine config, tokens and keys in clear; a dry run prints ``Config diff:``. Nothing
    from there on is an error line, and none of it may be shown unredacted.
    """
    cut = len(text)
    for marker in ("\ndiff:\n", "\nConfig diff:\n"):
        at = ("\n" + text).find(marker)
        if at >= 0:
            cut = min(cut, at)
    return text[:cut]


def tidy(line: str) -> str:
    """``line`` without its list bullet, node prefix and gRPC wrapping."""
    line = re.sub(_NODE_PREFIX, "", line.removeprefix("* ").strip())
    dial = re.search(_DIAL, line)
    if dial:  # the rest is gRPC's wrapping of the one fact that matters
        return dial.group(0)
    rpc = re.search(_RPC, line)
    if rpc:
        line = f"{line[: rpc.start()]}{rpc.group(2).strip()} ({rpc.group(1)})"
    return line


def explain(stderr: str) -> str:
    """What went wrong, in one line, from talosctl's stderr."""
    return tidy(error_line(stderr)) or "no error message"


def failed_check(stderr: str) -> str | None:
    """The last health check that did not pass, with its last error (``health`` output)."""
    failed = None
    for line in stderr.splitlines():
        match = re.match(r"waiting for (.+?): (.*)$", line.strip())
        if match and match.group(2) not in ("...", "OK", "SKIP"):
            failed = f"waiting for {match.group(1)}: {tidy(match.group(2))}"
    return failed


def diagnose(stderr: str) -> tuple[str, str]:
    """(one-line reason, what to do) for a failed talosctl call."""
    check = failed_check(stderr)
    if check:
        return check, "the cluster was not healthy before the wait timeout"
    line = error_line(stderr)
    reason = tidy(line) or "no error message"
    for pattern, summary, hint in _DIAGNOSES:
        if re.search(pattern, line):
            return f"{summary}: {reason}", hint
    return reason, ""


def is_already_bootstrapped(stderr: str) -> bool:
    return "AlreadyExists" in stderr or "etcd data directory is not empty" in stderr


_OCCURRED = r"(\d+) errors? occurred:$"


def validation_problems(stderr: str) -> list[str]:
    """Each problem of a failed ``validate``, with the document it is in.

    talosctl prints the config container's multierror, nested: ``1 error occurred:``, then
    ``\t* v1alpha1.Config: 2 errors occurred:`` followed by that document's own ``\t* ...``
    items, then other documents' items (``\t* HostnameConfig: ...``) and unprefixed
    conflicts. A nested list is read by its count; its items keep the prefix of the line
    that opened it: ``v1alpha1.Config: unknown machine type "gateway"``.
    """
    bullets = [
        line.strip().removeprefix("* ").strip()
        for line in stderr.splitlines()
        if line.strip().startswith("* ")
    ]
    problems: list[str] = []

    def take(index: int, prefix: str) -> int:
        text = bullets[index]
        nested = re.search(_OCCURRED, text)
        if nested is None:
            problems.append(prefix + text)
            return index + 1
        head = prefix + text[: nested.start()]
        index += 1
        for _ in range(int(nested.group(1))):
            if index >= len(bullets):
                break
            index = take(index, head)
        return index

    position = 0
    while position < len(bullets):
        position = take(position, "")
    return problems


_NODE_ERROR = r"^\s*\*\s+(?P<node>[^\s:]+|\[[^\]]+\]|[0-9a-fA-F:]+):\s+(?P<error>.*)$"


def parse_node_errors(stderr: str) -> dict[str, str]:
    """Per-node failures of a call to several nodes: talosctl lists them as
    ``* <node>: <error>`` under ``N errors occurred:`` (as a warning when other nodes
    answered, as the error when none did). Each error as printed, on one line."""
    errors: dict[str, str] = {}
    for line in stderr.splitlines():
        match = re.match(_NODE_ERROR, line)
        if match:
            errors[match["node"]] = match["error"].strip()
    return errors
