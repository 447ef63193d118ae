"""The secrets bundle's values, for keeping them out of what talos-tasks prints.

    bundle_values(text)        -> frozenset[str]   every secret string of a decrypted bundle
    secret_values(cluster)     -> frozenset[str]   the same, decrypting the cluster's bundle
    redact(text, secrets)      -> str              each of them replaced by ``<redacted>``

The values are the bundle's strings as they appear in generated configs (base64 PEM
blocks, tokens, the cluster ID and secret). Short strings are left alone: a value that
short is no secret and would mangle ordinary output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import yaml

from talos.errors import SecretsError

if TYPE_CHECKING:
    from talos.cluster import Cluster

MASK = "<redacted>"
MIN_LENGTH = 8


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def bundle_values(text: str, shown: str = "the secrets bundle") -> frozenset[str]:
    """Every secret string in a decrypted ``talosctl gen secrets`` bundle."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SecretsError(f"{shown} does not decrypt to YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SecretsError(f"{shown} is not a talosctl secrets bundle (not a mapping)")
    data = {key: value for key, value in data.items() if key != "sops"}
    return frozenset(s for s in _strings(data) if len(s) >= MIN_LENGTH)


def secret_values(cluster: Cluster) -> frozenset[str]:
    """Every secret string of the cluster's bundle (decrypted with sops, kept in memory)."""
    from talos.sops import decrypt_text

    shown = _shown(cluster)
    return bundle_values(decrypt_text(cluster.secrets_file, shown=shown), shown)


def redact(text: str, secrets: Iterable[str], mask: str = MASK) -> str:
    """``text`` with every secret value replaced by ``mask`` (longest first)."""
    for value in sorted(set(secrets), key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, mask)
    return text


def _shown(cluster: Cluster) -> str:
    try:
        return str(cluster.secrets_file.relative_to(cluster.root))
    except ValueError:
        return str(cluster.secrets_file)
