"""Keeping secrets out of what talos-tasks prints, and creating the secrets bundle.

    bundle_values(text)        -> frozenset[str]   every secret string of a decrypted bundle
    secret_values(cluster)     -> frozenset[str]   the same, decrypting the cluster's bundle
    redact(text, secrets)      -> str              secrets replaced by ``<redacted>``
    redact_by_meaning(text)    -> str              only the values at secret config paths
    Redactor.for_cluster(c)    -> callable         redact() with the bundle read on first use
    create_bundle(cluster, talosctl=..., recipients=())  -> Path   a new encrypted bundle

``create_bundle`` never replaces an existing bundle: new secrets for a running cluster
lock its owner out (new CAs, new tokens), so that takes a deliberate ``rm`` first.

Redaction works by meaning and by value. By meaning: in anything shaped like a machine
config or a secrets bundle (YAML, one or more documents, or a unified diff of such as
``talosctl apply-config --dry-run`` prints), the values of fields that hold secrets are
masked whatever they are: every ``key`` (the private half of each CA and key pair),
``token``, ``secret``, ``cluster.id``, the encryption secrets, ``bootstraptoken``,
passphrases, passwords and private keys, and any base64 PEM private key wherever it
appears. A diff keeps its ``-``/``+`` markers, so it still shows that a secret changed.
By value: any string of the cluster's bundle (base64 PEM blocks, tokens, the cluster ID
and secret) is masked wherever it appears. Short strings are left alone: a value that
short is no secret and would mangle ordinary output.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from talos.adapters.files import stage_file
from talos.adapters.sops import (
    CONFIG_FILE,
    age_identity,
    decrypt_file,
    decrypt_text,
    encrypt,
    find_config,
    private_tempdir,
    recipients_of,
)
from talos.core.age import recipient_problem
from talos.core.goyaml.reader import safe_load
from talos.core.terminal import printable
from talos.core.wording import shown_path
from talos.errors import SecretsError, TalosError

if TYPE_CHECKING:
    from talos.core.cluster import Cluster

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
        data = safe_load(text)
    except yaml.YAMLError as exc:
        raise SecretsError(f"{shown} does not decrypt to YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SecretsError(f"{shown} is not a talosctl secrets bundle (not a mapping)")
    data = {key: value for key, value in data.items() if key != "sops"}
    return frozenset(s for s in _strings(data) if len(s) >= MIN_LENGTH)


def secret_values(cluster: Cluster) -> frozenset[str]:
    """Every secret string of the cluster's bundle (decrypted with sops, kept in memory)."""
    shown = _shown(cluster)
    return bundle_values(decrypt_text(cluster.secrets_file, shown=shown), shown)


def redact(text: str, secrets: Iterable[str], mask: str = MASK) -> str:
    """``text`` with the values at secret config paths and every one of ``secrets``
    replaced by ``mask`` (see the module docstring), and without terminal control
    sequences: what is redacted comes from elsewhere and is about to be shown."""
    text = redact_by_meaning(printable(text), mask)
    for value in sorted(set(secrets), key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, mask)
    return text


# -- redaction by meaning ------------------------------------------------------------------

#: Fields whose value is a secret wherever they appear (machine configs of any document
#: kind, the secrets bundle, registry auth, disk encryption, WireGuard).
SECRET_FIELDS = frozenset({
    "key", "token", "secret", "bootstraptoken", "secretboxEncryptionSecret",
    "secretboxencryptionsecret", "aescbcEncryptionSecret", "aescbcencryptionsecret",
    "passphrase", "password", "privateKey", "presharedKey", "identityToken", "auth",
})
#: Fields that are secrets only at these paths from a document's root; when a diff hunk
#: starts below the root (its parents out of context), the field counts as secret.
SECRET_PATHS = frozenset({("cluster", "id")})
_PATH_FIELDS = frozenset(path[-1] for path in SECRET_PATHS)

# base64 of a PEM block's opening dashes and "BEGIN": any PEM block, the private-key
# ones among them told apart by decoding its header line (below).
_PEM_BASE64 = re.compile(r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{8,}={0,2}")
_KEY_LINE = re.compile(
    r"""^(?P<lead>[ ]*(?:-[ ]+)*)(?P<key>"[^"]*"|'[^']*'|[^\s:#'"\[\]{},][^:#]*?)"""
    r"""[ ]*:(?:[ ]+(?P<value>.*?))?[ ]*$"""
)
_FLOW_PAIR = re.compile(r"(?P<key>[A-Za-z][A-Za-z0-9_]*)(?P<sep>\s*:\s*)(?P<value>[^,}\]]+)")
_HUNK = re.compile(r"^@@ -\d+(?:,(?P<old>\d+))? \+\d+(?:,(?P<new>\d+))? @@")


def redact_by_meaning(text: str, mask: str = MASK) -> str:
    """``text`` with the values at secret config paths masked (see the module docstring).

    Plain text is read as YAML-shaped lines; a unified diff (``@@`` hunks) is read side
    by side, the old side (``-`` and context lines) and the new side (``+`` and
    context) each with its own path, so a secret is masked on both sides of a change.
    Lines that are not YAML pass through, apart from base64 PEM private keys.
    """
    if not text:
        return text
    lines = text.split("\n")
    out: list[str] = []
    plain = _Side()
    old, new = _Side(), _Side()
    remaining_old = remaining_new = 0
    for line in lines:
        if remaining_old > 0 or remaining_new > 0:
            marker, body = (line[:1], line[1:]) if line else (" ", "")
            if marker == " ":
                out.append(marker + _mask_line(body, mask, old, new))
                remaining_old -= 1
                remaining_new -= 1
                continue
            if marker == "-":
                out.append(marker + _mask_line(body, mask, old))
                remaining_old -= 1
                continue
            if marker == "+":
                out.append(marker + _mask_line(body, mask, new))
                remaining_new -= 1
                continue
            if marker == "\\":  # "\ No newline at end of file"
                out.append(line)
                continue
            remaining_old = remaining_new = 0  # not a hunk line after all
        hunk = _HUNK.match(line)
        if hunk:
            remaining_old = int(hunk.group("old") or 1)
            remaining_new = int(hunk.group("new") or 1)
            old, new = _Side(unknown=True), _Side(unknown=True)
            out.append(line)
            continue
        if line.startswith(("--- ", "+++ ")):
            out.append(_mask_pem(line, mask))
            continue
        out.append(_mask_line(line, mask, plain))
    return "\n".join(out)


class _Side:
    """Where one side of a YAML text is: the path of the line being read."""

    def __init__(self, *, unknown: bool = False) -> None:
        #: (indent, field) from the document root down to the last field read
        self.stack: list[tuple[int, str]] = []
        #: the fields above the first one on the stack are unknown (a hunk's parents)
        self.unknown = unknown
        #: indent of a secret block scalar being read (lines deeper than it are masked)
        self.block: int | None = None

    def read(self, indent: int, field: str) -> tuple[str, ...] | None:
        """Record ``field`` at ``indent``; its path, or None when the root is not known."""
        while self.stack and self.stack[-1][0] >= indent:
            self.stack.pop()
        if not self.stack and indent == 0:
            self.unknown = False
        self.stack.append((indent, field))
        return None if self.unknown else tuple(f for _, f in self.stack)

    def document(self) -> None:
        self.stack.clear()
        self.unknown = False
        self.block = None


def _mask_line(body: str, mask: str, side: _Side, other: _Side | None = None) -> str:
    """Mask one line read on ``side`` (and ``other``, for a diff's context lines)."""
    sides = (side,) if other is None else (side, other)
    stripped = body.strip()
    if stripped in ("---", "...") or body.startswith("--- "):
        for s in sides:
            s.document()
        return body
    indent = len(body) - len(body.lstrip(" "))
    if side.block is not None:
        if not stripped or indent > side.block:
            return body[:indent] + mask if stripped else body
        for s in sides:
            s.block = None
    match = _KEY_LINE.match(body)
    if match is None or stripped.startswith("#"):
        return _mask_inline(_mask_flow(_mask_pem(body, mask), mask), mask)
    lead, field = match.group("lead"), match.group("key").strip("'\"")
    depth = len(lead)
    secret = False
    for s in sides:
        path = s.read(depth, field)
        at_path = field in _PATH_FIELDS and (path is None or path in SECRET_PATHS)
        secret = secret or field in SECRET_FIELDS or at_path
    value = match.group("value")
    if not secret or not value:
        head = body[: match.start("value")] if value else body
        rest = body[len(head):]
        return head + _mask_inline(_mask_flow(_mask_pem(rest, mask), mask), mask)
    if value[:1] in "|>":
        for s in sides:
            s.block = depth
        return body
    return body[: match.start("value")] + mask


_INLINE = re.compile(
    r"(?<![\w./-])(?P<key>" + "|".join(sorted(SECRET_FIELDS, key=len, reverse=True))
    + r")(?P<sep>[ ]?[:=][ ]*)(?P<value>[^\s,;)\]}'\"]+)"
)


def _mask_inline(body: str, mask: str) -> str:
    """``token: VALUE`` quoted inside prose (an error message that cites a config)."""
    if not any(field in body for field in SECRET_FIELDS):
        return body
    return _INLINE.sub(lambda m: m.group("key") + m.group("sep") + mask, body)


def _mask_flow(body: str, mask: str) -> str:
    """Secret fields inside flow collections (``ca: {crt: ..., key: ...}``)."""
    if "{" not in body:
        return body

    def one(found: re.Match[str]) -> str:
        if found.group("key") in SECRET_FIELDS:
            return found.group("key") + found.group("sep") + mask
        return found.group(0)

    head, brace, rest = body.partition("{")
    return head + brace + _FLOW_PAIR.sub(one, rest)


def _mask_pem(body: str, mask: str) -> str:
    """Base64 PEM blocks that hold a private key, wherever they are."""
    if "LS0tLS1CRUdJTi" not in body:
        return body

    def one(found: re.Match[str]) -> str:
        blob = found.group(0)
        head = blob.rstrip("=")[:64]  # the PEM header line, which names the key type
        try:
            decoded = base64.b64decode(head[: len(head) - len(head) % 4])
        except ValueError:
            return blob
        return mask if b"PRIVATE KEY" in decoded else blob

    return _PEM_BASE64.sub(one, body)


class Redactor:
    """:func:`redact` for one cluster, as a one-argument callable for adapters' output.

    The bundle's values are read (decrypted) on first use, once. When they cannot be
    (no key at hand: applying configs that are already generated needs none), redaction
    by meaning still applies and the bundle is not asked again.
    """

    def __init__(self, values: Callable[[], frozenset[str]]) -> None:
        self._load = values
        self._values: frozenset[str] | None = None

    @classmethod
    def for_cluster(cls, cluster: Cluster) -> Redactor:
        return cls(lambda: secret_values(cluster))

    def values(self) -> frozenset[str]:
        if self._values is None:
            try:
                self._values = self._load()
            except SecretsError:
                self._values = frozenset()
        return self._values

    def __call__(self, text: str) -> str:
        return redact(text, self.values()) if text else text

    def error(self, exc: TalosError) -> TalosError:
        """``exc`` with its message redacted (same type, same exit code)."""
        exc.message = self(exc.message)
        exc.args = (exc.message,)
        return exc


def _shown(cluster: Cluster) -> str:
    return shown_path(cluster.secrets_file, cluster.root)


class SecretsTool(Protocol):
    """What creating a bundle needs of talosctl (:class:`talos.adapters.talosctl.Talosctl`)."""

    def gen_secrets(self, output: Path, *, talos_version: str | None = None) -> None: ...


def create_bundle(
    cluster: Cluster, *, talosctl: SecretsTool, recipients: Sequence[str] = (), dry: bool = False,
    verify: bool = True,
) -> Path:
    """``talosctl gen secrets``, encrypted with sops into the cluster's secrets file.

    The plaintext exists only in a private temporary directory. Refuses when the file
    exists; without ``recipients`` the creation rules of ``.sops.yaml`` apply. Every
    recipient must be an age public key, and not the example's placeholder. With
    ``verify``, when an age identity is at hand (:func:`talos.adapters.sops.age_identity`), the
    new file is decrypted with it, and removed again when it cannot be: a bundle
    nobody here can open is a lock-out waiting to happen. ``dry`` checks the arguments
    and stops before generating anything. Returns the file.
    """
    target = cluster.secrets_file
    shown = _shown(cluster)
    if target.exists() or target.is_symlink():
        raise SecretsError(
            f"{shown} already exists: refusing to replace it, since new secrets lock you out "
            "of a cluster made with the old ones; delete it yourself if you mean to start over"
        )
    for recipient in recipients:
        problem = recipient_problem(recipient)
        if problem:
            raise SecretsError(f"--recipient {recipient!r} {problem}")
    config = find_config(cluster.root)
    if not recipients and config is None:
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
    used = recipients_of(encrypted)
    for recipient in used:
        problem = recipient_problem(recipient)
        if problem:
            origin = "--recipient" if recipients else str(config)
            raise SecretsError(f"{origin}: recipient {recipient} {problem}; nothing was "
                               "written")
    temp = stage_file(target, encrypted, mode=0o600)
    try:
        os.link(temp, target)  # unlike a rename, never replaces a file that appeared since
    except FileExistsError:
        raise SecretsError(f"{shown} appeared while it was being created; left it alone") from None
    finally:
        temp.unlink(missing_ok=True)
    identity = age_identity() if verify else None
    if identity is not None:
        try:
            decrypt_file(target, shown=shown)
        except SecretsError:
            target.unlink(missing_ok=True)
            raise SecretsError(
                f"the age key you have ({identity}) cannot open the new {shown}: none of its "
                f"recipients ({', '.join(used) or 'none'}) is yours, so it was removed; add "
                "your public key to the recipients, or pass --no-verify to keep a bundle "
                "only they can open"
            ) from None
    return target
