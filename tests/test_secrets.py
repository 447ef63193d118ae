"""Secret values of the bundle, and redaction of text that might carry them."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sopskit import decrypt, pitower_project, project_env, secrets_bundle

from talos.cluster import load_cluster_file
from talos.errors import SecretsError
from talos.secrets import MASK, bundle_values, create_bundle, redact, secret_values
from talos.sops import is_encrypted

REPO = Path(__file__).resolve().parents[1]


def test_every_secret_string_of_the_bundle_is_collected() -> None:
    text = (
        "cluster:\n  id: abcdefghijkl\n  secret: mnopqrstuvwx\n"
        "certs:\n  os:\n    key: LS0tkey123\n"
    )
    assert bundle_values(text) == {"abcdefghijkl", "mnopqrstuvwx", "LS0tkey123"}


def test_short_strings_and_sops_metadata_are_not_secrets() -> None:
    text = "a: short\nb: a-long-enough-value\nsops:\n  mac: ENC[notasecret]\n"
    assert bundle_values(text) == {"a-long-enough-value"}


def test_strings_in_lists_count_and_eight_characters_is_long_enough() -> None:
    text = "certs:\n  extra: [list-item-secret, {key: nested-in-list}]\nb: 7-chars\nc: 8-chars!\n"
    assert bundle_values(text) == {"list-item-secret", "nested-in-list", "8-chars!"}


def test_a_bundle_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(SecretsError, match="not a talosctl secrets bundle"):
        bundle_values("- a\n- b\n")


def test_redact_replaces_every_occurrence_longest_first() -> None:
    secrets = {"abcdefgh", "abcdefgh-and-more"}
    text = "token abcdefgh-and-more then abcdefgh, twice abcdefgh"
    assert redact(text, secrets) == f"token {MASK} then {MASK}, twice {MASK}"
    assert redact("nothing here", secrets) == "nothing here"


def test_secret_values_decrypts_the_clusters_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = pitower_project(tmp_path)
    for key, value in project_env(root).items():
        monkeypatch.setenv(key, value)
    cluster = load_cluster_file(root / "cluster.yaml")
    values = secret_values(cluster)
    config = "machine:\n  token: {token}\n  ca:\n    crt: {crt}\n"
    bundle = yaml.safe_load(decrypt(cluster.secrets_file, root / "age.key"))
    text = config.format(token=bundle["trustdinfo"]["token"], crt=bundle["certs"]["os"]["crt"])
    assert bundle["certs"]["os"]["key"] in values
    assert redact(text, values) == config.format(token=MASK, crt=MASK)


class FakeSecretsTool:
    """Writes a bundle as `talosctl gen secrets` does (0600, refusing an existing file)."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def gen_secrets(self, output: Path, *, talos_version: str | None = None) -> None:
        self.calls.append(output)
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets_bundle())


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A pitower copy without a secrets file; its age key in the environment."""
    root = pitower_project(tmp_path)
    (root / "secrets.sops.yaml").unlink()
    for key, value in project_env(root).items():
        monkeypatch.setenv(key, value)
    recipient = (root / "age.key").read_text().split("public key: ")[1].split()[0]
    return root, recipient


def test_create_bundle_encrypts_a_new_bundle_for_the_recipients_given(
    fresh: tuple[Path, str], tmp_path: Path
) -> None:
    root, recipient = fresh
    cluster = load_cluster_file(root / "cluster.yaml")
    tool = FakeSecretsTool()
    with tempdir_watch(tmp_path) as temp:
        target = create_bundle(cluster, talosctl=tool, recipients=[recipient])
        assert not tool.calls[0].exists()
        assert list(temp.iterdir()) == []
    assert target == root / "secrets.sops.yaml"
    assert is_encrypted(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "certs" in yaml.safe_load(decrypt(target, root / "age.key"))
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".secrets")) == []


def test_create_bundle_follows_the_example_sops_yaml(fresh: tuple[Path, str]) -> None:
    root, recipient = fresh
    example = (REPO / ".sops.yaml.example").read_text()
    rule = re.sub(r"age: age1\w+", f"age: {recipient}", example)
    (root / ".sops.yaml").write_text(rule)
    cluster = load_cluster_file(root / "cluster.yaml")
    target = create_bundle(cluster, talosctl=FakeSecretsTool())
    assert recipient in target.read_text()
    assert yaml.safe_load(decrypt(target, root / "age.key"))["cluster"]["id"]


def test_create_bundle_refuses_to_replace_an_existing_bundle(tmp_path: Path) -> None:
    root = pitower_project(tmp_path)
    before = (root / "secrets.sops.yaml").read_bytes()
    cluster = load_cluster_file(root / "cluster.yaml")
    tool = FakeSecretsTool()
    with pytest.raises(SecretsError, match="already exists: refusing to replace it"):
        create_bundle(cluster, talosctl=tool, recipients=["age1whatever"])
    assert tool.calls == []
    assert (root / "secrets.sops.yaml").read_bytes() == before


def test_create_bundle_without_recipients_or_rules_says_what_to_do(
    fresh: tuple[Path, str]
) -> None:
    root, _ = fresh
    cluster = load_cluster_file(root / "cluster.yaml")
    tool = FakeSecretsTool()
    with pytest.raises(SecretsError, match=r"pass --recipient .* \.sops\.yaml"):
        create_bundle(cluster, talosctl=tool)
    assert tool.calls == []
    assert not (root / "secrets.sops.yaml").exists()


def test_create_bundle_dry_checks_and_writes_nothing(fresh: tuple[Path, str]) -> None:
    root, recipient = fresh
    cluster = load_cluster_file(root / "cluster.yaml")
    tool = FakeSecretsTool()
    create_bundle(cluster, talosctl=tool, recipients=[recipient], dry=True)
    assert tool.calls == []
    assert not (root / "secrets.sops.yaml").exists()


@contextlib.contextmanager
def tempdir_watch(tmp_path: Path) -> Iterator[Path]:
    """Point tempfile at a fresh folder for the block, to see what is left in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved


def test_create_bundle_refuses_a_recipient_that_is_not_an_age_key(
    fresh: tuple[Path, str]
) -> None:
    root, recipient = fresh
    cluster = load_cluster_file(root / "cluster.yaml")
    tool = FakeSecretsTool()
    with pytest.raises(SecretsError, match=r"'ssh-ed25519 AAAA' is not an age public key"):
        create_bundle(cluster, talosctl=tool, recipients=[recipient, "ssh-ed25519 AAAA"])
    assert tool.calls == []
    assert not (root / "secrets.sops.yaml").exists()
