"""Reading commands: version, get, image list, usage."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from . import state, yamlio
from .client import (
    CREATED,
    NodeError,
    connect,
    ip_key,
    per_node,
    tabulate,
    version_warning,
)
from .flags import CLIError, Parsed
from .offline import client_block, err, out


def version(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/version.go:versionCmd, cmdVersion
    The client block, then ``Server:`` before any connection is tried; one block per
    node that answered. Nodes that failed while others answered are one warning; when
    none answered the command fails. ``--json`` drops the client block (and ``--client``)."""
    if not p["json"]:
        out(client_block(client_version, p["short"]))
        if p["client"]:
            return
        out("Server:\n")
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

    try:
        per_node(session, "error getting version", one, insecure=p["insecure"])
    except CLIError as exc:
        if not blocks:
            raise
        err("WARNING: " + exc.message.removeprefix("error getting version: ") + "\n")
    out("".join(blocks))


SHOWN_TYPE = {"members": "Member", "machinestatus": "MachineStatus", "nodename": "Nodename",
              "extensions": "ExtensionStatus", "disks": "Disk", "links": "LinkStatus"}

RESOURCES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # canonical: (namespace, type, aliases)
    "members": ("cluster", "Members.cluster.talos.dev", ("member", "members")),
    "machinestatus": ("runtime", "MachineStatuses.runtime.talos.dev",
                      ("machinestatus", "machinestatuses")),
    "nodename": ("k8s", "Nodenames.kubernetes.talos.dev", ("nodename", "nodenames")),
    "extensions": ("runtime", "ExtensionStatuses.runtime.talos.dev",
                   ("extension", "extensions", "extensionstatus", "extensionstatuses")),
    # Namespaces, types and aliases of disks and links: the Talos documentation's
    # `talosctl get disk sda -o yaml` (v1.8 "Disk Management") and `get linkstatus`
    # (v1.12 "Link aliases") outputs; source-v1.12.4 holds neither resource.
    "disks": ("runtime", "Disks.block.talos.dev", ("disk", "disks")),
    "links": ("network", "LinkStatuses.net.talos.dev",
              ("link", "links", "linkstatus", "linkstatuses")),
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
    # Columns as the Talos documentation shows `talosctl get disks` (v1.8 "Disk
    # Management") and `talosctl get links` (v1.12 "Networking Resources").
    "disks": [
        ("SIZE", lambda s: s["human_size"]),
        ("READ ONLY", lambda s: "true" if s["readonly"] else "false"),
        ("TRANSPORT", lambda s: s.get("transport", "")),
        ("ROTATIONAL", lambda s: "true" if s.get("rotational") else ""),
        ("WWID", lambda s: s.get("wwid", "")),
        ("MODEL", lambda s: s.get("model", "")),
        ("SERIAL", lambda s: s.get("serial", "")),
    ],
    "links": [
        ("TYPE", lambda s: s["type"]),
        ("KIND", lambda s: s["kind"]),
        ("HW ADDR", lambda s: s["hardwareAddr"]),
        ("OPER STATE", lambda s: s["operationalState"]),
        ("LINK STATE", lambda s: "true" if s["linkState"] else "false"),
    ],
}


def _mac(ip: str, index: int) -> str:
    """A stable locally administered MAC per node and link (guessed: any unique MAC)."""
    digest = hashlib.sha256(f"{ip}/{index}".encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def disk_specs(ip: str, node: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(id, spec) of the node's disks: ``node["disks"]`` (each ``{"id", "size", ...}``
    with any spec field), else a guessed machine: its squashfs loop device and one NVMe
    disk. Spec fields as the Talos documentation's ``get disk -o yaml`` shows them."""
    given = node.get("disks")
    if given is None:
        given = [
            {"id": "loop0", "size": 75_497_472, "readonly": True},
            {"id": "nvme0n1", "size": 512_110_190_592, "transport": "nvme",
             "model": "Samsung SSD 980 PRO 512GB", "serial": "S5GXNF0R" + ip.split(".")[-1],
             "wwid": "eui.002538b" + hashlib.sha256(ip.encode()).hexdigest()[:13],
             "bus_path": "/pci0000:00/0000:00:01.1/0000:01:00.0/nvme"},
        ]
    specs = []
    for entry in given:
        disk = dict(entry)
        disk_id = str(disk.pop("id"))
        size = int(disk.get("size", 0))
        spec: dict[str, Any] = {
            "dev_path": f"/dev/{disk_id}", "size": size, "human_size": humanize_bytes(size),
            "io_size": 512, "sector_size": 512, "readonly": False, "cdrom": False,
            "sub_system": "/sys/class/block",
        }
        spec.update(disk)
        if spec.get("transport") in ("nvme", "mmc") or spec["readonly"]:
            spec.pop("rotational", None)  # solid state: Talos omits a false rotational
        specs.append((disk_id, spec))
    return specs


def link_specs(ip: str, node: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(id, spec) of the node's links: ``node["links"]`` (each ``{"id", ...}`` with any
    spec field), else a guessed machine: ``lo`` and one wired ethernet port that is up.
    Spec fields as the Talos v1.12 documentation's ``get linkstatus -o yaml`` shows them."""
    given = node.get("links")
    if given is None:
        given = [
            {"id": "lo", "type": "loopback", "hardwareAddr": "00:00:00:00:00:00",
             "flags": "UP,LOOPBACK,RUNNING,LOWER_UP", "mtu": 65536, "queueDisc": "noqueue",
             "broadcastAddr": "00:00:00:00:00:00", "operationalState": "unknown",
             "port": "Other", "duplex": "Unknown"},
            {"id": "enp1s0", "hardwareAddr": _mac(ip, 1), "driver": "igc",
             "busPath": "0000:01:00.0", "vendor": "Intel Corporation",
             "product": "Ethernet Controller I226-V", "speedMbit": 2500},
        ]
    specs = []
    for index, entry in enumerate(given, start=1):
        link = dict(entry)
        link_id = str(link.pop("id"))
        mac = str(link.get("hardwareAddr", _mac(ip, index)))
        spec: dict[str, Any] = {
            "index": index, "type": "ether", "linkIndex": 0,
            "flags": "UP,BROADCAST,RUNNING,MULTICAST,LOWER_UP", "hardwareAddr": mac,
            "permanentAddr": mac, "broadcastAddr": "ff:ff:ff:ff:ff:ff", "mtu": 1500,
            "queueDisc": "pfifo_fast", "operationalState": "up", "kind": "", "slaveKind": "",
            "busPath": "", "driver": "", "linkState": True, "port": "TwistedPair",
            "duplex": "Full",
        }
        spec.update(link)
        specs.append((link_id, spec))
    return specs


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
        for member_ip in sorted(data["nodes"], key=ip_key):
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
        stage = "maintenance" if node["maintenance"] else node["stage"]
        ready = node["ready"] and stage == "running"
        unmet = [] if ready else [{"name": "nodeReady", "reason": "node not ready"}]
        spec = {"stage": stage, "status": {"ready": ready, "unmetConditions": unmet}}
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
    elif kind == "disks":
        for disk_id, spec in disk_specs(ip, node):
            found.append((_metadata(namespace, type_name, disk_id, 1, "block.DisksController"),
                          spec))
    elif kind == "links":
        for link_id, spec in link_specs(ip, node):
            found.append((_metadata(namespace, type_name, link_id, 2,
                                    "network.LinkStatusController"), spec))
    return found


def get(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/get.go:getCmd, getResources (the resources and their fields
    are guessed: the resource definitions are not in the reference)"""
    kind = _resource_kind(p.args[0])
    wanted_id = p.args[1] if len(p.args) > 1 else None
    fmt = p["output"]
    if fmt not in ("table", "yaml", "json") and not fmt.startswith("jsonpath="):
        raise CLIError(f'output format "{fmt}" is not supported')
    path = _parse_jsonpath(fmt[len("jsonpath="):]) if fmt.startswith("jsonpath=") else []
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
        # The maintenance API does not say which node answered.
        shown = "" if p["insecure"] else ip
        for meta, spec in items:
            if fmt == "table":
                rows.append([shown, meta["namespace"], SHOWN_TYPE[kind], meta["id"],
                             str(meta["version"]),
                             *[cell(spec) for _, cell in COLUMNS[kind]]])
            elif fmt == "yaml":
                chunks.append(f"node: {shown}\n" + yamlio.dump({"metadata": meta,
                                                               "spec": spec}))
            elif fmt == "json":
                chunks.append(json.dumps({"node": shown, "metadata": meta, "spec": spec},
                                         indent=4, sort_keys=True, ensure_ascii=False) + "\n")
            else:
                chunks.append(_jsonpath(path, {"node": shown, "metadata": meta,
                                               "spec": spec}))

    try:
        per_node(session, "error getting resources", one, insecure=p["insecure"])
    finally:
        if session.unreachable:
            pass  # nothing answered: not even the resource definition, so no header
        elif fmt == "table":
            header = ["NODE", "NAMESPACE", "TYPE", "ID", "VERSION",
                      *[name for name, _ in COLUMNS[kind]]]
            out(tabulate([header, *rows]))
        elif fmt == "yaml":
            out("---\n".join(chunks))
        else:
            out("".join(chunks))


_JSONPATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\*|-?\d+)\]|\.\*")


def _parse_jsonpath(template: str) -> list[tuple[str, Any]]:
    """A Kubernetes JSONPath template: literal text and ``{.field.list[0].x}`` actions
    (fields, indexes, ``[*]``). Returns ``("text", str)`` and ``("path", steps)`` parts."""
    parts: list[tuple[str, Any]] = []
    rest = template
    while rest:
        start = rest.find("{")
        if start < 0:
            parts.append(("text", rest))
            break
        if start:
            parts.append(("text", rest[:start]))
        end = rest.find("}", start)
        if end < 0:
            raise CLIError("error parsing jsonpath: unclosed action")
        action = rest[start + 1:end].strip()
        if action.startswith('"') and action.endswith('"') and len(action) >= 2:
            parts.append(("text", json.loads(action)))
        else:
            body = action[1:] if action.startswith("$") else action
            steps: list[Any] = []
            pos = 0
            while pos < len(body):
                match = _JSONPATH_STEP.match(body, pos)
                if match is None:
                    raise CLIError(f"error parsing jsonpath: unrecognized character in "
                                   f"action: {body[pos]!r}")
                if match[1] is not None:
                    steps.append(match[1])
                elif match[2] is not None:
                    steps.append("*" if match[2] == "*" else int(match[2]))
                else:
                    steps.append("*")
                pos = match.end()
            parts.append(("path", steps))
        rest = rest[end + 1:]
    return parts


def _jsonpath(parts: list[tuple[str, Any]], obj: dict[str, Any]) -> str:
    """Every result on its own line: maps and lists as indented JSON (sorted keys),
    scalars as Go prints them."""
    lines: list[str] = []
    for kind, value in parts:
        if kind == "text":
            lines.append(value)
            continue
        found: list[Any] = [obj]
        for step in value:
            following: list[Any] = []
            for item in found:
                if step == "*":
                    following.extend(item.values() if isinstance(item, dict) else
                                     item if isinstance(item, list) else [])
                elif isinstance(step, int):
                    if not isinstance(item, list) or not -len(item) <= step < len(item):
                        raise NodeError("error finding result for jsonpath: array index "
                                        "out of bounds")
                    following.append(item[step])
                elif isinstance(item, dict) and step in item:
                    following.append(item[step])
                else:
                    raise NodeError(f"error finding result for jsonpath: {step} is not "
                                    "found")
            found = following
        lines.extend(_go_value(item) for item in found)
    return "".join(line + "\n" for line in lines)


def _go_value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=4, sort_keys=True, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


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
    """# Talos: cmd/talosctl/cmd/talos/image.go:imageListCmd, imageCmdFlagsType.apiNamespace
    The namespace is checked once connected; the table goes through a tabwriter flushed
    only when every node answered, so a failure prints no table at all. Guessed: the
    images a node holds, and how a node's failure is worded (ReadGRPCStream is not in the
    reference)."""
    namespace = p["namespace"]
    session = connect(p, data, client_version)
    if namespace not in ("cri", "system"):
        raise CLIError(f'unsupported namespace "{namespace}"')
    rows: list[list[str]] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        for image in node_images(node, namespace):
            rows.append([ip, image["name"], image["digest"],
                         humanize_bytes(int(image["size"])), image["created"]])

    per_node(session, "error listing images", one)
    out(tabulate([["NODE", "IMAGE", "DIGEST", "SIZE", "CREATED"], *rows]))


def image_pull(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/image.go:imagePullCmd (the reference check is guessed)
    Pulls into the namespace's image store on every node; prints nothing."""
    namespace = p["namespace"]
    reference = p.args[0]
    session = connect(p, data, client_version)
    if namespace not in ("cri", "system"):  # image.go: checked once connected
        raise CLIError(f'unsupported namespace "{namespace}"')

    def one(ip: str, node: dict[str, Any]) -> None:
        if not re.fullmatch(r"[a-z0-9][\w./-]*(?::\w[\w.-]*)?(?:@sha256:[0-9a-f]{64})?",
                            reference):
            raise NodeError(f'rpc error: code = Unknown desc = failed to pull image '
                            f'"{reference}": invalid reference format')
        with state.update() as current:
            raw = current["nodes"][ip]
            images = raw.get("images")
            if images is None:
                view = state.node_view(current, ip)
                assert view is not None
                images = [{**image, "namespace": ns} for ns in ("cri", "system")
                          for image in node_images(view, ns)]
            name = reference if ":" in reference.rsplit("/", 1)[-1] or "@" in reference \
                else f"{reference}:latest"
            if not any(i["name"] == name and i.get("namespace", "cri") == namespace
                       for i in images):
                images.append({"name": name, "namespace": namespace, "size": 10_000_000,
                               "created": CREATED, "digest": "sha256:" + hashlib.sha256(
                                   name.encode()).hexdigest()})
            raw["images"] = images

    per_node(session, "error pulling image", one)


def usage(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """``talosctl usage [path...]``.

    # Talos: cmd/talosctl/cmd/talos/diskusage.go:duCmd (the node asked for RecursionDepth =
    # --depth + 1; one tabwriter table, NODE column when the answers name their node, as
    # every proxied answer does; a size in bytes, or humanized with -H)
    # Talos: internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go:DiskUsage and
    # pkg/archiver/walker.go:Walker (NAME is the path relative to the requested one: "." for
    # the requested path itself; a folder is sent once everything below it was, so the
    # requested path comes last; entries deeper than --depth, files without --all and
    # sizes outside --threshold are left out)
    Guessed: the tree is the state's ``usage`` map (folders; a folder's size is what the
    map gives at and below it, no inode sizes), plus ``/var/lib/containerd`` holding the
    images; a path the map does not know fails as ``lstat <path>: no such file or
    directory``.
    """
    paths = p.args or ["/"]
    session = connect(p, data, client_version)
    rows: list[list[str]] = []

    def shown_size(size: int) -> str:
        return humanize_bytes(size) if p["humanize"] else str(size)

    def one(ip: str, node: dict[str, Any]) -> None:
        table = dict(node["usage"])
        if "/var/lib/containerd" not in table:
            table["/var/lib/containerd"] = sum(
                int(i["size"]) for ns in ("cri", "system") for i in node_images(node, ns))
        for path in paths:
            clean = "/" + path.strip("/")
            prefix = clean.rstrip("/") + "/"
            under = {k: int(v) for k, v in table.items() if k == clean or k.startswith(prefix)}
            if not under:
                raise NodeError(f"lstat {clean}: no such file or directory")
            folders: dict[tuple[str, ...], int] = {}
            for key, size in under.items():
                parts = () if key == clean else tuple(key[len(prefix):].split("/"))
                for depth in range(len(parts) + 1):
                    folders[parts[:depth]] = folders.get(parts[:depth], 0) + size
            threshold = p["threshold"]
            for parts in sorted(folders, key=lambda parts: (*parts, "\uffff")):
                size = folders[parts]
                if len(parts) > p["depth"]:
                    continue
                if (threshold > 0 and size < threshold) or (threshold < 0 and size > -threshold):
                    continue
                rows.append([ip, shown_size(size), "/".join(parts) or "."])

    try:
        per_node(session, "error fetching disk usage", one)
    finally:
        if rows:
            out(tabulate([["NODE", "SIZE", "NAME"], *rows]))
