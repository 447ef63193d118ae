"""Adapter for sops: decrypt and encrypt the secrets bundle, keep plaintext private.

The plaintext of the secrets bundle lives in memory, or, where a program needs a file,
in a private temporary directory (mode 0700, files 0600, on a tmpfs when there is one)
that is removed however the block ends: normally, on an error, on SIGINT, SIGTERM,
SIGHUP and SIGQUIT; a later run removes what a killed one (SIGKILL) left.

    require_encrypted(path, shown)               SecretsError when it holds plaintext
    decrypt_file(path)               -> bytes    the plaintext, from the real ``sops``
    decrypt_text(path)               -> str
    encrypt(plaintext_file, target, recipients=(), root=...) -> bytes   sops's output
    private_tempdir()                            context manager: a 0700 directory
    remove_stale_private_dirs()      -> [Path]   leftovers of killed runs, removed

Writing those files: :mod:`talos.adapters.files` (``write_private_temp``, ``write_atomic``).

Errors: :class:`~talos.errors.ToolMissingError` when ``sops`` is not on PATH,
:class:`~talos.errors.SecretsError` with sops's reason, shortened, when it fails.
The key sops decrypts with comes from its own environment variables
(``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY``; ``.env`` is read by the task layer).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from talos.adapters.command import Result, Runner
from talos.adapters.interrupts import interruptible
from talos.core.goyaml.reader import MAX_BYTES, safe_load
from talos.errors import (
    CommandTimeout,
    OutputError,
    SecretsError,
    TalosError,
    ToolMissingError,
)

SOPS = "sops"
CONFIG_FILE = ".sops.yaml"
TIMEOUT = 60.0
_MAX_REASON = 200
KEY_HINT = "set SOPS_AGE_KEY_FILE to the age key the file is encrypted for (see .env.example)"


# -- files -------------------------------------------------------------------------------


def require_encrypted(path: Path, shown: str | None = None) -> None:
    """Refuse a secrets file that is missing, not a sops file, corrupt, or plaintext."""
    shown = shown or str(path)
    problem = _not_a_sops_file(path, shown)
    if problem:
        raise SecretsError(problem)


_RESTORE = "restore it from git (`git checkout -- {shown}`)"


def _not_a_sops_file(path: Path, shown: str) -> str | None:
    """Why ``path`` cannot be decrypted as a sops file, in one line; None when it may."""
    if path.is_dir():
        return f"{shown} is a folder, not the secrets file: remove it or name the file"
    if not path.is_file():
        return (f"no secrets file {shown}; create one with `inv secrets.init` "
                "(or restore it from git)")
    restore = _RESTORE.format(shown=shown)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return f"cannot read {shown}: {exc.strerror or exc}; make it readable by you"
    if len(raw) > MAX_BYTES:
        return (f"{shown} is over the {MAX_BYTES // (1024 * 1024)} MiB limit for YAML input: "
                f"not a secrets bundle; {restore}")
    if not raw.strip():
        return f"{shown} is empty: not a sops file; {restore}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"{shown} is binary, not a sops file: corrupt; {restore}"
    if "\x00" in text:
        return f"{shown} is binary, not a sops file: corrupt; {restore}"
    try:
        data = safe_load(text)
    except (yaml.YAMLError, TalosError):
        return f"{shown} is corrupt (not valid YAML: truncated or damaged); {restore}"
    if not isinstance(data, dict):
        return f"{shown} is not a sops file (no sops metadata); {restore}"
    meta = data.get("sops")
    if meta is None and "ENC[" in text:
        return (f"{shown} is corrupt: it holds encrypted values but no sops metadata "
                f"(truncated?); {restore}")
    if meta is None:
        return (
            f"{shown} is not encrypted by sops: refusing to use plaintext secrets that could "
            f"end up in git; encrypt it (`sops --encrypt --in-place {shown}`) and check that "
            "the plaintext was never committed"
        )
    if not isinstance(meta, dict) or not isinstance(meta.get("mac"), str) or not meta["mac"]:
        return (f"{shown} is not encrypted by sops (its sops metadata has no MAC): corrupt "
                f"or not a sops file; {restore}")
    if not meta.get("lastmodified") or not any(meta.get(k) for k in _KEY_GROUPS):
        return (f"{shown} carries sops metadata that sops never wrote (no date or no "
                f"recipients): not a sops file; {restore}")
    return None


_KEY_GROUPS = ("age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "key_groups")
# What sops says when the file itself is damaged, rather than the key being wrong.
_CORRUPT_MARKERS = (
    "Error decrypting tree", "Could not decrypt value", "Cannot decrypt MAC",
    "MAC mismatch", "message authentication failed", "parsing time", "metadata not found",
    "Error unmarshalling", "invalid armor", "failed to read header", "Error walking tree",
)


#: The prefix of private folders; the process ID follows, so that leftovers of a run
#: that was killed (SIGKILL, a power cut) are recognised and removed by the next one.
PRIVATE_PREFIX = "talos-tasks-"
#: Where private folders go, first usable wins: memory-backed file systems, so that
#: plaintext never reaches a disk; then the usual temporary folder ($TMPDIR).
PRIVATE_BASES: tuple[str, ...] = ("$XDG_RUNTIME_DIR", "/dev/shm")


def private_base() -> Path:
    """The folder private folders are made in: ``$XDG_RUNTIME_DIR`` or ``/dev/shm`` when
    present and writable, else the temporary folder (``$TMPDIR``)."""
    for candidate in _private_candidates():
        if candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return Path(tempfile.gettempdir())


def _private_candidates() -> list[Path]:
    found = []
    for base in PRIVATE_BASES:
        value = os.environ.get(base[1:], "") if base.startswith("$") else base
        if value:
            found.append(Path(value))
    return found


def remove_stale_private_dirs() -> list[Path]:
    """Remove this user's private folders whose process is gone (it was killed before it
    could clean up); returns them. Folders of running processes are left alone."""
    removed = []
    for base in {*_private_candidates(), Path(tempfile.gettempdir())}:
        try:
            entries = list(base.glob(f"{PRIVATE_PREFIX}*"))
        except OSError:
            continue
        for entry in entries:
            pid = _owner_pid(entry)
            if pid is None or _alive(pid):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry)
    return removed


def _owner_pid(entry: Path) -> int | None:
    """The process that made ``entry``, if it is one of our private folders."""
    rest = entry.name[len(PRIVATE_PREFIX):]
    pid, dash, _ = rest.partition("-")
    if not dash or not pid.isdigit():
        return None
    try:
        info = entry.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return None
    return int(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def private_tempdir(prefix: str = PRIVATE_PREFIX) -> Iterator[Path]:
    """A directory only this user can enter, removed however the block ends.

    Made in :func:`private_base` (a tmpfs when there is one). Inside the block SIGINT,
    SIGTERM, SIGHUP and SIGQUIT raise (see :mod:`talos.adapters.interrupts`), so the directory
    is removed in every case but SIGKILL, after the program running in it has stopped;
    the interruption then surfaces as :class:`~talos.errors.Interrupted`. Leftovers of
    earlier runs that were killed are removed first.
    """
    remove_stale_private_dirs()
    base = private_base()
    with interruptible("the work on the decrypted secrets"):
        try:
            path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base))
        except OSError as exc:
            raise OutputError(
                f"cannot create a private folder in {base}: {exc.strerror or exc}; free "
                "some space there or point TMPDIR at another folder"
            ) from exc
        try:
            os.chmod(path, 0o700)
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


# -- running sops ------------------------------------------------------------------------


def _run(argv: Sequence[str], *, cwd: Path | None = None) -> Result:
    """Run sops through the project's runner: its stdout as bytes, never echoed."""
    try:
        return Runner().run(argv, mutates=False, timeout=TIMEOUT, check=False, binary=True,
                            cwd=cwd)
    except ToolMissingError as exc:
        raise ToolMissingError(
            "sops is not installed or not on PATH",
            command=argv,
            hint="install sops (https://github.com/getsops/sops), or use ./run, whose "
            "virtualenv has one",
        ) from exc
    except CommandTimeout as exc:
        raise SecretsError(f"sops did not finish within {TIMEOUT:.0f}s: {' '.join(argv)}"
                           ) from exc


def shorten_reason(stderr: str) -> str:
    """sops's explanation in one line: the reason of the failing key group, not the lecture.

    sops explains a failed decryption in a dozen lines (groups, keys, a list of places
    it looked); the line that matters is the first sentence of the key's error.
    """
    block: list[str] = []
    for line in stderr.splitlines():
        stripped = line.strip()
        if stripped.startswith("- |"):
            block.append(stripped[3:].strip())
        elif stripped.startswith("|") and block:
            block.append(stripped[1:].strip())
    if block:
        text = " ".join(block)
        if "identity did not match any of the recipients" in text:
            return "the age key given is not one the file is encrypted for"
        loading = re.search(r"Errors while loading age identities: (.*?)\. Did not find", text)
        if loading:
            return _cap(loading.group(1))
        if text.startswith("failed to load age identities") and "Did not find keys" in text:
            return "no age key found (SOPS_AGE_KEY_FILE and SOPS_AGE_KEY are unset or empty)"
        return _cap(text.split(". Did not find keys", 1)[0])
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "no reason given"
    first = lines[0]
    if "message authentication failed" in stderr:
        return "the file was modified after encryption (MAC check failed)"
    return _cap(first)


def _cap(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def decrypt_file(path: Path, *, shown: str | None = None) -> bytes:
    """The plaintext of a sops-encrypted YAML file; refuses a file that is not encrypted."""
    shown = shown or str(path)
    require_encrypted(path, shown)
    argv = [SOPS, "--decrypt", "--input-type", "yaml", "--output-type", "yaml", str(path)]
    result = _run(argv)
    if result.exit_code != 0:
        reason = shorten_reason(result.stderr)
        if any(marker in result.stderr for marker in _CORRUPT_MARKERS):
            raise SecretsError(
                f"{shown} is corrupt: sops cannot decrypt it ({reason}); it was edited or "
                f"damaged after encryption; {_RESTORE.format(shown=shown)}"
            )
        raise SecretsError(f"sops cannot decrypt {shown}: {reason}; {KEY_HINT}")
    return result.stdout_bytes


def decrypt_text(path: Path, *, shown: str | None = None) -> str:
    """:func:`decrypt_file` as text."""
    return decrypt_file(path, shown=shown).decode("utf-8")


def recipients_of(encrypted: bytes) -> list[str]:
    """The age recipients a sops file (its text) is encrypted for, from its metadata."""
    try:
        data = safe_load(encrypted.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return []
    meta = data.get("sops") if isinstance(data, dict) else None
    entries = meta.get("age") if isinstance(meta, dict) else None
    if not isinstance(entries, list):
        return []
    return [str(e["recipient"]) for e in entries
            if isinstance(e, dict) and isinstance(e.get("recipient"), str)]


def age_identity() -> str | None:
    """Where sops would find an age identity to decrypt with (``SOPS_AGE_KEY``, the file
    ``SOPS_AGE_KEY_FILE`` names, or sops's default keys file); None when nowhere."""
    if os.environ.get("SOPS_AGE_KEY"):
        return "SOPS_AGE_KEY"
    named = os.environ.get("SOPS_AGE_KEY_FILE")
    if named:
        return named if Path(named).is_file() else None
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    default = Path(config) / "sops" / "age" / "keys.txt"
    return str(default) if default.is_file() else None


def find_config(start: Path) -> Path | None:
    """The ``.sops.yaml`` sops would use for a file in ``start``: the nearest one upwards."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def encrypt(
    plaintext_file: Path,
    target: Path,
    *,
    recipients: Sequence[str] = (),
    root: Path,
) -> bytes:
    """Encrypt ``plaintext_file`` as sops would encrypt ``target``; returns the encrypted text.

    Without ``recipients`` the creation rules of ``.sops.yaml`` (nearest to ``root``)
    choose the keys, matched against ``target``'s path relative to ``root``; with them,
    the file is encrypted for exactly those age recipients.
    """
    try:
        relative = str(target.resolve().relative_to(root.resolve()))
    except ValueError:
        relative = str(target)
    argv = [SOPS, "--encrypt", "--input-type", "yaml", "--output-type", "yaml",
            "--filename-override", relative]
    if recipients:
        argv += ["--age", ",".join(recipients)]
    else:
        config = find_config(root)
        if config is None:
            raise SecretsError(
                f"no age recipients for {relative}: pass --recipient AGE_PUBLIC_KEY or add a "
                f"creation rule to {CONFIG_FILE} (see .sops.yaml.example)"
            )
        argv += ["--config", str(config)]
    argv.append(str(plaintext_file))
    result = _run(argv, cwd=root)
    if result.exit_code != 0:
        stderr = result.stderr
        if "no matching creation rules" in stderr:
            raise SecretsError(
                f"no creation rule in {CONFIG_FILE} matches {relative}: add one (see "
                ".sops.yaml.example) or pass --recipient AGE_PUBLIC_KEY"
            )
        raise SecretsError(f"sops cannot encrypt {relative}: {shorten_reason(stderr)}")
    return result.stdout_bytes
