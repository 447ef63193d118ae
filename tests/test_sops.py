"""The sops adapter against the real sops, with age keys made here."""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from sopskit import age_identity, encrypted_secrets, is_encrypted, secrets_bundle, sops_path

from talos.adapters import files, sops
from talos.adapters.command import Result, Runner
from talos.errors import CommandTimeout, OutputError, SecretsError, ToolMissingError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def sops_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", sops_path())


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sops_on_path: None) -> tuple[Path, str]:
    key_file, recipient = age_identity(tmp_path)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    return key_file, recipient


@pytest.mark.e2e
def test_decrypt_returns_the_plaintext_bundle(tmp_path: Path, keyed: tuple[Path, str]) -> None:
    bundle = secrets_bundle()
    path = encrypted_secrets(tmp_path, keyed[1], bundle=bundle)
    assert yaml.safe_load(sops.decrypt_text(path)) == yaml.safe_load(bundle)
    assert yaml.safe_load(sops.decrypt_file(path).decode()) == yaml.safe_load(bundle)


@pytest.mark.e2e
def test_an_encrypted_file_is_recognised_and_plaintext_is_not(
    tmp_path: Path, keyed: tuple[Path, str]
) -> None:
    path = encrypted_secrets(tmp_path, keyed[1])
    plain = tmp_path / "plain.yaml"
    plain.write_text(secrets_bundle())
    assert is_encrypted(path)
    assert not is_encrypted(plain)
    assert not is_encrypted(tmp_path / "missing.yaml")
    no_mac = tmp_path / "no-mac.yaml"
    no_mac.write_text("cluster: {id: x}\nsops: {age: [], mac: ''}\n")
    assert not is_encrypted(no_mac)


def test_plaintext_secrets_are_refused_without_running_sops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sops: the refusal comes first
    plain = tmp_path / "secrets.sops.yaml"
    plain.write_text(secrets_bundle())
    with pytest.raises(SecretsError, match="is not encrypted by sops: refusing"):
        sops.decrypt_file(plain, shown="secrets.sops.yaml")


def test_a_missing_secrets_file_points_at_secrets_init(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match=r"no secrets file .*inv secrets\.init"):
        sops.decrypt_file(tmp_path / "secrets.sops.yaml")


@pytest.mark.e2e
def test_the_wrong_key_says_so_in_one_line(
    tmp_path: Path, keyed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypted_secrets(tmp_path, keyed[1])
    other, _ = age_identity(tmp_path, "other.key")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(other))
    with pytest.raises(SecretsError) as caught:
        sops.decrypt_file(path, shown="secrets.sops.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("sops cannot decrypt secrets.sops.yaml: ")
    assert "not one the file is encrypted for" in message
    assert "SOPS_AGE_KEY_FILE" in message


@pytest.mark.e2e
def test_no_key_at_all_says_none_was_found(
    tmp_path: Path, keyed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypted_secrets(tmp_path, keyed[1])
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/sops/age/keys.txt either
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(SecretsError, match="no age key found") as caught:
        sops.decrypt_file(path)
    assert "\n" not in str(caught.value)


@pytest.mark.e2e
def test_a_key_file_that_does_not_exist_is_named(
    tmp_path: Path, keyed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypted_secrets(tmp_path, keyed[1])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "nowhere.key"))
    with pytest.raises(SecretsError, match=r"nowhere\.key: no such file or directory"):
        sops.decrypt_file(path)


@pytest.mark.e2e
def test_a_tampered_file_is_reported_as_modified(tmp_path: Path, keyed: tuple[Path, str]) -> None:
    path = encrypted_secrets(tmp_path, keyed[1])
    text = path.read_text()
    start = text.index("ENC[AES256_GCM,data:") + len("ENC[AES256_GCM,data:")
    flipped = "B" if text[start] != "B" else "C"
    path.write_text(text[:start] + flipped + text[start + 1 :])
    with pytest.raises(SecretsError, match="modified after encryption"):
        sops.decrypt_file(path)


@pytest.mark.e2e
def test_sops_missing_is_a_tool_missing_error(
    tmp_path: Path, keyed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = encrypted_secrets(tmp_path, keyed[1])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolMissingError, match="sops is not installed or not on PATH"):
        sops.decrypt_file(path)


def test_sops_stopped_by_its_time_limit_is_a_secrets_error_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped = CommandTimeout("sops --decrypt x timed out after 60s and was stopped")

    def run(self: Runner, argv: object, **options: object) -> Result:
        raise stopped

    monkeypatch.setattr(sops.Runner, "run", run)
    sealed = tmp_path / "secrets.sops.yaml"  # sops metadata as sops writes it: encrypted
    sealed.write_text(
        "cluster: ENC[AES256_GCM,data:x]\nsops:\n  mac: ENC[AES256_GCM,data:y]\n"
        "  lastmodified: '2026-01-01T00:00:00Z'\n  age:\n    - recipient: age1x\n"
        "      enc: x\n"
    )
    with pytest.raises(SecretsError, match=r"^sops did not finish within 60s: sops ") as caught:
        sops.decrypt_file(sealed)
    assert caught.value.__cause__ is stopped


def test_sops_reasons_are_shortened_to_their_first_sentence() -> None:
    stderr = textwrap.dedent("""\
        Failed to get the data key required to decrypt the SOPS file.

        Group 0: FAILED
          age1xyz: FAILED
            - | failed to load age identities. Errors while loading age
              | identities: failed to parse 'SOPS_AGE_KEY_FILE' age
              | identities: unknown identity type. Did not find keys in
              | locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE'.

        Recovery failed because no master key was able to decrypt the file.
        """)
    assert sops.shorten_reason(stderr) == (
        "failed to parse 'SOPS_AGE_KEY_FILE' age identities: unknown identity type"
    )
    assert sops.shorten_reason("sops metadata not found\n") == "sops metadata not found"
    assert sops.shorten_reason("") == "no reason given"


@pytest.mark.e2e
def test_encrypt_uses_the_creation_rules_of_sops_yaml(
    tmp_path: Path, keyed: tuple[Path, str]
) -> None:
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets\\.sops\\.yaml$\n    age: {keyed[1]}\n"
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text(secrets_bundle())
    encrypted = sops.encrypt(plain, tmp_path / "secrets.sops.yaml", root=tmp_path)
    target = tmp_path / "secrets.sops.yaml"
    target.write_bytes(encrypted)
    assert is_encrypted(target)
    assert keyed[1] in target.read_text()
    assert yaml.safe_load(sops.decrypt_text(target)) == yaml.safe_load(plain.read_text())


@pytest.mark.e2e
def test_encrypt_for_several_recipients_opens_with_each_key(
    tmp_path: Path, keyed: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other_key, other = age_identity(tmp_path, "other.key")
    plain = tmp_path / "plain.yaml"
    plain.write_text(secrets_bundle())
    target = tmp_path / "secrets.sops.yaml"
    target.write_bytes(
        sops.encrypt(plain, target, recipients=[keyed[1], other], root=tmp_path)
    )
    for key in (keyed[0], other_key):
        monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key))
        assert yaml.safe_load(sops.decrypt_text(target)) == yaml.safe_load(plain.read_text())


@pytest.mark.e2e
def test_encrypt_finds_the_sops_yaml_of_a_folder_above(
    tmp_path: Path, keyed: tuple[Path, str]
) -> None:
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: secrets\\.sops\\.yaml$\n    age: {keyed[1]}\n"
    )
    root = tmp_path / "clusters" / "lab"
    root.mkdir(parents=True)
    plain = tmp_path / "plain.yaml"
    plain.write_text("a: b\n")
    assert sops.find_config(root) == tmp_path / ".sops.yaml"
    encrypted = sops.encrypt(plain, root / "secrets.sops.yaml", root=root)
    assert keyed[1] in encrypted.decode()


def test_encrypt_without_rules_or_recipients_says_what_to_do(
    tmp_path: Path, sops_on_path: None
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("a: b\n")
    root = tmp_path / "project"
    root.mkdir()
    with pytest.raises(SecretsError, match="pass --recipient"):
        sops.encrypt(plain, root / "secrets.sops.yaml", root=root)


@pytest.mark.e2e
def test_encrypt_with_a_rule_that_does_not_match_names_the_file(
    tmp_path: Path, keyed: tuple[Path, str]
) -> None:
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: other\\.yaml$\n    age: {keyed[1]}\n"
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text("a: b\n")
    with pytest.raises(SecretsError, match=r"no creation rule .* matches secrets\.sops\.yaml"):
        sops.encrypt(plain, tmp_path / "secrets.sops.yaml", root=tmp_path)


def test_private_tempdir_is_0700_and_removed_after_success_and_error() -> None:
    with sops.private_tempdir() as first:
        assert stat.S_IMODE(first.stat().st_mode) == 0o700
        secret = files.write_private_temp(first / "secrets.yaml", b"plaintext")
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert not first.exists()
    with pytest.raises(RuntimeError), sops.private_tempdir() as second:
        (second / "x").write_text("plaintext")
        raise RuntimeError("boom")
    assert not second.exists()


def test_private_folders_go_to_a_tmpfs_first_then_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, temp = tmp_path / "run", tmp_path / "tmp"
    runtime.mkdir()
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    with sops.private_tempdir() as folder:
        assert folder.parent == runtime
        assert folder.name.startswith(f"talos-tasks-{os.getpid()}-")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "absent"))
    monkeypatch.setattr(sops, "PRIVATE_BASES", ("$XDG_RUNTIME_DIR", str(tmp_path / "no-shm")))
    with sops.private_tempdir() as folder:
        assert folder.parent == temp
    if Path("/dev/shm").is_dir():
        monkeypatch.setattr(sops, "PRIVATE_BASES", ("$XDG_RUNTIME_DIR", "/dev/shm"))
        assert sops.private_base() == Path("/dev/shm")


def test_leftovers_of_a_killed_run_are_removed_and_those_of_a_live_one_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = tmp_path / f"talos-tasks-{gone.stdout.strip()}-abcd1234"
    live = tmp_path / f"talos-tasks-{os.getppid()}-abcd1234"
    other = tmp_path / "talos-tasks-notours"
    for folder in (dead, live, other):
        folder.mkdir(mode=0o700)
        (folder / "secrets.yaml").write_text("plaintext")
    with sops.private_tempdir():
        pass
    assert not dead.exists()
    assert live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                    signal.SIGQUIT])
def test_private_tempdir_is_removed_when_the_process_is_interrupted(
    tmp_path: Path, signum: int
) -> None:
    script = textwrap.dedent("""\
        import sys, time
        from talos.adapters.files import write_private_temp
        from talos.adapters.sops import private_tempdir
        with private_tempdir() as d:
            write_private_temp(d / "secrets.yaml", b"plaintext")
            print(d, flush=True)
            time.sleep(30)
        """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)},
        stderr=subprocess.PIPE,
        # As from a terminal: a suite run as a background job has SIGINT and SIGQUIT
        # ignored, which the program would rightly keep.
        preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT,
                                                                       signal.SIGQUIT)],
    )
    assert proc.stdout is not None and proc.stderr is not None
    made = Path(proc.stdout.readline().strip())
    assert (made / "secrets.yaml").exists()
    proc.send_signal(signum)
    proc.wait(timeout=10)
    assert "Interrupted" in proc.stderr.read()  # raised, after the cleanup
    assert proc.returncode != 0
    assert not made.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_replaces_the_file_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "worker-01.yaml"
    target.write_text("old")
    target.chmod(0o644)
    files.write_atomic(target, b"new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["worker-01.yaml"]


def test_a_write_that_fails_leaves_no_temp_file_and_the_old_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "worker-01.yaml"
    target.write_text("old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device"):
        files.write_atomic(target, b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["worker-01.yaml"]
    assert target.read_text() == "old"


def test_a_temp_folder_that_cannot_be_made_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setattr(sops, "PRIVATE_BASES", ())
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_folder))
    with pytest.raises(OutputError, match=r"cannot create a private folder in .*TMPDIR"), \
            sops.private_tempdir():
        pass


def test_a_full_temp_folder_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(path: Path, flags: int, mode: int = 0o777) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with sops.private_tempdir() as folder:
        monkeypatch.setattr(os, "open", full)
        with pytest.raises(OutputError, match="No space left on device"):
            files.write_private_temp(folder / "secrets.yaml", b"plaintext")
        monkeypatch.undo()
    assert not folder.exists()


def _broken(kind: str, good: str, recipient: str) -> bytes:
    if kind == "empty":
        return b""
    if kind == "binary":
        return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    if kind == "truncated":
        return good[: len(good) // 2].encode()
    if kind == "edited":  # one encrypted value changed by hand
        return good.replace("ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:A", 1).encode()
    if kind == "mac-edited":
        return good.replace("mac: ENC[AES256_GCM,data:", "mac: ENC[AES256_GCM,data:B",
                            1).encode()
    if kind == "fake-block":
        return b"cluster:\n  id: abc\nsops:\n  mac: fake\n  version: 3.9.0\n"
    assert kind == "fake-armor"
    return (
        "cluster:\n  id: ENC[AES256_GCM,data:abc,iv:abc,tag:abc,type:str]\nsops:\n"
        "  mac: ENC[AES256_GCM,data:abc,iv:abc,tag:abc,type:str]\n  age:\n"
        f"  - recipient: {recipient}\n    enc: |\n      -----BEGIN AGE ENCRYPTED FILE-----\n"
        "      abc\n      -----END AGE ENCRYPTED FILE-----\n"
        "  lastmodified: '2024-01-01T00:00:00Z'\n  version: 3.9.0\n"
    ).encode()


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["empty", "binary", "truncated", "edited", "mac-edited",
                                  "fake-block", "fake-armor"])
def test_a_damaged_secrets_file_is_called_corrupt_not_a_key_problem(
    tmp_path: Path, keyed: tuple[Path, str], kind: str
) -> None:
    good = encrypted_secrets(tmp_path, keyed[1]).read_text()
    path = tmp_path / "secrets.sops.yaml"
    path.write_bytes(_broken(kind, good, keyed[1]))
    with pytest.raises(SecretsError) as caught:
        sops.decrypt_file(path, shown="secrets.sops.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert re.search(r"corrupt|not a sops file", message), message
    assert "SOPS_AGE_KEY_FILE" not in message
    assert message.startswith("secrets.sops.yaml ")


def test_a_secrets_path_that_is_a_folder_says_so(tmp_path: Path) -> None:
    (tmp_path / "secrets.sops.yaml").mkdir()
    with pytest.raises(SecretsError, match=r"secrets\.sops\.yaml is a folder, not the secrets"):
        sops.decrypt_file(tmp_path / "secrets.sops.yaml", shown="secrets.sops.yaml")
