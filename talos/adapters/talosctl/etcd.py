"""etcd as talosctl reports it: ``etcd status`` and ``etcd members`` rows, snapshots.

Pure: text in, data out. Tables are read by column name (cmd/talosctl/cmd/talos/etcd.go);
a call through a node adds a NODE column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from talos.adapters.talosctl.parse import parse_printed_size, read_table


@dataclass(frozen=True)
class EtcdMemberStatus:
    """One row of ``etcd status``: what one member's etcd says of itself."""

    node: str
    member_id: str
    db_size: int
    db_in_use: int
    leader: str  # the member ID of the leader it follows; all zeros: none
    raft_index: int
    raft_term: int
    learner: bool
    protocol: str
    errors: str = ""

    @property
    def has_leader(self) -> bool:
        return bool(self.leader.strip("0"))


@dataclass(frozen=True)
class EtcdMember:
    """One row of ``etcd members``."""

    member_id: str
    hostname: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    learner: bool


@dataclass(frozen=True)
class Snapshot:
    """What ``etcd snapshot`` wrote."""

    path: Path
    size: int
    info: str  # talosctl's "snapshot info: ..." line


def parse_etcd_status(stdout: str) -> list[EtcdMemberStatus]:
    """Rows of ``etcd status`` (cmd/talosctl/cmd/talos/etcd.go: NODE, MEMBER, DB SIZE,
    IN USE, LEADER, RAFT INDEX, RAFT TERM, RAFT APPLIED INDEX, LEARNER, PROTOCOL, STORAGE,
    ERRORS; NODE only when the call went through a node)."""
    header, rows = read_table(stdout)
    if not header:
        return []
    column = {name: i for i, name in enumerate(header)}
    needed = {"MEMBER", "DB SIZE", "IN USE", "LEADER", "RAFT INDEX", "RAFT TERM", "LEARNER"}
    missing = needed - set(column)
    if missing:
        raise ValueError(f"etcd status without column(s) {', '.join(sorted(missing))}")
    found = []
    for row in rows:
        if len(row) < column["LEARNER"] + 1:
            continue

        def cell(name: str, row: list[str] = row) -> str:
            index = column.get(name)
            return row[index] if index is not None and index < len(row) else ""

        found.append(EtcdMemberStatus(
            node=cell("NODE"),
            member_id=cell("MEMBER"),
            db_size=parse_printed_size(cell("DB SIZE")),
            db_in_use=parse_printed_size(cell("IN USE").split("(")[0]),
            leader=cell("LEADER"),
            raft_index=int(cell("RAFT INDEX") or 0),
            raft_term=int(cell("RAFT TERM") or 0),
            learner=cell("LEARNER") == "true",
            protocol=cell("PROTOCOL"),
            errors=cell("ERRORS"),
        ))
    return found


def parse_etcd_members(stdout: str) -> list[EtcdMember]:
    """Rows of ``etcd members`` (ID, HOSTNAME, PEER URLS, CLIENT URLS, LEARNER; NODE
    first when the call went through a node)."""
    header, rows = read_table(stdout)
    if not header:
        return []
    column = {name: i for i, name in enumerate(header)}
    if not {"ID", "HOSTNAME", "LEARNER"} <= set(column):
        raise ValueError("etcd members without ID, HOSTNAME or LEARNER column")
    members = []
    for row in rows:
        if len(row) != len(header):
            continue
        members.append(EtcdMember(
            member_id=row[column["ID"]],
            hostname=row[column["HOSTNAME"]],
            peer_urls=tuple(u for u in row[column["PEER URLS"]].split(",") if u),
            client_urls=tuple(u for u in row[column["CLIENT URLS"]].split(",") if u),
            learner=row[column["LEARNER"]] == "true",
        ))
    return members


def parse_snapshot(path: Path, stdout: str) -> Snapshot:
    """What ``etcd snapshot`` says it wrote: ``... (N bytes)`` and its ``snapshot info:``
    line (0 and "" when it does not say)."""
    match = re.search(r"\((\d+) bytes\)", stdout)
    info = next((line for line in stdout.splitlines() if line.startswith("snapshot info:")), "")
    return Snapshot(path, int(match.group(1)) if match else 0, info)
