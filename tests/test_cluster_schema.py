"""The cluster file's JSON Schema: shipped, referenced from cluster.yaml, generated from
the loader, and agreeing with the loader on every cluster file of the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from talos.core.cluster import parse_cluster
from talos.core.cluster_schema import REQUIRED, SCHEMA_FILE, build_schema, schema_text
from talos.errors import ClusterFileError

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "data" / "clusters"


def validator() -> jsonschema.protocols.Validator:
    schema = json.loads((REPO / SCHEMA_FILE).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)  # type: ignore[no-any-return]


def schema_accepts(text: str) -> bool:
    return validator().is_valid(yaml.safe_load(text))


def loader_accepts(text: str, path: Path) -> bool:
    try:
        parse_cluster(text, path)
    except ClusterFileError:
        return False
    return True


def corpus(folder: str) -> list[Path]:
    return sorted((CORPUS / folder).glob("*.yaml"))


def test_the_shipped_schema_is_the_one_the_loader_model_generates() -> None:
    assert (REPO / SCHEMA_FILE).read_text() == schema_text(), (
        "regenerate it: python -m talos.core.cluster_schema > cluster.schema.json")
    assert build_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_repository_cluster_file_names_the_schema_and_passes_it() -> None:
    text = (REPO / "cluster.yaml").read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_FILE}"
    errors = [e.message for e in validator().iter_errors(yaml.safe_load(text))]
    assert errors == []
    assert loader_accepts(text, REPO / "cluster.yaml")


@pytest.mark.parametrize("path", corpus("valid"), ids=lambda p: p.stem)
def test_valid_files_pass_both(path: Path) -> None:
    text = path.read_text()
    assert loader_accepts(text, path)
    errors = [e.message for e in validator().iter_errors(yaml.safe_load(text))]
    assert errors == []


@pytest.mark.parametrize("path", corpus("invalid"), ids=lambda p: p.stem)
def test_invalid_files_fail_both(path: Path) -> None:
    text = path.read_text()
    assert not loader_accepts(text, path)
    assert not schema_accepts(text)


@pytest.mark.parametrize("path", corpus("loader-only"), ids=lambda p: p.stem)
def test_what_a_schema_cannot_express_is_left_to_the_loader(path: Path) -> None:
    """Files that exist, defined schematics, unique names and IPs, a port's range, a key
    given twice: the schema lets these through, the loader refuses them."""
    text = path.read_text()
    assert not loader_accepts(text, path)
    assert schema_accepts(text)


def test_the_corpus_has_cases_of_every_kind() -> None:
    assert len(corpus("valid")) >= 4
    assert len(corpus("invalid")) >= 30
    assert len(corpus("loader-only")) >= 5


def without(document: dict[str, Any], *path: str | int) -> dict[str, Any]:
    copy: Any = json.loads(json.dumps(document))
    holder = copy
    for step in path[:-1]:
        holder = holder[step]
    del holder[path[-1]]
    return copy  # type: ignore[no-any-return]


def test_leaving_out_any_key_gets_the_same_verdict_from_both() -> None:
    path = CORPUS / "valid" / "everything.yaml"
    document = yaml.safe_load(path.read_text())
    cases: list[tuple[str | int, ...]] = [(key,) for key in document]
    cases += [("nodes", 0, key) for key in document["nodes"][0]]
    cases += [("installer", key) for key in document["installer"]]
    cases += [("schematics", "pi", key) for key in document["schematics"]["pi"]]
    verdicts = {}
    for case in cases:
        text = yaml.safe_dump(without(document, *case))
        loader, schema = loader_accepts(text, path), schema_accepts(text)
        assert loader == schema, f"without {case}: loader {loader}, schema {schema}"
        verdicts[case] = loader
    assert {case[0] for case, ok in verdicts.items() if not ok and len(case) == 1} == \
        set(REQUIRED)
    assert not verdicts[("nodes", 0, "role")]
    assert verdicts[("nodes", 0, "ip")]
