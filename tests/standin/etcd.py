"""``talosctl etcd status | members | snapshot``, answered from the simulated cluster.

The etcd cluster (simulated; the knobs are listed in ``standin/__init__.py``):

- it exists once a control plane has been bootstrapped; its members are then the control
  planes that are cluster members, not in maintenance mode and not ``etcd_member: false``;
- a member runs etcd while its node answers (reachable, not rebooting) and
  ``etcd_running`` is not false; ``etcd_errors`` fill its ERRORS column;
- the leader is the state's ``etcd.leader`` while that member runs and a quorum (more than
  half of the members) runs; otherwise the running member with the lowest address; without
  a quorum there is no leader (``0000000000000000``) and ``etcd members`` fails.

Output shapes, column order and error wrapping follow the command bodies in
``cmd/talosctl/cmd/talos/etcd.go``; the server-side checks follow ``v1alpha1_server.go``.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import state
from .client import NodeError, connect, ip_key, node_problem, per_node, tabulate, version_warning
from .flags import CLIError, Parsed
from .offline import err, out
from .resources import humanize_bytes

DEFAULT_DB_SIZE = 4_194_304  # 1024 bbolt pages of 4 KiB: guessed, a small fresh cluster
DEFAULT_DB_IN_USE = 2_977_792  # guessed
DEFAULT_KEYS = 1_342  # guessed
PROTOCOL_VERSION = "3.6.5"  # the etcd image the stand-in lists (registry.k8s.io/etcd:v3.6.5)
STORAGE_VERSION = "3.6.0"  # Talos: v1alpha1_server.go:EtcdStatus (major.minor.0 of the version)
SHA256_SIZE = 32


def member_id(data: dict[str, Any], ip: str) -> int:
    """A member's 64-bit ID: the node's ``etcd_member_id`` or one derived from its address
    (guessed: real IDs are random)."""
    raw = data["nodes"].get(ip) or {}
    if raw.get("etcd_member_id") is not None:
        return int(raw["etcd_member_id"])
    return int.from_bytes(hashlib.sha256(f"etcd:{ip}".encode()).digest()[:8], "big")


def format_member_id(value: int) -> str:
    # Talos: pkg/machinery/resources/etcd FormatMemberID (%016x, as internal/pkg/etcd/etcd.go
    # prints member IDs)
    return f"{value:016x}"


def cluster_exists(data: dict[str, Any]) -> bool:
    """etcd was bootstrapped on some control plane (guessed: the stand-in keeps no etcd data
    of the control planes that joined)."""
    return any((view := state.node_view(data, ip)) is not None
               and view["role"] == "controlplane" and view["bootstrapped"]
               for ip in data["nodes"])


def members(data: dict[str, Any]) -> list[str]:
    """Addresses of the etcd members, lowest first."""
    if not cluster_exists(data):
        return []
    found = []
    for ip in data["nodes"]:
        view = state.node_view(data, ip)
        assert view is not None
        if (view["role"] == "controlplane" and view["member"] and not view["maintenance"]
                and view.get("etcd_member", True)):
            found.append(ip)
    return sorted(found, key=ip_key)


def running(data: dict[str, Any], ip: str) -> bool:
    """etcd answers on this member (its node is up and ``etcd_running`` is not false)."""
    raw = data["nodes"].get(ip) or {}
    return node_problem(data, ip) is None and raw.get("etcd_running", True) is not False


def leader(data: dict[str, Any]) -> str | None:
    """The leading member's address, or None without a quorum."""
    everyone = members(data)
    up = [ip for ip in everyone if running(data, ip)]
    if len(up) * 2 <= len(everyone):
        return None
    chosen = (data.get("etcd") or {}).get("leader")
    return chosen if chosen in up else up[0]


def _raft(data: dict[str, Any]) -> tuple[int, int]:
    settings = data.get("etcd") or {}
    return int(settings.get("raft_index", 41_230)), int(settings.get("raft_term", 4))


def _not_controlplane(api: str) -> str:
    # Talos: v1alpha1_server.go:checkControlplane
    return f"rpc error: code = Unimplemented desc = {api} is only available on control plane nodes"


def _ask_each(
    session: Any, what: str, one: Callable[[str, dict[str, Any]], None],
    *, answered: Callable[[], bool],
) -> None:
    """Ask every node; when some failed, fail as a whole only if none answered, else warn.
    Talos: etcd.go:etcdStatusCmd, etcdMemberListCmd (cli.Warning when some nodes answered)"""
    try:
        per_node(session, what, one)
    except CLIError as failure:
        if not answered():
            raise
        err("WARNING: " + failure.message.removeprefix(f"{what}: ") + "\n")


def status(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """One row per node that answered; the others are one warning (or the error when none
    answered). Talos: cmd/talosctl/cmd/talos/etcd.go:etcdStatusCmd"""
    session = connect(p, data, client_version)
    version_warning(session)
    rows: list[list[str]] = []
    lead = leader(data)
    raft_index, raft_term = _raft(data)

    def one(ip: str, node: dict[str, Any]) -> None:
        if node["role"] != "controlplane":
            raise NodeError(_not_controlplane("etcd status"))
        if ip not in members(data) or not running(data, ip):
            # Talos: v1alpha1_server.go:EtcdStatus wraps the client's error; guessed text
            raise NodeError("rpc error: code = Unknown desc = failed to query etcd status: "
                            "context deadline exceeded")
        size = int(node.get("etcd_db_size") or DEFAULT_DB_SIZE)
        in_use = int(node.get("etcd_db_in_use") or min(DEFAULT_DB_IN_USE, size))
        ratio = in_use / size * 100.0 if size > 0 else 0.0
        rows.append([
            ip,
            format_member_id(member_id(data, ip)),
            humanize_bytes(size),
            f"{humanize_bytes(in_use)} ({ratio:.2f}%)",
            format_member_id(member_id(data, lead) if lead else 0),
            str(raft_index), str(raft_term), str(raft_index),
            "true" if node.get("etcd_learner") else "false",
            PROTOCOL_VERSION, STORAGE_VERSION,
            ", ".join(node.get("etcd_errors") or []),
        ])

    _ask_each(session, "error getting status", one, answered=lambda: bool(rows))
    header = ["NODE", "MEMBER", "DB SIZE", "IN USE", "LEADER", "RAFT INDEX", "RAFT TERM",
              "RAFT APPLIED INDEX", "LEARNER", "PROTOCOL", "STORAGE", "ERRORS"]
    out(tabulate([header, *rows]))


def member_list(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """The members as the asked node's local etcd knows them (``QueryLocal``).
    Talos: cmd/talosctl/cmd/talos/etcd.go:etcdMemberListCmd, v1alpha1_server.go:EtcdMemberList"""
    session = connect(p, data, client_version)
    version_warning(session)
    rows: list[list[str]] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        if node["role"] != "controlplane":
            raise NodeError(_not_controlplane("member list"))
        if ip not in members(data) or not running(data, ip):
            raise NodeError("rpc error: code = DeadlineExceeded desc = context deadline "
                            "exceeded")  # guessed: the local etcd does not answer
        if leader(data) is None:
            # guessed: WithRequireLeader on a member that lost its quorum
            raise NodeError("rpc error: code = Unavailable desc = etcdserver: no leader")
        for member_ip in members(data):
            view = state.node_view(data, member_ip)
            assert view is not None
            rows.append([ip, format_member_id(member_id(data, member_ip)), view["hostname"],
                         f"https://{member_ip}:2380", f"https://{member_ip}:2379",
                         "true" if view.get("etcd_learner") else "false"])

    _ask_each(session, "error getting members", one, answered=lambda: bool(rows))
    if rows:  # the header comes with the first member
        out(tabulate([["NODE", "ID", "HOSTNAME", "PEER URLS", "CLIENT URLS", "LEARNER"],
                      *rows]))


def snapshot_bytes(data: dict[str, Any], ip: str) -> bytes:
    """The member's database as a snapshot stream: the DB file (a whole number of pages)
    and a SHA-256 of it, so that ``size % 512 == 32`` holds (guessed content)."""
    node = data["nodes"][ip]
    size = int(node.get("etcd_db_size") or DEFAULT_DB_SIZE)
    seed = hashlib.sha256(f"etcd-db:{ip}:{_raft(data)[0]}".encode()).digest()
    body = (seed * (size // len(seed) + 1))[:size]
    return body + hashlib.sha256(body).digest()


def snapshot(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """Stream the node's snapshot to ``<path>.part`` (0600), check its size, rename it to
    ``<path>``, then print where it went and what it holds.
    Talos: cmd/talosctl/cmd/talos/etcd.go:etcdSnapshotCmd"""
    session = connect(p, data, client_version, single="etcd snapshot")
    version_warning(session)
    if session.unreachable:
        raise CLIError(f"error reading file: {session.unreachable}")
    db_path = p.args[0]
    part_path = db_path + ".part"
    try:
        fd = os.open(part_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise CLIError(f"error creating temporary file: open {part_path}: "
                       f"{(exc.strerror or '').lower()}") from None
    try:
        ip = session.nodes[0]
        problem = node_problem(data, ip)
        view = state.node_view(data, ip)
        if problem:
            raise CLIError(f"error reading file: {problem}")  # guessed: the stream cannot open
        assert view is not None
        if view["role"] != "controlplane":
            raise CLIError(f"error reading: {_not_controlplane('etcd snapshot')}")
        if ip not in members(data) or not running(data, ip):
            raise CLIError("error reading: rpc error: code = Unknown desc = failed reading "
                           "etcd snapshot: context deadline exceeded")  # guessed
        content = snapshot_bytes(data, ip)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if len(content) % 512 != SHA256_SIZE:
            raise CLIError(f"sha256 checksum not found (size {len(content)})")
        os.rename(part_path, db_path)
    finally:
        if fd >= 0:
            os.close(fd)
        Path(part_path).unlink(missing_ok=True)  # Talos: etcd.go (defer os.RemoveAll)
    out(f'etcd snapshot saved to "{db_path}" ({len(content)} bytes)\n')
    node = data["nodes"][ip]
    in_use = int(node.get("etcd_db_in_use") or min(DEFAULT_DB_IN_USE, len(content)))
    out(f"snapshot info: hash {zlib.crc32(content):08x}, revision {_raft(data)[0]}, "
        f"total keys {int(node.get('etcd_keys') or DEFAULT_KEYS)}, total size {in_use}\n")
