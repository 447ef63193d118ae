"""Commands that talk to nodes, against the simulated cluster in the state file."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import machineconfig as mc
from . import state, yamlio
from .flags import CLIError, Parsed, format_duration
from .offline import client_block, err, out

VANILLA_SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
CREATED = "2026-01-05T10:00:00Z"
EMPTY_TALOSCONFIG = 'context: ""\ncontexts: {}\n'
START = time.monotonic()


# ---------------------------------------------------------------------------------------
# Connecting


class Session:
    """The resolved client side of one invocation: talosconfig, endpoints, nodes."""

    def __init__(self, p: Parsed, data: dict[str, Any], client_version: str) -> None:
        self.p = p
        self.data = data
        self.client_version = client_version
        self.nodes: list[str] = []
        self.endpoints: list[str] = []
        self.talosconfig: Path | None = None


def unavailable(ip: str, reason: str = "connect: no route to host") -> str:
    return (f'rpc error: code = Unavailable desc = connection error: desc = "transport: '
            f'Error while dialing: dial tcp {ip}:50000: {reason}"')


def node_problem(data: dict[str, Any], ip: str, *, insecure: bool = False) -> str | None:
    """Why a call to ``ip`` fails, or None."""
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


def _host(endpoint: str) -> str:
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
    if os.environ.get("TALOSCONFIG"):
        candidates.append(Path(os.environ["TALOSCONFIG"]))
    talos_home = os.environ.get("TALOS_HOME", "")
    if talos_home.startswith("/"):
        candidates.append(Path(talos_home) / "config")
    else:
        candidates.append(Path.home() / ".talos" / "config")
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
    data.setdefault("context", "")
    data["contexts"] = data.get("contexts") or {}
    return data


def connect(p: Parsed, data: dict[str, Any], client_version: str, *, single: str = "",
            need_nodes: bool = True) -> Session:
    """Resolve talosconfig, endpoints and nodes the way talosctl's client does."""
    session = Session(p, data, client_version)
    insecure = bool(p.values.get("insecure"))
    nodes = list(p["nodes"])
    if insecure:
        session.endpoints = nodes
    else:
        session.talosconfig = resolve_talosconfig(p["talosconfig"])
        config = read_talosconfig(session.talosconfig)
        name = p["context"] or config["context"]
        if not config["contexts"] or not name:
            raise CLIError("error constructing client: failed to resolve configuration "
                           "context: talos config file is empty")
        context = config["contexts"].get(name)
        if context is None:
            raise CLIError(f'error constructing client: failed to resolve configuration '
                           f'context: context "{name}" not found in config')
        session.endpoints = list(p["endpoints"]) or list(context.get("endpoints") or [])
        if not session.endpoints:
            raise CLIError("error constructing client: failed to determine endpoints")
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
        time.sleep(latency)
    problems = [endpoint_problem(data, _host(e), insecure=insecure)
                for e in session.endpoints]
    if all(problems):
        raise CLIError(str(problems[0]))
    return session


def endpoint_problem(data: dict[str, Any], host: str, *, insecure: bool) -> str | None:
    """Why the API at ``host`` cannot be reached; the cluster's shared VIP answers while
    any control plane does."""
    vip = _host(str((data.get("cluster") or {}).get("endpoint") or ""))
    if host == vip and host not in data["nodes"]:
        control_planes = [ip for ip, n in data["nodes"].items()
                          if n.get("role") == "controlplane"]
        if any(node_problem(data, ip, insecure=insecure) is None for ip in control_planes):
            return None
    return node_problem(data, host, insecure=insecure)


def per_node(session: Session, action: str, fn: Callable[[str, dict[str, Any]], None],
             *, insecure: bool = False) -> None:
    """Run ``fn`` for each reachable node; collect the others' errors as talosctl does."""
    errors: list[str] = []
    for ip in session.nodes:
        problem = node_problem(session.data, ip, insecure=insecure)
        if problem:
            errors.append(f"{ip}: {problem}")
            continue
        view = state.node_view(session.data, ip)
        assert view is not None
        try:
            fn(ip, view)
        except NodeError as exc:
            errors.append(f"{ip}: {exc}")
    if errors:
        raise CLIError(f"{action}: {mc.multierror(errors)}")


class NodeError(Exception):
    """A failure on one node (collected, then reported with the node's address)."""


def version_warning(session: Session) -> None:
    client = _version_tuple(session.client_version)
    for ip in session.nodes:
        view = state.node_view(session.data, ip)
        if view is None or node_problem(session.data, ip):
            continue
        if _version_tuple(view["talos_version"]) < client:
            err(f"WARNING: {ip}: server version {view['talos_version']} is older than client "
                f"version {session.client_version}\n")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text.split("-")[0])[:3])


# ---------------------------------------------------------------------------------------
# version


def version(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    if p["client"] and not p["json"]:
        out(client_block(client_version, p["short"]))
        return
    session = connect(p, data, client_version)
    blocks: list[str] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        tag = node["talos_version"]
        if p["json"]:
            blocks.append(json.dumps({
                "metadata": {"hostname": ip},
                "version": {"tag": tag, "sha": "d4e2f1b3", "goVersion": "go1.25.7",
                            "os": "linux", "arch": "amd64"},
                "platform": {"name": "metal", "mode": "metal"},
                "features": {"rbac": True},
            }) + "\n")
            return
        blocks.append(
            f"\tNODE:        {ip}\n\tTag:         {tag}\n\tSHA:         d4e2f1b3\n"
            "\tBuilt:       \n\tGo version:  go1.25.7\n\tOS/Arch:     linux/amd64\n"
            "\tEnabled:     RBAC\n"
        )

    if not p["json"]:
        out(client_block(client_version, p["short"]))
    try:
        per_node(session, "error getting version", one, insecure=p["insecure"])
    finally:
        if p["json"]:
            out("".join(blocks))
        elif blocks:
            out("Server:\n" + "".join(blocks))


# ---------------------------------------------------------------------------------------
# get


SHOWN_TYPE = {"members": "Member", "machinestatus": "MachineStatus", "nodename": "Nodename",
              "extensions": "ExtensionStatus"}

RESOURCES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # canonical: (namespace, type, aliases)
    "members": ("cluster", "Members.cluster.talos.dev", ("member", "members")),
    "machinestatus": ("runtime", "MachineStatuses.runtime.talos.dev",
                      ("machinestatus", "machinestatuses")),
    "nodename": ("k8s", "Nodenames.kubernetes.talos.dev", ("nodename", "nodenames")),
    "extensions": ("runtime", "ExtensionStatuses.runtime.talos.dev",
                   ("extension", "extensions", "extensionstatus", "extensionstatuses")),
}

COLUMNS: dict[str, list[tuple[str, Callable[[dict[str, Any]], str]]]] = {
    "members": [
        ("HOSTNAME", lambda s: s["hostname"]),
        ("MACHINE TYPE", lambda s: s["machineType"]),
        ("OS", lambda s: s["operatingSystem"]),
        ("ADDRESSES", lambda s: json.dumps(s["addresses"], separators=(",", ":"))),
    ],
    "machinestatus": [
        ("STAGE", lambda s: s["stage"]),
        ("READY", lambda s: "true" if s["status"]["ready"] else "false"),
    ],
    "nodename": [("NODENAME", lambda s: s["nodename"])],
    "extensions": [
        ("NAME", lambda s: s["metadata"]["name"]),
        ("VERSION", lambda s: s["metadata"]["version"]),
    ],
}


def _resource_kind(word: str) -> str:
    lowered = word.lower()
    for kind, (_, type_name, aliases) in RESOURCES.items():
        if lowered in aliases or lowered == type_name.lower():
            return kind
    raise CLIError(f'resource "{word}" is not registered')


def _metadata(namespace: str, type_name: str, rid: str, version: int, owner: str | None,
              ) -> dict[str, Any]:
    return {"namespace": namespace, "type": type_name, "id": rid, "version": version,
            "owner": owner, "phase": "running", "created": CREATED, "updated": CREATED}


def resources(kind: str, ip: str, node: dict[str, Any], data: dict[str, Any],
              ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    namespace, type_name, _ = RESOURCES[kind]
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    if kind == "members":
        for member_ip in sorted(data["nodes"], key=_ip_key):
            other = state.node_view(data, member_ip)
            assert other is not None
            if not other["member"] or other["maintenance"]:
                continue
            spec: dict[str, Any] = {
                "nodeId": base64.b64encode(hashlib.sha256(member_ip.encode()).digest())
                .decode().rstrip("=").replace("+", "x").replace("/", "y")[:43],
                "addresses": [member_ip, *other.get("extra_addresses", [])],
                "hostname": other["hostname"],
                "machineType": other["role"],
                "operatingSystem": f"Talos ({other['talos_version']})",
            }
            if other["role"] == "controlplane":
                spec["controlPlane"] = {"port": 6443}
            meta = _metadata(namespace, type_name, other["hostname"], other["boots"] + 1,
                             "cluster.MemberController")
            found.append((meta, spec))
    elif kind == "machinestatus":
        ready = node["ready"] and node["stage"] == "running"
        unmet = [] if ready else [{"name": "nodeReady", "reason": "node not ready"}]
        spec = {"stage": node["stage"], "status": {"ready": ready, "unmetConditions": unmet}}
        found.append((_metadata(namespace, type_name, "machine", 5,
                                "runtime.MachineStatusController"), spec))
    elif kind == "nodename":
        spec = {"nodename": node["hostname"], "hostnameVersion": "2",
                "skipNodeRegistration": False}
        found.append((_metadata(namespace, type_name, "nodename", 2,
                                "k8s.NodenameController"), spec))
    elif kind == "extensions":
        entries = list(node["extensions"])
        if node["schematic"]:
            entries.append({"name": "schematic", "version": node["schematic"],
                            "author": "Image Factory",
                            "description": "Image Factory schematic"})
        for index, entry in enumerate(entries):
            spec = {
                "image": f"{index:03d}-{entry['name']}.sqsh",
                "metadata": {
                    "name": entry["name"], "version": entry["version"],
                    "author": entry.get("author", "Sidero Labs"),
                    "description": entry.get("description", ""),
                    "compatibility": {"talos": {"version": f">= {node['talos_version']}"}},
                },
            }
            found.append((_metadata(namespace, type_name, str(index), 1, None), spec))
    return found


def _ip_key(ip: str) -> tuple[int, ...] | tuple[str]:
    parts = ip.split(".")
    if len(parts) == 4 and all(x.isdigit() for x in parts):
        return tuple(int(x) for x in parts)
    return (ip,)


def get(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    kind = _resource_kind(p.args[0])
    wanted_id = p.args[1] if len(p.args) > 1 else None
    fmt = p["output"]
    if fmt not in ("table", "yaml", "json") and not fmt.startswith("jsonpath="):
        raise CLIError(f'output format "{fmt}" is not supported')
    session = connect(p, data, client_version)
    version_warning(session)
    rows: list[list[str]] = []
    chunks: list[str] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        items = resources(kind, ip, node, data)
        if wanted_id is not None:
            items = [(m, s) for m, s in items if m["id"] == wanted_id]
            if not items:
                raise NodeError(f'rpc error: code = NotFound desc = resource '
                                f'{RESOURCES[kind][1]}({RESOURCES[kind][0]}/{wanted_id}@'
                                'undefined) doesn\'t exist')
        for meta, spec in items:
            if fmt == "table":
                rows.append([ip, meta["namespace"], SHOWN_TYPE[kind], meta["id"],
                             str(meta["version"]),
                             *[cell(spec) for _, cell in COLUMNS[kind]]])
            elif fmt == "yaml":
                chunks.append(yamlio.dump({"node": ip, "metadata": meta, "spec": spec}))
            elif fmt == "json":
                chunks.append(json.dumps({"node": ip, "metadata": meta, "spec": spec},
                                         indent=4, sort_keys=True, ensure_ascii=False) + "\n")
            else:
                chunks.append(_jsonpath(fmt[len("jsonpath="):],
                                        {"node": ip, "metadata": meta, "spec": spec}))

    try:
        per_node(session, "error getting resources", one, insecure=p["insecure"])
    finally:
        if fmt == "table":
            header = ["NODE", "NAMESPACE", "TYPE", "ID", "VERSION",
                      *[name for name, _ in COLUMNS[kind]]]
            out(tabulate([header, *rows]))
        elif fmt == "yaml":
            out("---\n".join(chunks))
        else:
            out("".join(chunks))


def _jsonpath(expr: str, obj: dict[str, Any]) -> str:
    path = expr.strip().strip("{}").lstrip(".")
    value: Any = obj
    for part in [x for x in path.split(".") if x]:
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, (dict, list)):
        return json.dumps(value) + "\n"
    return ("" if value is None else str(value)) + "\n"


def tabulate(rows: list[list[str]], *, trailing_tab: bool = False) -> str:
    """Go's tabwriter with padding 3: tab-terminated cells are padded, the last is not
    unless the row ends with a tab too."""
    padded = len(rows[0]) if trailing_tab else len(rows[0]) - 1
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:padded]):
            widths[i] = max(widths.get(i, 0), len(cell))
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i] + 3) for i, cell in enumerate(row[:padded])]
        lines.append("".join(cells) + "".join(row[padded:]))
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------------------
# apply-config


REBOOT_SECTIONS = (("machine", "kernel"), ("machine", "systemDiskEncryption"),
                   ("machine", "disks"), ("machine", "type"), ("machine", "install", "disk"))


def _needs_reboot(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    before, after = mc.v1alpha1(old) or {}, mc.v1alpha1(new) or {}
    if not before:
        return False  # a running node whose config the state does not record
    return any(_dig(before, path) != _dig(after, path) for path in REBOOT_SECTIONS)


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _plain(text: str | None) -> str:
    if not text:
        return ""
    try:
        return yamlio.dump_all(mc.parse(text))
    except Exception:
        return text


def unified_diff(old: str, new: str) -> str:
    import difflib

    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "a", "b",
                                      n=3, lineterm=""))
    return "\n".join(lines) + "\n" if lines else ""


def apply_config(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    mode = p["mode"]
    if mode not in ("auto", "no-reboot", "reboot", "staged", "try", "interactive"):
        raise CLIError(f'invalid argument "{mode}" for "-m, --mode" flag: must be one of '
                       '"auto", "no-reboot", "reboot", "staged", "try"')
    if not p["file"]:
        raise CLIError("no filename supplied for configuration")
    try:
        text = Path(p["file"]).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CLIError(f"open {p['file']}: no such file or directory") from None
    if not text.strip():
        raise CLIError("no configuration data read")
    documents = mc.parse(text)
    if p["config-patch"]:
        patches = [mc.load_patch(s) for s in p["config-patch"]]
        documents = mc.apply_patches(documents, patches)
        text = yamlio.dump_all(documents)
    insecure = p["insecure"]
    if insecure and mode in ("no-reboot", "staged"):
        raise CLIError(f"apply configuration --mode='{mode}' is not supported in "
                       "maintenance mode")
    session = connect(p, data, client_version)
    if mc.v1alpha1(documents) is None:
        raise CLIError("error applying new configuration: rpc error: code = InvalidArgument "
                       "desc = the applied machine configuration doesn't contain v1alpha1 "
                       "config, did you mean to patch the machine config instead?")
    errors, warnings = mc.problems(documents, "metal")
    for warning in warnings:
        err(f"WARNING: {warning}\n")
    if errors:
        raise CLIError("error applying new configuration: rpc error: code = InvalidArgument "
                       "desc = configuration validation failed: " + mc.multierror(errors))
    messages: list[str] = []
    reboot_seconds: dict[str, float] = {}

    def one(ip: str, node: dict[str, Any]) -> None:
        if insecure:
            if p["dry-run"]:
                messages.append("Dry run summary:\nNode is running in maintenance mode and "
                                "does not have a config yet.\n")
                return
            _install(ip, documents, text)
            return
        old_docs = mc.parse(node["config"]) if node["config"] else []
        reboot = mode == "reboot" or (mode == "auto" and _needs_reboot(old_docs, documents))
        if mode in ("no-reboot", "try") and _needs_reboot(old_docs, documents):
            raise NodeError(f"rpc error: code = InvalidArgument desc = the config change can't "
                            f"be applied in '{mode}' mode: a reboot is required")
        if mode == "staged":
            sentence = "Staged configuration to be applied after the next reboot"
        elif reboot and mode == "auto":
            sentence = ("Applied configuration with a reboot: this config change can't be "
                        "applied in immediate mode")
        elif reboot:
            sentence = "Applied configuration with a reboot"
        else:
            sentence = "Applied configuration without a reboot"
        if p["dry-run"]:
            diff = unified_diff(_plain(node["config"]), _plain(text))
            messages.append(f"Dry run summary:\n{sentence} (skipped in dry-run).\n"
                            f"Config diff:\n\n{diff or 'No changes.'}"
                            + ("" if diff else "\n"))
            return
        if mode == "try":
            sentence += ("\nThe config is applied in 'try' mode and will be automatically "
                         f"reverted back in {format_duration(p['timeout'])}")
        messages.append(sentence + "\n")
        _store(ip, text, documents, staged=mode == "staged", reboot=reboot, mode=mode)
        if reboot:
            reboot_seconds[ip] = float(node["reboot_seconds"])

    try:
        per_node(session, "error applying new configuration", one, insecure=insecure)
    finally:
        err("".join(messages))


def _store(ip: str, text: str, documents: list[dict[str, Any]], *, staged: bool,
           reboot: bool, mode: str) -> None:
    with state.update() as data:
        node = data["nodes"][ip]
        node.setdefault("applied", []).append(mode)
        if staged:
            node["staged_config"] = text
            return
        node["config"] = text
        name = mc.hostname_of(documents)
        if name:
            node["hostname"] = name
        if reboot:
            _schedule_reboot(node, {})


def _schedule_reboot(node: dict[str, Any], changes: dict[str, Any],
                     seconds: float | None = None) -> float:
    delay = float(node.get("reboot_seconds", 0.0) if seconds is None else seconds)
    final = {"boots": int(node.get("boots", 1)) + 1, "stage": "running", **changes}
    if node.get("staged_config"):
        final["config"] = node["staged_config"]
        final["staged_config"] = None
    if delay > 0:
        node["pending"] = {"at": time.time() + delay, "changes": final}
        node["stage"] = changes.get("_stage", "rebooting")
    else:
        node.update(final)
    node.pop("_stage", None)
    if node.get("pending"):
        node["pending"]["changes"].pop("_stage", None)
    return delay


def _install(ip: str, documents: list[dict[str, Any]], text: str) -> None:
    image = str(_dig(mc.v1alpha1(documents), ("machine", "install", "image")) or "")
    parsed = parse_image(image)
    with state.update() as data:
        node = data["nodes"][ip]
        node["config"] = text
        node["maintenance"] = False
        node.setdefault("applied", []).append("install")
        name = mc.hostname_of(documents)
        if name:
            node["hostname"] = name
        if parsed:
            node["talos_version"], node["schematic"] = parsed[0], parsed[1]
        _schedule_reboot(node, {})


def parse_image(image: str) -> tuple[str, str | None] | None:
    """(version, schematic) of an installer reference; None when it has no tag."""
    match = re.fullmatch(r"(?P<repo>[^@\s]+?):(?P<tag>[\w][\w.-]*)(?:@sha256:[0-9a-f]{64})?",
                         image)
    if not match:
        return None
    repo = match["repo"]
    factory = re.search(r"/(?:[a-z0-9-]*installer[a-z0-9-]*)/(?P<id>[0-9a-f]{64})$", repo)
    if factory:
        return match["tag"], factory["id"]
    if repo.endswith("siderolabs/installer"):
        return match["tag"], VANILLA_SCHEMATIC
    return match["tag"], None


# ---------------------------------------------------------------------------------------
# Progress tracking (reboot, reset, upgrade with --wait)


def track_start(ip: str, action: str) -> None:
    import uuid

    err(f'"{ip}": waiting for actor ID\n')
    err(f'"{ip}": actor ID: {uuid.uuid4()}\n')
    err(f'"{ip}": task: {action} action: START\n')
    err(f'"{ip}": sequence: {action} action: START\n')


def track_end(ip: str, action: str, failure: str | None) -> None:
    if failure:
        err(f'"{ip}": sequence: {action} action: STOP\n')
        err(f'"{ip}": {failure}\n')
        return
    err(f'"{ip}": unavailable, retrying...\n')
    err(f'"{ip}": stage: BOOTING ready: false unmetCond: [name:"nodeReady" '
        f'reason:"node not ready"]\n')
    err(f'"{ip}": events check condition met\n')
    err(f'"{ip}": post check passed\n')


def _wait_out(ips: list[str], action: str, seconds: dict[str, float], timeout: float,
              failures: dict[str, str]) -> None:
    """Follow every node's progress (non-TTY form, one line per update); a failure or a
    timeout is printed by the tracker and the command exits 1 without repeating it."""
    for ip in ips:
        track_start(ip, action)
    longest = max([seconds.get(ip, 0.0) for ip in ips] or [0.0])
    if longest > 0:
        time.sleep(min(longest, timeout))
    failed = dict(failures)
    for ip in ips:
        if seconds.get(ip, 0.0) > timeout:
            failed[ip] = "context deadline exceeded"
        track_end(ip, action, failed.get(ip))
    with state.update():
        pass  # the nodes seen back are settled in the state file
    if failed:
        raise CLIError("", suppressed=True)


# ---------------------------------------------------------------------------------------
# upgrade


def upgrade(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    if p["insecure"] and p["wait"]:
        raise CLIError("cannot use --wait and --insecure together")
    if p["reboot-mode"] not in ("default", "powercycle"):
        raise CLIError(f'invalid reboot mode: "{p["reboot-mode"]}"')
    image = p["image"] or f"ghcr.io/siderolabs/installer:{client_version}"
    session = connect(p, data, client_version)
    version_warning(session)
    parsed = parse_image(image)
    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    started: list[tuple[str, str]] = []
    wait = p["wait"] and not p["insecure"]

    def one(ip: str, node: dict[str, Any]) -> None:
        if parsed is None:
            raise NodeError(f'rpc error: code = InvalidArgument desc = error validating '
                            f'installer image "{image}": invalid reference format')
        with state.update() as current:
            raw = current["nodes"][ip]
            if node["role"] == "controlplane" and not (p["force"] or p["preserve"]):
                for other_ip, _other in current["nodes"].items():
                    view = state.node_view(current, other_ip)
                    if other_ip == ip or view is None or view["role"] != "controlplane":
                        continue
                    if node_problem(current, other_ip) or view["stage"] != "running":
                        raise NodeError(
                            "rpc error: code = FailedPrecondition desc = error validating etcd "
                            f"for upgrade: etcd member {view['hostname']} is not healthy; all "
                            "members must be healthy to perform an upgrade: context deadline "
                            "exceeded")
            delay = float(node["upgrade_seconds"])
            raw.setdefault("upgrades", []).append(image)
            if node["fail_upgrade"]:
                failures[ip] = str(node["fail_upgrade"])
                _schedule_reboot(raw, {"_stage": "upgrading"}, delay)
            else:
                version_tag, schematic = parsed
                changes: dict[str, Any] = {"talos_version": version_tag, "_stage": "upgrading"}
                if schematic is not None:
                    changes["schematic"] = schematic
                _schedule_reboot(raw, changes, delay)
            seconds[ip] = delay
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
        nanos = int((now % 1) * 1e9)
        monotonic = time.monotonic() - START
        started.append((ip, f"{stamp}.{nanos:09d} +0000 UTC m=+{monotonic:.9f}"))

    per_node(session, "error performing upgrade", one)
    if not wait:
        out(tabulate([["NODE", "ACK", "STARTED"],
                      *[[ip, "Upgrade request received", at] for ip, at in started]],
                     trailing_tab=True))
        return
    _wait_out([ip for ip, _ in started], "upgrade", seconds, p["timeout"], failures)


# ---------------------------------------------------------------------------------------
# upgrade-k8s


def upgrade_k8s(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    session = connect(p, data, client_version, single="upgrade-k8s")
    version_warning(session)
    to = p["to"].removeprefix("v")
    views = [state.node_view(data, ip) for ip in sorted(data["nodes"], key=_ip_key)]
    members = [v for v in views if v is not None and v["member"] and not v["maintenance"]]
    ip_of = {id(v): ip for ip, v in zip(sorted(data["nodes"], key=_ip_key), views,
                                         strict=True) if v is not None}

    def one(ip: str, node: dict[str, Any]) -> None:
        if not any(v["bootstrapped"] for v in members):
            raise NodeError("error building kubernetes client: rpc error: code = "
                            "Unavailable desc = kubernetes API is not available: etcd is "
                            "not bootstrapped")
        current = p["from"].removeprefix("v") or min(
            (v["kubernetes_version"] for v in members), key=_version_tuple)
        if not p["from"]:
            out(f"automatically detected the lowest Kubernetes version {current}\n")
        cps = [ip_of[id(v)] for v in members if v["role"] == "controlplane"]
        workers = [ip_of[id(v)] for v in members if v["role"] != "controlplane"]
        out(f"discovered controlplane nodes {_go_list(cps)}\n")
        out(f"discovered worker nodes {_go_list(workers)}\n")
        for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            out(f'updating "{component}" to version "{to}"\n')
            for cp in cps:
                out(f' > "{cp}": starting update\n')
                if p["dry-run"]:
                    out(" > skipped in dry-run\n")
                    continue
                out(f' > "{cp}": machine configuration patched\n')
                out(f' > "{cp}": waiting for {component} pod update\n')
                out(f' < "{cp}": successfully updated\n')
        out(f'updating kube-proxy to version "{to}"\n')
        out(f'updating kubelet to version "{to}"\n')
        for target in cps + workers:
            out(f' > "{target}": starting update\n')
            if p["dry-run"]:
                out(" > skipped in dry-run\n")
                continue
            out(f' < "{target}": successfully updated\n')
        if p["dry-run"]:
            return
        with state.update() as current_state:
            for target in cps + workers:
                current_state["nodes"][target]["kubernetes_version"] = to

    per_node(session, "error upgrading kubernetes", one)


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(f'"{x}"' for x in items) + "]"


# ---------------------------------------------------------------------------------------
# bootstrap, kubeconfig


def bootstrap(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    session = connect(p, data, client_version, single="bootstrap")
    if p["recover-from"] and not Path(p["recover-from"]).exists():
        raise CLIError(f"open {p['recover-from']}: no such file or directory")

    def one(ip: str, node: dict[str, Any]) -> None:
        if node["role"] != "controlplane":
            raise NodeError("rpc error: code = FailedPrecondition desc = bootstrap can only "
                            "be performed on a control plane node")
        with state.update() as current:
            if current["nodes"][ip].get("bootstrapped"):
                raise NodeError("rpc error: code = AlreadyExists desc = etcd data directory "
                                "is not empty")
            current["nodes"][ip]["bootstrapped"] = True

    per_node(session, "error executing bootstrap", one)


def kubeconfig(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    session = connect(p, data, client_version, single="kubeconfig")
    result: list[str] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        if node["role"] != "controlplane":
            raise NodeError("rpc error: code = Unimplemented desc = kubeconfig is only "
                            "available on control plane nodes")
        cluster = data.get("cluster") or {}
        v1 = mc.v1alpha1(mc.parse(node["config"])) if node["config"] else None
        name = (_dig(v1, ("cluster", "clusterName")) or cluster.get("name") or "talos-default")
        server = (_dig(v1, ("cluster", "controlPlane", "endpoint"))
                  or cluster.get("endpoint") or f"https://{ip}:6443")
        result.append(yamlio.dump(_kubeconfig(str(name), str(server))))

    per_node(session, "error copying", one)
    text = result[0]
    target = p.args[0] if p.args else ""
    merge = p["merge"]
    if target == "-":
        out(text)
        return
    if not target:
        env = [x for x in os.environ.get("KUBECONFIG", "").split(os.pathsep) if x]
        if len(env) > 1:
            raise CLIError("multiple kubeconfig files defined")
        if env:
            target = env[0]
        elif merge:
            target = str(Path.home() / ".kube" / "config")
        else:
            target = str(Path.cwd() / "kubeconfig")
    path = Path(target)
    if path.is_dir():
        path = path / "kubeconfig"
    if path.exists():
        if not merge:
            if not p["force"]:
                raise CLIError(f'kubeconfig file already exists, use --force to overwrite: '
                               f'"{path}"')
        else:
            text = yamlio.dump(_merge_kubeconfig(path, yamlio.load(text), p["force"],
                                                 p["force-context-name"]))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    mc.write_file(path, text, 0o600)


def _kubeconfig(name: str, server: str) -> dict[str, Any]:
    user = f"admin@{name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {
            "server": server,
            "certificate-authority-data": mc._pem("CERTIFICATE", 200)}}],
        "users": [{"name": user, "user": {
            "client-certificate-data": mc._pem("CERTIFICATE", 200),
            "client-key-data": mc._pem("EC PRIVATE KEY", 90)}}],
        "contexts": [{"context": {"cluster": name, "namespace": "default", "user": user},
                      "name": user}],
        "current-context": user,
    }


def _merge_kubeconfig(path: Path, new: dict[str, Any], force: bool,
                      context_name: str) -> dict[str, Any]:
    existing = yamlio.load(path.read_text(encoding="utf-8")) or {}
    for key in ("clusters", "users", "contexts"):
        existing[key] = list(existing.get(key) or [])
    renames: dict[str, dict[str, str]] = {"clusters": {}, "users": {}, "contexts": {}}
    labels = {"clusters": "cluster", "users": "auth info", "contexts": "context"}
    for key in ("clusters", "users", "contexts"):
        for item in new[key]:
            name = item["name"]
            if key == "contexts" and context_name:
                name = context_name
            taken = {x["name"] for x in existing[key]}
            if name in taken and force:
                existing[key] = [x for x in existing[key] if x["name"] != name]
            elif name in taken:
                n = 1
                while f"{name}-{n}" in taken:
                    n += 1
                out(f'renamed {labels[key]} "{name}" -> "{name}-{n}"\n')
                name = f"{name}-{n}"
            renames[key][item["name"]] = name
            existing[key].append({**item, "name": name})
    for context in existing["contexts"]:
        if context["name"] in renames["contexts"].values():
            inner = context["context"]
            inner["cluster"] = renames["clusters"].get(inner["cluster"], inner["cluster"])
            inner["user"] = renames["users"].get(inner["user"], inner["user"])
    existing["current-context"] = next(iter(renames["contexts"].values()))
    existing.setdefault("apiVersion", "v1")
    existing.setdefault("kind", "Config")
    return existing


# ---------------------------------------------------------------------------------------
# reboot, reset


def reboot(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    mode = p["mode"]
    if mode not in ("default", "powercycle", "force"):
        raise CLIError(f'invalid reboot mode: "{mode}"')
    session = connect(p, data, client_version)
    version_warning(session)
    seconds: dict[str, float] = {}

    def one(ip: str, node: dict[str, Any]) -> None:
        with state.update() as current:
            seconds[ip] = _schedule_reboot(current["nodes"][ip], {})

    per_node(session, "error executing reboot", one)
    if p["wait"]:
        _wait_out(list(seconds), "reboot", seconds, p["timeout"], {})


WIPE_MODES = ("all", "system-disk", "user-disks")


def reset(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    if p["wipe-mode"] not in WIPE_MODES:
        raise CLIError(f'invalid argument "{p["wipe-mode"]}" for "--wipe-mode" flag: '
                       'valid values are ["all" "system-disk" "user-disks"]')
    if p["insecure"] and p["wait"]:
        raise CLIError("cannot use --wait and --insecure together")
    session = connect(p, data, client_version)
    version_warning(session)
    labels = [x.upper() for x in p["system-labels-to-wipe"]]
    seconds: dict[str, float] = {}

    def one(ip: str, node: dict[str, Any]) -> None:
        if p["wipe-mode"] == "system-disk" and p["user-disks-to-wipe"]:
            raise NodeError("rpc error: code = InvalidArgument desc = wipe mode SYSTEM_DISK "
                            "doesn't support UserDisksToWipe parameter")
        wiped = labels or (["STATE", "EPHEMERAL", "META"]
                           if p["wipe-mode"] != "user-disks" else [])
        with state.update() as current:
            raw = current["nodes"][ip]
            raw.setdefault("resets", []).append({
                "labels": wiped, "graceful": p["graceful"], "reboot": p["reboot"],
                "user_disks": list(p["user-disks-to-wipe"]),
            })
            changes: dict[str, Any] = {}
            if "EPHEMERAL" in wiped:
                changes["bootstrapped"] = False
            if "STATE" in wiped:
                changes.update({"config": None, "staged_config": None, "maintenance": True,
                                "bootstrapped": False})
            if p["reboot"]:
                changes["_stage"] = "resetting"
                seconds[ip] = _schedule_reboot(raw, changes)
            else:
                changes.pop("_stage", None)
                raw.update(changes)
                raw["reachable"] = False
                seconds[ip] = 0.0

    per_node(session, "error executing reset", one)
    if p["wait"]:
        _wait_out(list(seconds), "reset", seconds, p["timeout"], {})


# ---------------------------------------------------------------------------------------
# health


CHECKS = (
    "etcd to be healthy", "etcd members to be consistent across nodes",
    "etcd members to be control plane nodes", "apid to be ready",
    "all nodes memory sizes", "all nodes disk sizes", "no diagnostics",
    "kubelet to be healthy", "all nodes to finish boot sequence", "all k8s nodes to report",
    "all control plane static pods to be running", "all control plane components to be ready",
    "all k8s nodes to report ready", "kube-proxy to report ready", "coredns to report ready",
    "all k8s nodes to report schedulable",
)


def health(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    session = connect(p, data, client_version,
                      single="health" if p["server"] else "")
    target = session.nodes[0]
    problem = node_problem(data, target)
    if problem:
        raise CLIError(problem)
    views = {ip: state.node_view(data, ip) for ip in data["nodes"]}
    members = sorted((ip for ip, v in views.items()
                      if v and v["member"] and not v["maintenance"]), key=_ip_key)
    cps = list(p["control-plane-nodes"])
    workers = list(p["worker-nodes"])
    if p["init-node"]:
        cps = [p["init-node"], *cps]
    if not cps and not workers:
        cps = [ip for ip in members if views[ip]["role"] == "controlplane"]  # type: ignore[index]
        workers = [ip for ip in members if ip not in cps]
        err(f"discovered nodes: {_go_list(cps + workers)}\n")
    listed = cps + workers

    def failure(check: str) -> str | None:
        if check == "etcd to be healthy":
            for ip in cps:
                if node_problem(data, ip):
                    return f"etcd isn't healthy on {ip}: {node_problem(data, ip)}"
            if not any(views.get(ip) and views[ip]["bootstrapped"]  # type: ignore[index]
                       for ip in cps):
                return (f"etcd isn't healthy on {cps[0] if cps else target}: rpc error: "
                        "code = Unavailable desc = etcd is not running")
        if check == "etcd members to be control plane nodes":
            wrong = [ip for ip in cps if views.get(ip) and
                     views[ip]["role"] != "controlplane"]  # type: ignore[index]
            if wrong:
                return (f"etcd member ips {_go_list(sorted(cps, key=_ip_key))} are not "
                        f"subset of control plane node ips {_go_list(wrong)}")
        if check == "apid to be ready":
            bad = [f"{ip}: {node_problem(data, ip)}" for ip in listed if node_problem(data, ip)]
            if bad:
                return mc.multierror(bad).rstrip("\n")
        if check == "all nodes to finish boot sequence":
            for ip in listed:
                view = views.get(ip)
                if view and view["stage"] != "running":
                    return f"node {ip} is not in running stage: {view['stage']}"
        if check == "all k8s nodes to report":
            expected = set(listed)
            actual = {ip for ip in members if not node_problem(data, ip)}
            missing = sorted(expected - actual, key=_ip_key)
            extra = sorted(actual - expected, key=_ip_key)
            if missing:
                return f"can't find expected node with IPs {_go_list(missing)}"
            if extra:
                return f"unexpected nodes with IPs {_go_list(extra)}"
        return None

    for check in CHECKS:
        err(f"waiting for {check}: ...\n")
        problem_text = failure(check)
        if problem_text:
            err(f"waiting for {check}: {problem_text}\n")
            raise CLIError("rpc error: code = DeadlineExceeded desc = context deadline "
                           f"exceeded (waited {format_duration(p['wait-timeout'])})")
        err(f"waiting for {check}: OK\n")


# ---------------------------------------------------------------------------------------
# image list, usage


def humanize_bytes(size: int) -> str:
    """go-humanize ``Bytes``: SI units, one decimal under 10."""
    if size < 10:
        return f"{size} B"
    exponent = math.floor(math.log(size) / math.log(1000))
    suffix = ["B", "kB", "MB", "GB", "TB", "PB", "EB"][exponent]
    value = math.floor(size / 1000 ** exponent * 10 + 0.5) / 10
    return f"{value:.1f} {suffix}" if value < 10 else f"{value:.0f} {suffix}"


def node_images(node: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    if node["images"] is not None:
        return [i for i in node["images"] if i.get("namespace", "cri") == namespace]
    k8s = node["kubernetes_version"]
    if namespace == "system":
        names = [(f"ghcr.io/siderolabs/kubelet:v{k8s}", 98_412_345),
                 ("registry.k8s.io/etcd:v3.6.5", 23_456_789)]
    else:
        names = [("registry.k8s.io/pause:3.10", 320_368),
                 (f"registry.k8s.io/kube-proxy:v{k8s}", 30_811_234),
                 ("registry.k8s.io/coredns/coredns:v1.12.4", 22_384_805)]
        if node["role"] == "controlplane":
            names += [(f"registry.k8s.io/kube-apiserver:v{k8s}", 27_372_145),
                      (f"registry.k8s.io/kube-controller-manager:v{k8s}", 25_012_993),
                      (f"registry.k8s.io/kube-scheduler:v{k8s}", 19_847_223)]
    return [{"name": name, "size": size, "created": CREATED,
             "digest": "sha256:" + hashlib.sha256(name.encode()).hexdigest()}
            for name, size in names]


def image_list(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    namespace = p["namespace"]
    if namespace not in ("cri", "system"):
        raise CLIError(f'unsupported namespace "{namespace}"')
    session = connect(p, data, client_version)
    rows: list[list[str]] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        for image in node_images(node, namespace):
            rows.append([ip, image["name"], image["digest"],
                         humanize_bytes(int(image["size"])), image["created"]])

    try:
        per_node(session, "error listing images", one)
    finally:
        out(tabulate([["NODE", "IMAGE", "DIGEST", "SIZE", "CREATED"], *rows]))


def usage(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    paths = p.args or ["/"]
    session = connect(p, data, client_version)
    rows: list[list[str]] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        table = dict(node["usage"])
        if "/var/lib/containerd" not in table:
            table["/var/lib/containerd"] = sum(
                int(i["size"]) for ns in ("cri", "system") for i in node_images(node, ns))
        for path in paths:
            clean = "/" + path.strip("/") if path != "/" else "/"
            under = {k: v for k, v in table.items()
                     if k == clean or k.startswith(clean.rstrip("/") + "/")}
            if not under:
                raise NodeError(f"lstat {clean}: no such file or directory")
            total = sum(int(v) for v in under.values())
            size = humanize_bytes(total) if p["humanize"] else str(total)
            rows.append([ip, size, path])
            if p["depth"] > 0:
                for key in sorted(under):
                    if key != clean:
                        child = int(under[key])
                        rows.append([ip, humanize_bytes(child) if p["humanize"] else str(child),
                                     key])

    try:
        per_node(session, "error fetching disk usage", one)
    finally:
        if rows:
            out(tabulate([["NODE", "SIZE", "NAME"], *rows]))


# ---------------------------------------------------------------------------------------
# config


def _config_file(p: Parsed) -> tuple[Path, dict[str, Any]]:
    path = resolve_talosconfig(p["talosconfig"])
    return path, read_talosconfig(path)


def _save_config(path: Path, config: dict[str, Any]) -> None:
    mc.write_file(path, yamlio.dump(config), 0o600)


def _current(config: dict[str, Any], p: Parsed) -> dict[str, Any]:
    name = p["context"] or config["context"]
    if not name:
        raise CLIError("no context is set")
    context = config["contexts"].get(name)
    if context is None:
        raise CLIError(f'context "{name}" is not defined')
    return dict(context)


def config_set(field: str) -> Callable[[Parsed, dict[str, Any], str], None]:
    def run(p: Parsed, data: dict[str, Any], client_version: str) -> None:
        path, config = _config_file(p)
        context = _current(config, p)
        context[field] = list(p.args)
        ordered = {k: context[k] for k in ("endpoints", "nodes", "ca", "crt", "key")
                   if k in context}
        ordered.update({k: v for k, v in context.items() if k not in ordered})
        config["contexts"][p["context"] or config["context"]] = ordered
        _save_config(path, config)
    return run


def config_context(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    path, config = _config_file(p)
    name = p.args[0]
    if name not in config["contexts"]:
        raise CLIError(f'context "{name}" is not defined')
    config["context"] = name
    _save_config(path, config)


def config_contexts(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    _, config = _config_file(p)
    rows = [["CURRENT", "NAME", "ENDPOINTS", "NODES"]]
    for name, context in config["contexts"].items():
        rows.append(["*" if name == config["context"] else "", name,
                     ",".join(context.get("endpoints") or []),
                     ",".join(context.get("nodes") or [])])
    out(tabulate(rows))


def config_merge(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    path, config = _config_file(p)
    source = Path(p.args[0])
    try:
        incoming = read_talosconfig(source) if source.exists() else None
    except CLIError:
        raise
    if incoming is None:
        raise CLIError(f"open {source}: no such file or directory")
    current = ""
    for name, context in incoming["contexts"].items():
        target = name
        n = 1
        while target in config["contexts"]:
            target = f"{name}-{n}"
            n += 1
        if target != name:
            out(f'renamed talosconfig context "{name}" -> "{target}"\n')
        config["contexts"][target] = context
        if name == incoming["context"]:
            current = target
    if current:
        config["context"] = current
    _save_config(path, config)
