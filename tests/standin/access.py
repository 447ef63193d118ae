"""Client access files: ``kubeconfig`` and the ``config`` commands editing talosconfig."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import machineconfig as mc
from . import yamlio
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
from .offline import out


def kubeconfig(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """The target path is settled (parents made, an existing file refused without
    --force/--merge) before the kubeconfig is downloaded, as talosctl does."""
    session = connect(p, data, client_version, single="kubeconfig")
    target = p.args[0] if p.args else ""
    merge = p["merge"]
    to_stdout = target == "-"
    path = Path(".")
    if not to_stdout:
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
        path = Path(os.path.normpath(target))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        elif path.is_dir():
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
