"""The client side of a call to nodes: talosconfig, endpoints, nodes, reachability,
per-node errors collected the way talosctl reports them, and table output."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import machineconfig as mc
from . import process, state, yamlio
from .flags import CLIError, Parsed
from .offline import err

CREATED = "2026-01-05T10:00:00Z"
EMPTY_TALOSCONFIG = 'context: ""\ncontexts: {}\n'


class Session:
    """The resolved client side of one invocation: talosconfig, endpoints, nodes."""

    def __init__(self, p: Parsed, data: dict[str, Any], client_version: str) -> None:
        self.p = p
        self.data = data
        self.client_version = client_version
        self.nodes: list[str] = []
        self.endpoints: list[str] = []
        self.talosconfig: Path | None = None
        # Set when no endpoint answers: the first RPC fails with it, under the command's
        # own prefix and without a node (nothing was proxied).
        self.unreachable: str | None = None


def unavailable(ip: str, reason: str = "connect: no route to host") -> str:
    return (f'rpc error: code = Unavailable desc = connection error: desc = "transport: '
            f'Error while dialing: dial tcp {ip}:50000: {reason}"')


def node_problem(data: dict[str, Any], ip: str, *, insecure: bool = False) -> str | None:
    """Guessed: the gRPC texts of a node that cannot be reached.
    Why a call to ``ip`` fails, or None.

    Also guessed: such a node fails at once, as when the connection is refused. On a
    real network a node that drops packets holds the call until gRPC gives up dialling;
    that case is not simulated here (tests that need it wrap the stand-in so that one
    node never answers, as ``tests/test_status.py`` does)."""
    raw = data["nodes"].get(ip)
    if raw is None or not raw.get("reachable", True):
        return unavailable(ip)
    if state.busy(raw):
        return unavailable(ip, "connect: connection refused")
    maintenance = raw.get("maintenance", False)
    if insecure and not maintenance:
        return ('rpc error: code = Unavailable desc = connection error: desc = "transport: '
                'authentication handshake failed: remote error: tls: certificate required"')
    if not insecure and maintenance:
        return ('rpc error: code = Unavailable desc = connection error: desc = "transport: '
                'authentication handshake failed: tls: failed to verify certificate: x509: '
                'certificate signed by unknown authority"')
    return None


def host_of(endpoint: str) -> str:
    text = endpoint.split("://", 1)[-1].rstrip("/")
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        return text.rsplit(":", 1)[0]
    return text


def resolve_talosconfig(explicit: str) -> Path:
    if explicit:
        path = Path(explicit)
        if not path.exists():
            _create_empty(path)
        return path
    candidates: list[Path] = []
    environ = process.environ()
    if environ.get("TALOSCONFIG"):
        candidates.append(Path(environ["TALOSCONFIG"]))
    talos_home = environ.get("TALOS_HOME", "")
    if talos_home.startswith("/"):
        candidates.append(Path(talos_home) / "config")
    else:
        candidates.append(process.home() / ".talos" / "config")
    candidates.append(Path("/var/run/secrets/talos.dev/config"))
    for path in candidates:
        if path.exists():
            return path
    for path in candidates:
        try:
            _create_empty(path)
            return path
        except OSError:
            continue
    raise CLIError("failed to open talosconfig: no writable location")


def _create_empty(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    mc.write_file(path, EMPTY_TALOSCONFIG, 0o600)


def read_talosconfig(path: Path) -> dict[str, Any]:
    try:
        data = yamlio.load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise CLIError(f"failed to open config: {exc.strerror}") from None
    except Exception as exc:
        raise CLIError(f"failed to parse config: {exc}") from None
    if not isinstance(data, dict):
        kind = "!!seq" if isinstance(data, list) else "!!str"
        raise CLIError(f"failed to parse config: yaml: unmarshal errors:\n  line 1: cannot "
                       f"unmarshal {kind} into config.Config")
    data.setdefault("context", "")
    data["contexts"] = data.get("contexts") or {}
    return data


def connect(p: Parsed, data: dict[str, Any], client_version: str, *, single: str = "",
            need_nodes: bool = True) -> Session:
    """# Talos: pkg/machinery/client/client.go:New, GetEndpoints; connection.go:getConn (see the
    comments below; the talosconfig search order is guessed)
    Resolve talosconfig, endpoints and nodes the way talosctl's client does."""
    session = Session(p, data, client_version)
    insecure = bool(p.values.get("insecure"))
    nodes = list(p["nodes"])
    if insecure:
        # The maintenance client dials the nodes themselves; the talosconfig is not read.
        if not nodes:
            raise CLIError("failed to determine endpoints")
        session.endpoints = nodes
    else:
        session.talosconfig = resolve_talosconfig(p["talosconfig"])
        config = read_talosconfig(session.talosconfig)
        # Talos: pkg/machinery/client/client.go:New, GetEndpoints, resolveConfigContext and
        # connection.go:getConn: without -e the endpoints come from the context, and any
        # failure to resolve it leaves none; with -e the context fails the connection.
        # The "error constructing client: " prefix is guessed (talosctl's global args).
        context, problem = resolve_context(config, p["context"])
        if p["endpoints"]:
            if problem:
                raise CLIError("error constructing client: failed to create client "
                               f"connection: failed to resolve configuration context: {problem}")
            session.endpoints = list(p["endpoints"])
        else:
            session.endpoints = list((context or {}).get("endpoints") or [])
            if not session.endpoints:
                raise CLIError("error constructing client: failed to determine endpoints")
        context = context or {}
        if not nodes:
            nodes = list(context.get("nodes") or [])
    if need_nodes and not nodes:
        raise CLIError("nodes are not set for the command: please use `--nodes` flag or "
                       "configuration file to set the nodes to run the command against")
    if single and len(nodes) > 1:
        raise CLIError(f'command "{single}" is not supported with multiple nodes')
    session.nodes = nodes
    latency = float(data.get("latency") or 0)
    if latency > 0:
        process.sleep(latency)
    problems = [endpoint_problem(data, host_of(e), insecure=insecure)
                for e in session.endpoints]
    if all(problems):
        session.unreachable = str(problems[0])
    return session


def resolve_context(config: dict[str, Any], override: str,
                    ) -> tuple[dict[str, Any] | None, str | None]:
    """(the context, None) or (None, why not).

    # Talos: pkg/machinery/client/client.go:resolveConfigContext"""
    contexts = config["contexts"]
    if override:
        if override not in contexts:
            return None, f'context "{override}" not found in config'
        return contexts[override] or {}, None
    name = config["context"]
    if name not in contexts:
        if name == "" and not contexts:
            return None, "talos config file is empty"
        return None, f'default context "{name}" not found in config'
    return contexts[name] or {}, None


def endpoint_problem(data: dict[str, Any], host: str, *, insecure: bool) -> str | None:
    """Guessed: the cluster's shared VIP answers while any control plane does.
    Why the API at ``host`` cannot be reached; the cluster's shared VIP answers while
    any control plane does."""
    vip = host_of(str((data.get("cluster") or {}).get("endpoint") or ""))
    if host == vip and host not in data["nodes"]:
        control_planes = [ip for ip, n in data["nodes"].items()
                          if n.get("role") == "controlplane"]
        if any(node_problem(data, ip, insecure=insecure) is None for ip in control_planes):
            return None
    return node_problem(data, host, insecure=insecure)


def per_node(session: Session, action: str, fn: Callable[[str, dict[str, Any]], None],
             *, insecure: bool = False) -> None:
    """Guessed: how per-node errors are collected and prefixed (the client's FilterMessages is not
    in the reference).
    Run ``fn`` for each reachable node; collect the others' errors as talosctl does."""
    if session.unreachable:
        raise CLIError(f"{action}: {session.unreachable}" if action else session.unreachable)
    errors: list[str] = []
    direct: list[str] = []  # the maintenance client talks to the node itself: no proxy
    for ip in session.nodes:
        problem = node_problem(session.data, ip, insecure=insecure)
        if problem:
            errors.append(f"{ip}: {problem}")
            direct.append(problem)
            continue
        view = state.node_view(session.data, ip)
        assert view is not None
        try:
            fn(ip, view)
        except NodeError as exc:
            errors.append(f"{ip}: {exc}")
            direct.append(str(exc))
    if errors:
        text = direct[0] if insecure else mc.multierror(errors)
        raise CLIError(f"{action}: {text}" if action else text)


class NodeError(Exception):
    """A failure on one node (collected, then reported with the node's address)."""


def version_warning(session: Session) -> None:
    """Guessed from Talos's helpers.ClientVersionCheck (not in the reference): a failed version
    call is ignored.
    talosctl's client version check: one ``WARNING:`` line naming every node older than
    the client, versions in semver form (no ``v``); nodes that do not answer are skipped."""
    client = version_tuple(session.client_version)
    older: list[str] = []
    for ip in session.nodes:
        view = state.node_view(session.data, ip)
        if session.unreachable or view is None or node_problem(session.data, ip):
            continue
        if version_tuple(view["talos_version"]) < client:
            older.append(f"{ip}: server version {view['talos_version'].removeprefix('v')} is "
                         f"older than client version {session.client_version.removeprefix('v')}")
    if older:
        err("WARNING: " + ", ".join(older) + "\n")


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text.split("-")[0])[:3])


def ip_key(ip: str) -> tuple[int, ...] | tuple[str]:
    parts = ip.split(".")
    if len(parts) == 4 and all(x.isdigit() for x in parts):
        return tuple(int(x) for x in parts)
    return (ip,)


def go_list(items: list[str]) -> str:
    return "[" + " ".join(f'"{x}"' for x in items) + "]"


def dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def tabulate(rows: list[list[str]], *, trailing_tab: bool = False) -> str:
    """Go's tabwriter with padding 3: tab-terminated cells are padded, the last is not
    unless the row ends with a tab too (``trailing_tab``: every row but the header, as
    ``upgrade`` prints them)."""
    count = len(rows[0])
    terminated = [count if trailing_tab and index else count - 1
                  for index in range(len(rows))]
    widths: dict[int, int] = {}
    for row, padded in zip(rows, terminated, strict=True):
        for i, cell in enumerate(row[:padded]):
            widths[i] = max(widths.get(i, 0), len(cell))
    lines = []
    for row, padded in zip(rows, terminated, strict=True):
        cells = [cell.ljust(widths[i] + 3) for i, cell in enumerate(row[:padded])]
        lines.append("".join(cells) + "".join(row[padded:]))
    return "".join(line + "\n" for line in lines)
