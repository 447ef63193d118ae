"""The talosctl adapter: every talosctl call of talos-tasks, built from data, run, its
output parsed and its failures explained.

    commands.py   :class:`Talosctl`: command lines from data, running them, their errors
    parse.py      outputs to data: apply results, resources, versions, tables, sizes
    etcd.py       ``etcd status`` / ``etcd members`` rows and snapshots, as data
    many.py       one question to many nodes in one call: :class:`Answers`, :func:`running`
    failures.py   talosctl's stderr read into one line: what failed, where, what to do

Import from here; the modules are the implementation.
"""

from talos.adapters.talosctl.commands import (
    BINARY_VARIABLE,
    DEFAULT_BINARY,
    DEFAULT_WIPE,
    READ_TIMEOUT,
    SYSTEM_LABELS,
    Talosctl,
)
from talos.adapters.talosctl.etcd import (
    EtcdMember,
    EtcdMemberStatus,
    Snapshot,
    parse_etcd_members,
    parse_etcd_status,
)
from talos.adapters.talosctl.failures import (
    diagnose,
    error_line,
    explain,
    failed_check,
    parse_node_errors,
    tidy,
    validation_problems,
    without_diffs,
)
from talos.adapters.talosctl.many import EACH_AT_ONCE, Answers, Asker, Running, running
from talos.adapters.talosctl.parse import (
    ApplyResult,
    ContainerImage,
    MachineStatus,
    Member,
    parse_apply,
    parse_image_list,
    parse_json_stream,
    parse_printed_size,
    parse_usage,
    parse_version_tag,
)

__all__ = [
    "BINARY_VARIABLE",
    "DEFAULT_BINARY",
    "DEFAULT_WIPE",
    "EACH_AT_ONCE",
    "READ_TIMEOUT",
    "SYSTEM_LABELS",
    "Answers",
    "ApplyResult",
    "Asker",
    "ContainerImage",
    "EtcdMember",
    "EtcdMemberStatus",
    "MachineStatus",
    "Member",
    "Running",
    "Snapshot",
    "Talosctl",
    "diagnose",
    "error_line",
    "explain",
    "failed_check",
    "parse_apply",
    "parse_etcd_members",
    "parse_etcd_status",
    "parse_image_list",
    "parse_json_stream",
    "parse_node_errors",
    "parse_printed_size",
    "parse_usage",
    "parse_version_tag",
    "running",
    "tidy",
    "validation_problems",
    "without_diffs",
]
