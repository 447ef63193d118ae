"""The talosctl adapter: every talosctl call of talos-tasks, built from data, run, its
output parsed and its failures explained.

    commands.py   :class:`Talosctl`: command lines from data, running them, their errors
    parse.py      outputs to data: apply results, resources, versions, tables, sizes
    etcd.py       ``etcd status`` / ``etcd members`` rows and snapshots, as data
    many.py       one question to many nodes in one call: :class:`Answers`, :func:`running`
    failures.py   talosctl's stderr read into one line: what failed, where, what to do

Import from here; the modules are the implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from talos.core.lazyexports import exported_on_first_use

# Each name is imported from its module on first use: most tasks run talosctl for a
# question or two, and need neither the etcd tables nor the many-node machinery.
if TYPE_CHECKING:
    from talos.adapters.talosctl.commands import BINARY_VARIABLE as BINARY_VARIABLE
    from talos.adapters.talosctl.commands import DEFAULT_BINARY as DEFAULT_BINARY
    from talos.adapters.talosctl.commands import DEFAULT_WIPE as DEFAULT_WIPE
    from talos.adapters.talosctl.commands import READ_TIMEOUT as READ_TIMEOUT
    from talos.adapters.talosctl.commands import SYSTEM_LABELS as SYSTEM_LABELS
    from talos.adapters.talosctl.commands import Talosctl as Talosctl
    from talos.adapters.talosctl.etcd import EtcdMember as EtcdMember
    from talos.adapters.talosctl.etcd import EtcdMemberStatus as EtcdMemberStatus
    from talos.adapters.talosctl.etcd import Snapshot as Snapshot
    from talos.adapters.talosctl.etcd import parse_etcd_members as parse_etcd_members
    from talos.adapters.talosctl.etcd import parse_etcd_status as parse_etcd_status
    from talos.adapters.talosctl.failures import diagnose as diagnose
    from talos.adapters.talosctl.failures import error_line as error_line
    from talos.adapters.talosctl.failures import explain as explain
    from talos.adapters.talosctl.failures import failed_check as failed_check
    from talos.adapters.talosctl.failures import parse_node_errors as parse_node_errors
    from talos.adapters.talosctl.failures import tidy as tidy
    from talos.adapters.talosctl.failures import validation_problems as validation_problems
    from talos.adapters.talosctl.failures import without_diffs as without_diffs
    from talos.adapters.talosctl.many import EACH_AT_ONCE as EACH_AT_ONCE
    from talos.adapters.talosctl.many import Answers as Answers
    from talos.adapters.talosctl.many import Asker as Asker
    from talos.adapters.talosctl.many import Running as Running
    from talos.adapters.talosctl.many import running as running
    from talos.adapters.talosctl.parse import ApplyResult as ApplyResult
    from talos.adapters.talosctl.parse import ContainerImage as ContainerImage
    from talos.adapters.talosctl.parse import MachineStatus as MachineStatus
    from talos.adapters.talosctl.parse import Member as Member
    from talos.adapters.talosctl.parse import parse_apply as parse_apply
    from talos.adapters.talosctl.parse import parse_image_list as parse_image_list
    from talos.adapters.talosctl.parse import parse_json_stream as parse_json_stream
    from talos.adapters.talosctl.parse import parse_printed_size as parse_printed_size
    from talos.adapters.talosctl.parse import parse_usage as parse_usage
    from talos.adapters.talosctl.parse import parse_version_tag as parse_version_tag
else:  # type checkers see the names above, and an unknown one is an error there
    __getattr__ = exported_on_first_use(globals(), {
        "talos.adapters.talosctl.commands": (
            "BINARY_VARIABLE", "DEFAULT_BINARY", "DEFAULT_WIPE", "READ_TIMEOUT",
            "SYSTEM_LABELS", "Talosctl",
        ),
        "talos.adapters.talosctl.etcd": (
            "EtcdMember", "EtcdMemberStatus", "Snapshot", "parse_etcd_members",
            "parse_etcd_status",
        ),
        "talos.adapters.talosctl.failures": (
            "diagnose", "error_line", "explain", "failed_check", "parse_node_errors",
            "tidy", "validation_problems", "without_diffs",
        ),
        "talos.adapters.talosctl.many": (
            "EACH_AT_ONCE", "Answers", "Asker", "Running", "running",
        ),
        "talos.adapters.talosctl.parse": (
            "ApplyResult", "ContainerImage", "MachineStatus", "Member", "parse_apply",
            "parse_image_list", "parse_json_stream", "parse_printed_size", "parse_usage",
            "parse_version_tag",
        ),
    })

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
