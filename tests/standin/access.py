"""Client access files: ``kubeconfig`` and the ``config`` commands editing talosconfig."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import machineconfig as mc
from . import process, yamlio
from .client import (
    NodeError,
    connect,
    dig,
    per_node,
    read_talosconfig,
    resolve_talosconfig,
    tabulate,
)
from .flags import CLIError, Parsed
from .offline import err, out


def kubeconfig(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/kubeconfig.go:kubeconfigCmd, extractAndMerge
    The target path is settled (parents made, an existing file refused without
    --force/--merge) before the kubeconfig is downloaded, as talosctl does."""
    session = connect(p, data, client_version, single="kubeconfig")
    target = p.args[0] if p.args else ""
    merge = p["merge"]
    to_stdout = target == "-"
    path = Path(".")
    if not to_stdout:
        if not target:
            env = [x for x in process.environ().get("KUBECONFIG", "").split(os.pathsep) if x]
            if len(env) > 1:
                raise CLIError("multiple kubeconfig files defined")
            if env:
                target = env[0]
            elif merge:
                target = str(process.home() / ".kube" / "config")
            else:
                target = str(Path.cwd() / "kubeconfig")
        path = Path(os.path.normpath(target))
        try:
            path.stat()
        except FileNotFoundError:
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            except OSError as exc:
                raise CLIError(f"mkdir {path.parent}: {str(exc.strerror).lower()}") from None
        except OSError as exc:
            raise CLIError(f'error checking path "{path}": stat {path}: '
                           f"{str(exc.strerror).lower()}") from None
        if path.is_dir():
            path = path / "kubeconfig"
        if path.exists():
            if not merge and not p["force"]:
                raise CLIError(f'kubeconfig file already exists, use --force to overwrite: '
                               f'"{path}"')
        else:
            merge = False  # nothing to merge into
    result: list[str] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        if node["role"] != "controlplane":
            raise NodeError("rpc error: code = Unimplemented desc = kubeconfig is only "
                            "available on control plane nodes")
        cluster = data.get("cluster") or {}
        v1 = mc.v1alpha1(mc.parse(node["config"])) if node["config"] else None
        name = (dig(v1, ("cluster", "clusterName")) or cluster.get("name") or "talos-default")
        server = (dig(v1, ("cluster", "controlPlane", "endpoint"))
                  or cluster.get("endpoint") or f"https://{ip}:6443")
        result.append(yamlio.dump(_kubeconfig(str(name), str(server))))

    per_node(session, "error copying", one)
    text = result[0]
    if to_stdout:
        out(text)
        return
    if merge:
        text = yamlio.dump(_merge_kubeconfig(path, yamlio.load(text), p["force"],
                                             p["force-context-name"]))
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
    """Guessed: the talosctl config commands (cmd/talosctl/cmd/talos/config.go) are not in the
    reference."""
    def run(p: Parsed, data: dict[str, Any], client_version: str) -> None:
        path, config = _config_file(p)
        context = _current(config, p)
        context[field] = [arg.strip() for arg in p.args]
        ordered = {k: context[k] for k in ("endpoints", "nodes", "ca", "crt", "key")
                   if k in context}
        ordered.update({k: v for k, v in context.items() if k not in ordered})
        config["contexts"][p["context"] or config["context"]] = ordered
        _save_config(path, config)
    return run


def config_context(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """Guessed: cmd/talosctl/cmd/talos/config.go is not in the reference."""
    path, config = _config_file(p)
    name = p.args[0]
    if name not in config["contexts"]:
        raise CLIError(f'context "{name}" is not defined')
    config["context"] = name
    _save_config(path, config)


def config_contexts(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """Guessed: cmd/talosctl/cmd/talos/config.go is not in the reference."""
    _, config = _config_file(p)
    rows = [["CURRENT", "NAME", "ENDPOINTS", "NODES"]]
    for name in sorted(config["contexts"]):
        context = config["contexts"][name] or {}
        nodes = list(context.get("nodes") or [])
        shown = ",".join(nodes[:3]) + "..." if len(nodes) > 3 else ",".join(nodes)
        rows.append(["*" if name == config["context"] else "", name,
                     ",".join(context.get("endpoints") or []), shown])
    out(tabulate(rows))


def config_merge(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """Guessed: cmd/talosctl/cmd/talos/config.go is not in the reference."""
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
            err(f'renamed talosconfig context "{name}" -> "{target}"\n')
        config["contexts"][target] = context
        if name == incoming["context"]:
            current = target
    if current:
        config["context"] = current
    _save_config(path, config)


def config_add(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """Guessed: cmd/talosctl/cmd/talos/config.go is not in the reference.
    A context from CA, certificate and key files (base64 of their bytes)."""
    import base64

    path, config = _config_file(p)

    def encoded(flag: str, what: str) -> str:
        try:
            return base64.b64encode(Path(p[flag]).read_bytes()).decode()
        except OSError:
            raise CLIError(f"error reading {what}: open {p[flag]}: no such file or "
                           "directory") from None

    context: dict[str, Any] = {}
    if p["ca"]:
        context["ca"] = encoded("ca", "CA")
    if p["crt"] or p["key"]:
        if not (p["crt"] and p["key"]):
            raise CLIError("if either the 'crt' or 'key' flag is specified, both are required")
        context["crt"] = encoded("crt", "certificate")
        context["key"] = encoded("key", "key")
    config["contexts"][p.args[0]] = context
    _save_config(path, config)


def config_remove(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """Guessed: cmd/talosctl/cmd/talos/config.go is not in the reference.
    Contexts matching a glob go, except the current one; without -y each is asked
    about (no terminal here: the answer is no)."""
    import fnmatch

    pattern = p.args[0]
    if not pattern:
        raise CLIError("no context specified")
    path, config = _config_file(p)
    if not config["contexts"]:
        raise CLIError("no contexts defined")
    matches = sorted(n for n in config["contexts"] if fnmatch.fnmatchcase(n, pattern))
    if not matches:
        raise CLIError(f'no contexts matched "{pattern}"')
    changed = False
    for name in matches:
        if name == config["context"]:
            err(f'skipping removal of current context "{name}", please change it to another '
                "before removing\n")
            continue
        if not p["noconfirm"]:
            err(f'remove context "{name}"? [y/N]: ')
            continue
        err(f'removing context "{name}"\n')
        del config["contexts"][name]
        changed = True
    if changed and not p["dry-run"]:
        _save_config(path, config)


def config_info(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """Guessed: cmd/talosctl/cmd/talos/config.go is not in the reference.
    The current context, its nodes and endpoints, and the client certificate's roles
    and expiry (issued for a year when the talosconfig was written)."""
    import datetime
    import json

    path, config = _config_file(p)
    _current(config, p)  # the same "no context is set" / "is not defined" checks
    context = config["contexts"][p["context"] or config["context"]] or {}
    info: dict[str, Any] = {
        "context": config["context"],
        "nodes": context.get("nodes") or None,
        "endpoints": context.get("endpoints") or None,
        "roles": None, "certTTL": "", "certNotAfter": "",
    }
    if context.get("crt"):
        written = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
        not_after = written + datetime.timedelta(days=365)
        now = datetime.datetime.now(datetime.UTC)
        info["roles"] = ["os:admin"]
        info["certTTL"] = _rel_time(not_after, now)
        info["certNotAfter"] = not_after.strftime("%Y-%m-%d")
    fmt = p["output"]
    if fmt == "json":
        out(json.dumps(info, indent=2) + "\n")
    elif fmt == "yaml":
        out(yamlio.dump({k: ([] if v is None else v) for k, v in info.items()}))
    elif fmt == "text":
        lines = [
            f"Current context:     {info['context']}",
            "Nodes:               " + (", ".join(info["nodes"]) if info["nodes"]
                                       else "not defined"),
            "Endpoints:           " + (", ".join(info["endpoints"]) if info["endpoints"]
                                       else "not defined"),
        ]
        if info["roles"]:
            lines.append("Roles:               " + ", ".join(info["roles"]))
        if info["certTTL"]:
            lines.append(f"Certificate expires: {info['certTTL']} ({info['certNotAfter']})")
        out("\n".join(lines) + "\n")
    else:
        raise CLIError(f'unknown output format: "{fmt}"')


_DAY = 86400.0
_MAGNITUDES = (  # go-humanize RelTime: (below, format, divisor)
    (1, "now", 0), (2, "1 second %s", 0), (60, "%d seconds %s", 1),
    (120, "1 minute %s", 0), (3600, "%d minutes %s", 60), (7200, "1 hour %s", 0),
    (_DAY, "%d hours %s", 3600), (2 * _DAY, "1 day %s", 0), (7 * _DAY, "%d days %s", _DAY),
    (14 * _DAY, "1 week %s", 0), (30 * _DAY, "%d weeks %s", 7 * _DAY),
    (60 * _DAY, "1 month %s", 0), (360 * _DAY, "%d months %s", 30 * _DAY),
    (540 * _DAY, "1 year %s", 0), (720 * _DAY, "2 years %s", 0),
    (float("inf"), "%d years %s", 360 * _DAY),
)


def _rel_time(then: Any, now: Any) -> str:
    seconds = (then - now).total_seconds()
    label = "from now" if seconds > 0 else "ago"
    seconds = abs(seconds)
    for below, text, divisor in _MAGNITUDES:
        if seconds < below:
            if "%d" in text:
                return text % (int(seconds // divisor), label)
            return text % label if "%s" in text else text
    return "a long while " + label


def config_new(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """Guessed: cmd/talosctl/cmd/talos/config.go is not in the reference.
    A talosconfig with a fresh client certificate from the node, pointing at the
    endpoints used to get it."""
    session = connect(p, data, client_version, single="talosconfig")
    known = {"os:admin", "os:operator", "os:reader", "os:etcd:backup"}
    unknown = [r for r in p["roles"] if r not in known and not r.startswith("os:impersonator")]
    if unknown:
        raise CLIError("unknown roles: " + ", ".join(unknown))
    target = p.args[0] if p.args else "talosconfig"
    if Path(target).exists():
        raise CLIError(f'talosconfig file already exists: "{target}"')
    current = read_talosconfig(session.talosconfig) if session.talosconfig else {}
    name = (p["context"] or current.get("context") or "talos-default")
    base = (current.get("contexts") or {}).get(name) or {}
    result: list[dict[str, Any]] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        result.append({"context": name, "contexts": {name: {
            "endpoints": list(session.endpoints),
            "ca": base.get("ca") or mc._pem("CERTIFICATE", 200),
            "crt": mc._pem("CERTIFICATE", 200),
            "key": mc._pem("ED25519 PRIVATE KEY", 48),
        }}})

    per_node(session, "", one)
    _save_config(Path(target), result[0])
