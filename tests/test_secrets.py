"""Secret values of the bundle, and redaction of text that might carry them."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sopskit import (
    age_identity,
    decrypt,
    is_encrypted,
    pitower_project,
    project_env,
    secrets_bundle,
)

from talos.core.cluster import load_cluster_file
from talos.errors import SecretsError
from talos.ops.secrets import (
    MASK,
    Redactor,
    bundle_values,
    create_bundle,
    redact,
    redact_by_meaning,
    secret_values,
)

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


PEM_KEY = "LS0tLS1CRUdJTiBFRDI1NTE5IFBSSVZBVEUgS0VZLS0tLS0KTUM0Q0FRQXdCUVlESzJWd0JDSUVJRA=="
PEM_CRT = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJQekNCOHFBREFnRUNBaEE="

DIFF = f"""\
Dry run summary:
Applied configuration without a reboot (skipped in dry-run).
Config diff:

--- a
+++ b
@@ -1,7 +1,7 @@
 version: v1alpha1
 machine:
-    token: abcdef.0123456789abcdef
+    token: ghijkl.0123456789abcdef
     ca:
         crt: {PEM_CRT}
-        key: {PEM_KEY}
+        key: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUZ=
     certSANs: []
@@ -40,6 +40,6 @@
             - 10.96.0.0/12
         dnsDomain: cluster.local
-    id: b2xkLWNsdXN0ZXItaWQtb2xkLWNsdXN0ZXItaWQ=
-    secret: b2xkLXNlY3JldC1vbGQtc2VjcmV0
+    id: bmV3LWNsdXN0ZXItaWQ=
+    secret: bmV3LXNlY3JldA==
     apiServer:
         image: registry.k8s.io/kube-apiserver:v1.35.0
@@ -60,7 +60,7 @@
     serviceAccount:
-        key: {PEM_KEY}
+        key: bmV3LXNlcnZpY2UtYWNjb3VudA==
     secretboxEncryptionSecret: c2VjcmV0Ym94LW9sZA==
 ---
 apiVersion: v1alpha1
 kind: HostnameConfig
-auto: stable
+auto: off
"""


def test_a_diff_masks_secret_paths_on_both_sides_whatever_their_values() -> None:
    shown = redact(DIFF, ())
    for secret in ("abcdef.0123", "ghijkl.0123", PEM_KEY, "LS0tLS1CRUdJTiBFQy", "b2xkLWNs",
                   "b2xkLXNl", "bmV3", "c2VjcmV0Ym94"):
        assert secret not in shown
    lines = shown.splitlines()
    for field in ("token", "key", "id", "secret"):
        assert any(re.fullmatch(rf"-\s+{field}: {MASK}", line) for line in lines), field
        assert any(re.fullmatch(rf"\+\s+{field}: {MASK}", line) for line in lines), field
    # A hunk that starts below `cluster:` still masks `secretboxEncryptionSecret`; what
    # is not secret stays, certificates and headers included.
    assert f"     secretboxEncryptionSecret: {MASK}" in lines
    assert f"         crt: {PEM_CRT}" in lines
    assert "         image: registry.k8s.io/kube-apiserver:v1.35.0" in lines
    assert "@@ -40,6 +40,6 @@" in lines and "--- a" in lines
    assert len(lines) == len(DIFF.splitlines())


def test_yaml_documents_and_bundles_are_masked_by_path() -> None:
    text = (
        "version: v1alpha1\ncluster:\n  id: c2VjcmV0LWlk\n  network:\n    id: kept-id\n"
        "  ca: {crt: public-crt, key: private-key}\n"
        "  inlineManifests:\n    - name: x\n      contents: |\n        kind: ConfigMap\n"
        "  passphrase: |-\n    line-one\n    line-two\n  next: shown\n"
        "---\nsecrets:\n  bootstraptoken: abc.def\n  aescbcencryptionsecret: c2Vj\n"
        "trustdinfo:\n  token: ghi.jkl\nmachine:\n  registries:\n    config:\n"
        "      r.io:\n        auth:\n          username: me\n          password: hunter22\n"
    )
    assert redact_by_meaning(text) == (
        f"version: v1alpha1\ncluster:\n  id: {MASK}\n  network:\n    id: kept-id\n"
        f"  ca: {{crt: public-crt, key: {MASK}}}\n"
        "  inlineManifests:\n    - name: x\n      contents: |\n        kind: ConfigMap\n"
        f"  passphrase: |-\n    {MASK}\n    {MASK}\n  next: shown\n"
        f"---\nsecrets:\n  bootstraptoken: {MASK}\n  aescbcencryptionsecret: {MASK}\n"
        f"trustdinfo:\n  token: {MASK}\nmachine:\n  registries:\n    config:\n"
        f"      r.io:\n        auth:\n          username: me\n          password: {MASK}\n"
    )


def test_a_private_key_is_masked_anywhere_in_prose_and_a_certificate_is_not() -> None:
    line = f"rpc error: bad value {PEM_KEY} (see {PEM_CRT})"
    assert redact_by_meaning(line) == f"rpc error: bad value {MASK} (see {PEM_CRT})"
    assert redact_by_meaning("Applied configuration without a reboot") == (
        "Applied configuration without a reboot")


def test_a_redactor_reads_the_bundle_once_and_without_a_key_still_masks_by_meaning() -> None:
    calls: list[int] = []

    def values() -> frozenset[str]:
        calls.append(1)
        raise SecretsError("no key")

    hide = Redactor(values)
    assert hide("machine:\n  token: abc.def\n") == f"machine:\n  token: {MASK}\n"
    assert hide("other") == "other"
    assert calls == [1]
    error = hide.error(SecretsError(f"node said {PEM_KEY}"))
    assert str(error) == f"node said {MASK}" and isinstance(error, SecretsError)
    known = Redactor(lambda: frozenset({"bundle-value-1"}))
    assert known("x bundle-value-1 y") == f"x {MASK} y"


@pytest.mark.e2e
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


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_create_bundle_follows_the_example_sops_yaml(fresh: tuple[Path, str]) -> None:
    root, recipient = fresh
    example = (REPO / ".sops.yaml.example").read_text()
    rule = re.sub(r"age: age1\w+", f"age: {recipient}", example)
    (root / ".sops.yaml").write_text(rule)
    cluster = load_cluster_file(root / "cluster.yaml")
    target = create_bundle(cluster, talosctl=FakeSecretsTool())
    assert recipient in target.read_text()
    assert yaml.safe_load(decrypt(target, root / "age.key"))["cluster"]["id"]


@pytest.mark.e2e
def test_create_bundle_refuses_to_replace_an_existing_bundle(tmp_path: Path) -> None:
    root = pitower_project(tmp_path)
    before = (root / "secrets.sops.yaml").read_bytes()
    cluster = load_cluster_file(root / "cluster.yaml")
    tool = FakeSecretsTool()
    with pytest.raises(SecretsError, match="already exists: refusing to replace it"):
        create_bundle(cluster, talosctl=tool, recipients=["age1whatever"])
    assert tool.calls == []
    assert (root / "secrets.sops.yaml").read_bytes() == before


@pytest.mark.e2e
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


@pytest.mark.e2e
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
    saved, runtime = tempfile.tempdir, os.environ.get("XDG_RUNTIME_DIR")
    tempfile.tempdir = str(folder)
    os.environ["XDG_RUNTIME_DIR"] = str(folder)  # private folders go there first
    try:
        yield folder
    finally:
        tempfile.tempdir = saved
        if runtime is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = runtime


@pytest.mark.e2e
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


PLACEHOLDER = "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"


@pytest.mark.e2e
def test_the_example_placeholder_is_refused_given_or_from_sops_yaml(
    fresh: tuple[Path, str]
) -> None:
    root, _ = fresh
    assert PLACEHOLDER in (REPO / ".sops.yaml.example").read_text()
    cluster = load_cluster_file(root / "cluster.yaml")
    tool = FakeSecretsTool()
    with pytest.raises(SecretsError, match=r"placeholder of \.sops\.yaml\.example"):
        create_bundle(cluster, talosctl=tool, recipients=[PLACEHOLDER])
    assert tool.calls == []
    shutil.copy(REPO / ".sops.yaml.example", root / ".sops.yaml")
    with pytest.raises(SecretsError, match=r"\.sops\.yaml: recipient age1qyqs.* placeholder"):
        create_bundle(cluster, talosctl=tool)
    assert not (root / "secrets.sops.yaml").exists()


def test_a_mistyped_recipient_is_refused_by_its_checksum(fresh: tuple[Path, str]) -> None:
    root, recipient = fresh
    typo = recipient[:10] + ("q" if recipient[10] != "q" else "p") + recipient[11:]
    cluster = load_cluster_file(root / "cluster.yaml")
    with pytest.raises(SecretsError, match="checksum is wrong"):
        create_bundle(cluster, talosctl=FakeSecretsTool(), recipients=[typo])


def test_a_bundle_the_key_at_hand_cannot_open_is_removed_unless_no_verify(
    fresh: tuple[Path, str], tmp_path: Path
) -> None:
    root, _ = fresh
    _, someone_else = age_identity(tmp_path, "other.key")
    cluster = load_cluster_file(root / "cluster.yaml")
    with pytest.raises(SecretsError, match=r"age key you have .*age\.key\) cannot open"):
        create_bundle(cluster, talosctl=FakeSecretsTool(), recipients=[someone_else])
    assert not (root / "secrets.sops.yaml").exists()
    target = create_bundle(cluster, talosctl=FakeSecretsTool(), recipients=[someone_else],
                           verify=False)
    assert is_encrypted(target)


def test_without_any_age_key_at_hand_nothing_is_verified(
    fresh: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = fresh
    _, someone_else = age_identity(tmp_path, "other.key")
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    cluster = load_cluster_file(root / "cluster.yaml")
    target = create_bundle(cluster, talosctl=FakeSecretsTool(), recipients=[someone_else])
    assert is_encrypted(target)


def test_secret_fields_quoted_inside_prose_are_masked_and_ordinary_words_are_not() -> None:
    line = ("worker-01.yaml is not valid: bad value: token: av0nlh.0hrjrqlbdfauvwrn; "
            "desc = failed: secret=abc123def, key: LS0tabc")
    assert redact_by_meaning(line) == (
        f"worker-01.yaml is not valid: bad value: token: {MASK}; "
        f"desc = failed: secret={MASK}, key: {MASK}")
    for ordinary in ("    description: a keyboard layout", "  monkey: banana",
                     "the token was refused", "tokens: 3",
                     "open /tmp/missing.key: no such file or directory"):
        assert redact_by_meaning(ordinary) == ordinary
