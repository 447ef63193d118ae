"""YAML read and written the way Talos's Go libraries do (guessed from go-yaml's
behaviour; the libraries are not in the reference).

Reading keeps ``off``/``on``/``yes``/``no`` as strings (YAML 1.2 booleans only), as Go
does for string fields. Writing uses 4-space indentation with sequences indented under
their key, never wraps long lines, keeps key order, and double-quotes strings that would
otherwise read back as something else (``auto: "off"``, ``""``).
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class Loader(yaml.SafeLoader):
    """Safe loader with YAML 1.2 core booleans."""


Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
# Timestamps stay strings, as they do in Go's untyped decoding into strings.
Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in Loader.yaml_implicit_resolvers.items()
}


class _ScalarDumper(yaml.SafeDumper):
    """Renders single scalars; quoting decided by the YAML 1.1 resolver, as Go does."""


# RFC 3339 timestamps are written plain, as Talos writes resource timestamps.
_ScalarDumper.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()
}


def _represent_str(dumper: _ScalarDumper, value: str) -> yaml.ScalarNode:
    style = None
    if value == "" or dumper.resolve(yaml.ScalarNode, value, (True, False)) != (
        "tag:yaml.org,2002:str"
    ):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_none(dumper: _ScalarDumper, value: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "null")


_ScalarDumper.add_representer(str, _represent_str)
_ScalarDumper.add_representer(type(None), _represent_none)


def scalar(value: Any) -> str:
    text = yaml.dump(value, Dumper=_ScalarDumper, width=1 << 30, allow_unicode=True)
    if text.endswith("\n...\n"):
        text = text[: -len("\n...\n")]
    return text.rstrip("\n")


def _emit(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{scalar(key)}:"
            lines += _emit_member(head, item, indent)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = _emit(item, indent + 2)
                inner[0] = pad + "- " + inner[0][indent + 2:]
                lines += inner
            else:
                lines += _emit_member(f"{pad}-", item, indent)
    else:
        lines.append(pad + scalar(value))
    return lines


def _emit_member(head: str, item: Any, indent: int) -> list[str]:
    if isinstance(item, (dict, list)) and item:
        return [head, *_emit(item, indent + 4)]
    if isinstance(item, dict):
        return [f"{head} {{}}"]
    if isinstance(item, list):
        return [f"{head} []"]
    if isinstance(item, str) and "\n" in item.rstrip("\n"):
        marker = "|" if item.endswith("\n") else "|-"
        body = item[:-1] if item.endswith("\n") else item
        pad = " " * (indent + 4)
        return [f"{head} {marker}", *[(pad + line).rstrip() for line in body.split("\n")]]
    return [f"{head} {scalar(item)}"]


def load_all(text: str) -> list[Any]:
    """Every document of ``text``, empty documents dropped."""
    return [doc for doc in yaml.load_all(text, Loader=Loader) if doc is not None]


def load(text: str) -> Any:
    return yaml.load(text, Loader=Loader)


def dump(data: Any) -> str:
    """One document, Go style."""
    if isinstance(data, (dict, list)) and not data:
        return ("{}" if isinstance(data, dict) else "[]") + "\n"
    return "\n".join(_emit(data, 0)) + "\n"


def dump_all(documents: list[Any]) -> str:
    return "---\n".join(dump(doc) for doc in documents)
