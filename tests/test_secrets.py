"""Secret values of the bundle, and redaction of text that might carry them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sopskit import decrypt, pitower_project, project_env

from talos.cluster import load_cluster_file
from talos.errors import SecretsError
from talos.secrets import MASK, bundle_values, redact, secret_values


def test_every_secret_string_of_the_bundle_is_collected() -> None:
    text = (
        "cluster:\n  id: abcdefghijkl\n  secret: mnopqrstuvwx\n"
        "certs:\n  os:\n    key: LS0tkey123\n"
    )
    assert bundle_values(text) == {"abcdefghijkl", "mnopqrstuvwx", "LS0tkey123"}


def test_short_strings_and_sops_metadata_are_not_secrets() -> None:
    text = "a: short\nb: a-long-enough-value\nsops:\n  mac: ENC[notasecret]\n"
    assert bundle_values(text) == {"a-long-enough-value"}


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
