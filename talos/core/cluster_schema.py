"""The JSON Schema of the cluster file, built from the loader's own model.

``cluster.schema.json`` in the repository is the output of :func:`build_schema`
(``python -m talos.core.cluster_schema > cluster.schema.json``); a test keeps the two equal
and checks that the schema and :func:`talos.core.cluster.parse_cluster` agree on every
cluster file of the test corpus. Editors read it through the first line of
``cluster.yaml``: ``# yaml-language-server: $schema=cluster.schema.json``.

Keys, roles, installer forms, architectures and the version and name patterns come
from :mod:`talos.core.cluster`, so the schema cannot fall behind the loader. What a schema
cannot express stays the loader's alone: that the files named exist, that a node's
schematic is defined, that node names and IPs are unique, that a port is at most 65535.

Pure: builds a dict; ``__main__`` prints it.
"""

from __future__ import annotations

import json
from typing import Any

from talos.core.cluster.model import ARCHES, DEFAULT_FACTORY_URL, DEFAULT_REGISTRY, ROLES
from talos.core.cluster.reader import (
    NAME_PATTERN,
    NODE_KEYS,
    PATCH_KEYS,
    TOP_KEYS,
    VERSION_PATTERN,
)
from talos.core.installer import INSTALLER_FORMS

SCHEMA_FILE = "cluster.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REQUIRED = ("name", "endpoint", "talosVersion", "kubernetesVersion", "secrets", "schematics",
            "nodes")
NODE_REQUIRED = ("name", "role", "schematic")
# An https://host:port URL with nothing after the port but an optional "/".
_ENDPOINT = r"^https://(\[[0-9A-Fa-f:.]+\]|[^\s/?#:@\[\]]+):[0-9]{1,5}/?$"
_TEXT = r"\S"  # a string with something in it besides spaces

DESCRIPTIONS = {
    "name": "cluster name (lowercase letters, digits, dashes)",
    "endpoint": "Kubernetes API endpoint, https://host:port (e.g. the control planes' VIP)",
    "talosVersion": "Talos version of every node, vX.Y.Z",
    "kubernetesVersion": "Kubernetes version, vX.Y.Z",
    "secrets": "the sops-encrypted `talosctl gen secrets` bundle (path)",
    "installer": "where installer images come from",
    "installer.registry": f"image registry host (default {DEFAULT_REGISTRY})",
    "installer.form": "installer reference form (default installer)",
    "installer.factory": f"Image Factory URL (default {DEFAULT_FACTORY_URL})",
    "schematics": "name -> extension (schematic) file, or {file, arch}",
    "schematic.file": "the extension (schematic) file",
    "schematic.arch": "CPU architecture its nodes boot; default arm64 with a board overlay, "
                      "amd64 otherwise",
    "patches": "patch files by scope, lowest precedence first: all, role, node",
    "patches.all": "patch files for every node",
    "patches.controlplane": "patch files for control planes",
    "patches.worker": "patch files for workers",
    "nodes": "the machines, in order; at least one control plane",
    "node.name": "node name, also its hostname and the name of its generated config",
    "node.role": "controlplane or worker",
    "node.ip": "its address; without one it is found among the members by hostname",
    "node.schematic": "one of schematics",
    "node.installDisk": "install disk (/dev/...)",
    "node.talosVersion": "this node's Talos version, when it differs from the cluster's",
    "node.hostname": "hostname when it differs from the name",
    "node.patches": "the node's own patch files (default patches/nodes/<name>.patch)",
}


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "pattern": _TEXT, "description": description, **extra}


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    """The loader reads an optional key given as null (``ip:``) as absent."""
    return {"anyOf": [schema, {"type": "null"}], "description": schema.get("description", "")}


def _files(description: str) -> dict[str, Any]:
    return _optional({"type": "array", "items": _text("path"), "description": description})


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False,
                              "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def build_schema() -> dict[str, Any]:
    """The schema (a plain dict, JSON-ready)."""
    d = DESCRIPTIONS
    version = {"type": "string", "pattern": VERSION_PATTERN}
    installer = _closed({
        "registry": _text(d["installer.registry"]),
        "form": {"enum": list(INSTALLER_FORMS), "description": d["installer.form"]},
        "factory": {"type": "string", "pattern": r"^https?://",
                    "description": d["installer.factory"]},
    })
    schematic = {"anyOf": [
        _text(d["schematic.file"]),
        _closed({
            "file": _text(d["schematic.file"]),
            "arch": _optional({"enum": list(ARCHES), "description": d["schematic.arch"]}),
        }, ("file",)),
    ]}
    patches = _closed({key: _files(d[f"patches.{key}"]) for key in PATCH_KEYS})
    node_fields: dict[str, Any] = {
        "name": {"type": "string", "pattern": NAME_PATTERN, "description": d["node.name"]},
        "role": {"enum": list(ROLES), "description": d["node.role"]},
        "ip": _optional({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
                         "description": d["node.ip"]}),
        "schematic": _text(d["node.schematic"]),
        "installDisk": _optional({"type": "string", "pattern": "^/dev/",
                                  "description": d["node.installDisk"]}),
        "talosVersion": _optional({**version, "description": d["node.talosVersion"]}),
        "hostname": _optional(_text(d["node.hostname"])),
        "patches": _files(d["node.patches"]),
    }
    node = _closed({key: node_fields[key] for key in NODE_KEYS}, NODE_REQUIRED)
    top_fields: dict[str, Any] = {
        "name": {"type": "string", "pattern": NAME_PATTERN, "description": d["name"]},
        "endpoint": {"type": "string", "pattern": _ENDPOINT, "description": d["endpoint"]},
        "talosVersion": {**version, "description": d["talosVersion"]},
        "kubernetesVersion": {**version, "description": d["kubernetesVersion"]},
        "secrets": _text(d["secrets"]),
        "installer": _optional({**installer, "description": d["installer"]}),
        "schematics": {"type": "object", "minProperties": 1,
                       "additionalProperties": schematic, "description": d["schematics"]},
        "patches": _optional({**patches, "description": d["patches"]}),
        "nodes": {
            "type": "array", "minItems": 1, "items": node, "description": d["nodes"],
            "contains": {"type": "object", "required": ["role"],
                         "properties": {"role": {"const": "controlplane"}}},
        },
    }
    top = _closed({key: top_fields[key] for key in TOP_KEYS}, REQUIRED)
    return {"$schema": DIALECT, "title": "talos-tasks cluster file (cluster.yaml)", **top}


def schema_text() -> str:
    """The schema as ``cluster.schema.json`` holds it."""
    return json.dumps(build_schema(), indent=2) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
