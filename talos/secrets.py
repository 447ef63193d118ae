"""The secrets bundle's values, for keeping them out of what talos-tasks prints.

    bundle_values(text)        -> frozenset[str]   every secret string of a decrypted bundle
    secret_values(cluster)     -> frozenset[str]   the same, decrypting the cluster's bundle
    redact(text, secrets)      -> str              each of them replaced by ``<redacted>``
    create_bundle(cluster, talosctl=..., recipients=())  -> Path   a new encrypted bundle

``create_bundle`` never replaces an existing bundle: new secrets for a running cluster
lock its owner out (new CAs, new tokens), so that takes a deliberate ``rm`` first.

The values are the bundle's strings as they appear in generated configs (base64 PEM
blocks, tokens, the cluster ID and secret). Short strings are left alone: a value that
short is no secret and would mangle ordinary output.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

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


class SecretsTool(Protocol):
    """What creating a bundle needs of talosctl (:class:`talos.talosctl.Talosctl`)."""

    def gen_secrets(self, output: Path, *, talos_version: str | None = None) -> None: ...


def create_bundle(
    cluster: Cluster, *, talosctl: SecretsTool, recipients: Sequence[str] = (), dry: bool = False
) -> Path:
    """``talosctl gen secrets``, encrypted with sops into the cluster's secrets file.

    The plaintext exists only in a private temporary directory. Refuses when the file
    exists; without ``recipients`` the creation rules of ``.sops.yaml`` apply. ``dry``
    checks all that and stops before generating anything. Returns the file.
    """
    from talos.sops import CONFIG_FILE, encrypt, find_config, private_tempdir, stage_file

    target = cluster.secrets_file
    shown = _shown(cluster)
    if target.exists() or target.is_symlink():
        raise SecretsError(
            f"{shown} already exists: refusing to replace it, since new secrets lock you out "
            "of a cluster made with the old ones; delete it yourself if you mean to start over"
        )
    for recipient in recipients:
        if not recipient.startswith("age1"):
            raise SecretsError(f"{recipient!r} is not an age public key (age1...)")
    if not recipients and find_config(cluster.root) is None:
        raise SecretsError(
            f"no age recipients for {shown}: pass --recipient AGE_PUBLIC_KEY or add a "
            f"creation rule to {CONFIG_FILE} (see .sops.yaml.example)"
        )
    if dry:
        return target
    with private_tempdir() as work:
        plain = work / "secrets.yaml"
        talosctl.gen_secrets(plain, talos_version=cluster.talos_version)
        encrypted = encrypt(plain, target, recipients=recipients, root=cluster.root)
    temp = stage_file(target, encrypted, mode=0o600)
    try:
        os.link(temp, target)  # unlike a rename, never replaces a file that appeared since
    except FileExistsError:
        raise SecretsError(f"{shown} appeared while it was being created; left it alone") from None
    finally:
        temp.unlink(missing_ok=True)
    return target
