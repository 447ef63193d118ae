"""Hostile and malformed YAML: every input the tool reads is refused in one line naming
the file, whichever parser runs (libyaml or PyYAML's pure-Python classes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from talos.adapters.sops import require_encrypted
from talos.core import goyaml
from talos.core.cluster import load_cluster_file, parse_cluster
from talos.core.goyaml import reader
from talos.core.goyaml.reader import MAX_BYTES, MAX_DEPTH, YAMLInputError, safe_load, safe_load_all
from talos.core.merge import apply_patches, load_patch, load_patches, parse_config
from talos.core.merge.loading import line_marks
from talos.core.merge.yamlio import load_documents
from talos.core.schematic import load_schematic, parse_schematic
from talos.errors import ClusterFileError, CommandError, PatchError, SchematicError, SecretsError
from talos.ops.genconfig import fill_talosconfig
from talos.ops.secrets import bundle_values

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ["libyaml", "python"] if reader.LIBYAML else ["python"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a test with libyaml's parser and composer, then with PyYAML's pure Python."""
    monkeypatch.setattr(reader, "LIBYAML", request.param == "libyaml")
    yield str(request.param)


def laughs(levels: int = 12, width: int = 10) -> str:
    """An alias bomb: each level is a list of ``width`` aliases of the previous one."""
    lines = ["lol0: &lol0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        items = ", ".join([f"*lol{level - 1}"] * width)
        lines.append(f"lol{level}: &lol{level} [{items}]")
    return "\n".join(lines) + "\n"


def refused(call: Callable[[], Any], error: type[Exception]) -> str:
    """The one-line message ``call`` fails with; the time it took is printed for -s runs."""
    start = time.perf_counter()
    with pytest.raises(error) as info:
        call()
    print(f"refused in {time.perf_counter() - start:.3f}s: {info.value}")
    message = str(info.value)
    assert "\n" not in message, message
    return message


# -- the limits themselves ---------------------------------------------------------------


def test_an_alias_bomb_is_refused_like_go_yaml_refuses_it(backend: str) -> None:
    message = refused(lambda: safe_load(laughs()), YAMLInputError)
    assert "excessive aliasing" in message
    assert message.startswith("line ")


def test_moderate_aliasing_is_accepted(backend: str) -> None:
    # 50 aliases of a 20-entry map: 1000+ nodes, most of them through aliases, but the
    # document is small and go-yaml accepts it (ratio under 99%).
    base = "base: &b {" + ", ".join(f"k{i}: v{i}" for i in range(20)) + "}\n"
    text = base + "uses:\n" + "".join("  - *b\n" for _ in range(50))
    data = safe_load(text)
    assert len(data["uses"]) == 50
    assert data["uses"][49]["k19"] == "v19"


def test_the_alias_ratio_follows_go_yaml() -> None:
    assert reader.allowed_aliases(1000) == 0.99
    assert reader.allowed_aliases(400_000) == 0.99
    assert reader.allowed_aliases(4_000_000) == pytest.approx(0.10)
    assert reader.allowed_aliases(2_200_000) == pytest.approx(0.545)


def test_an_anchor_that_contains_itself_is_refused(backend: str) -> None:
    message = refused(lambda: load_documents("a: &a [1, *a]\n"), YAMLInputError)
    assert "refers to itself" in message


def test_text_over_the_size_limit_is_refused_before_parsing(backend: str) -> None:
    text = "a: b\n" * (MAX_BYTES // 5 + 1)
    assert "over the 10 MiB limit" in refused(lambda: safe_load(text), YAMLInputError)
    # multi-byte characters count as bytes
    wide = "é" * (MAX_BYTES // 2 + 1)
    assert "over the 10 MiB limit" in refused(lambda: safe_load(wide), YAMLInputError)


@pytest.mark.parametrize(("character", "name"), [("\x00", "NUL"), ("\x1b", "ESC"),
                                                  ("\x07", "a control character")])
def test_control_characters_are_named_with_their_line(backend: str, character: str,
                                                       name: str) -> None:
    message = refused(lambda: safe_load(f"a: 1\nb: x{character}y\n"), YAMLInputError)
    assert message.startswith(f"line 2, column 5: {name} (U+00")


def test_deep_nesting_is_refused(backend: str) -> None:
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    assert "nesting deeper than" in refused(lambda: safe_load(deep), YAMLInputError)
    assert "nesting deeper than" in refused(lambda: goyaml.compose(deep), YAMLInputError)
    block = "".join(" " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5))
    assert "nesting deeper than" in refused(lambda: load_documents(block), YAMLInputError)


def test_parser_errors_are_one_line_with_their_line(backend: str) -> None:
    message = refused(lambda: safe_load("a: 1\nb: [1, 2\nc: 3\n"), YAMLInputError)
    assert message.startswith("line ")
    message = refused(lambda: safe_load_all("a: 1\n---\nb: : :\n"), YAMLInputError)
    assert message.startswith("line 3")


# -- every input the tool reads ----------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "ext.yaml").write_text("customization: {}\n")
    (tmp_path / "all.patch").write_text("machine: {}\n")
    return tmp_path


CLUSTER = """\
name: lab
endpoint: https://10.0.0.10:6443
talosVersion: v1.12.4
kubernetesVersion: v1.35.0
secrets: secrets.sops.yaml
schematics:
  base: ext.yaml
nodes:
  - name: cp-1
    role: controlplane
    ip: 10.0.0.11
    schematic: base
"""


def test_an_alias_bomb_in_the_cluster_file_is_one_line(backend: str, tree: Path) -> None:
    path = tree / "cluster.yaml"
    path.write_text(CLUSTER + laughs())
    message = refused(lambda: load_cluster_file(path), ClusterFileError)
    assert message.startswith(f"{path}:") and "excessive aliasing" in message


def test_an_oversized_cluster_file_is_one_line(backend: str, tree: Path) -> None:
    path = tree / "cluster.yaml"
    path.write_text(CLUSTER + "#" * MAX_BYTES + "\n")
    message = refused(lambda: load_cluster_file(path), ClusterFileError)
    assert message.startswith(f"{path}: ") and "10 MiB" in message
    # text handed over already read is refused before it is parsed
    message = refused(lambda: parse_cluster(path.read_text(), path), ClusterFileError)
    assert "10 MiB" in message


def test_an_oversized_schematic_is_one_line(backend: str, tree: Path) -> None:
    path = tree / "big.yaml"
    path.write_text("customization: {}\n" + "#" * MAX_BYTES + "\n")
    message = refused(lambda: load_schematic(path, "big.yaml"), SchematicError)
    assert message.startswith("big.yaml: ") and "10 MiB" in message


@pytest.mark.parametrize(("character", "name"), [("\x00", "NUL"), ("\x1b", "ESC")])
def test_control_characters_in_the_cluster_file_name_file_and_line(
    backend: str, tree: Path, character: str, name: str
) -> None:
    path = tree / "cluster.yaml"
    path.write_text(CLUSTER.replace("name: lab", f"name: la{character}b"))
    message = refused(lambda: load_cluster_file(path), ClusterFileError)
    assert message.startswith(f"{path}:1: malformed YAML: {name} (U+00")


@pytest.mark.parametrize("key", ["[a, b]", "{a: b}"])
def test_a_key_that_is_not_a_name_is_one_line(backend: str, tree: Path, key: str) -> None:
    path = tree / "cluster.yaml"
    path.write_text(CLUSTER + f"installer:\n  {key}: 1\n")
    message = refused(lambda: load_cluster_file(path), ClusterFileError)
    assert message.startswith(f"{path}:14: installer: a key must be a plain name")
    assert "Node(" not in message


def test_an_alias_bomb_in_a_patch_file_is_one_line(backend: str, tree: Path) -> None:
    (tree / "bomb.patch").write_text("machine:\n  env:\n" + "".join(
        "    " + line + "\n" for line in laughs().splitlines()))
    message = refused(lambda: load_patch("@bomb.patch", base_dir=tree), PatchError)
    assert message.startswith("bomb.patch: invalid YAML at line ")
    assert "excessive aliasing" in message
    # with line marks kept for provenance (inv explain) too
    message = refused(lambda: load_patch("@bomb.patch", base_dir=tree, marks=True), PatchError)
    assert "excessive aliasing" in message
    assert line_marks(laughs()) == []


def test_an_oversized_patch_file_is_refused_unread(backend: str, tree: Path) -> None:
    (tree / "big.patch").write_text("machine: {}\n" + "#" * MAX_BYTES + "\n")
    message = refused(lambda: load_patch("@big.patch", base_dir=tree), PatchError)
    assert message.startswith("big.patch: the file is over the 10 MiB limit")


def test_an_oversized_encrypted_secrets_file_is_not_taken_for_sops(tmp_path: Path) -> None:
    path = tmp_path / "secrets.sops.yaml"
    path.write_text("sops: {mac: x}\n" + "#" * MAX_BYTES + "\n")
    with pytest.raises(SecretsError, match="over the 10 MiB limit"):
        require_encrypted(path, "secrets.sops.yaml")


@pytest.mark.parametrize("content", ["", "\n\n", "# nothing yet\n", "---\n# only a comment\n"])
def test_an_empty_or_comment_only_patch_file_is_one_line(backend: str, tree: Path,
                                                         content: str) -> None:
    (tree / "empty.patch").write_text(content)
    base = parse_config(
        "version: v1alpha1\nmachine: {}\n---\napiVersion: v1alpha1\nkind: HostnameConfig\n"
        "auto: stable\n", "base.yaml")
    patches = load_patches(["@empty.patch"], base_dir=tree)
    message = refused(lambda: apply_patches(base, patches), PatchError)
    assert message.startswith("empty.patch: the patch is empty")
    # talosctl takes it for an empty JSON patch: a single-document config is unchanged
    single = parse_config("version: v1alpha1\nmachine: {}\n", "base.yaml")
    assert apply_patches(single, patches).documents == single.documents


def test_an_alias_bomb_in_a_schematic_is_one_line(backend: str, tree: Path) -> None:
    (tree / "bomb.yaml").write_text(
        "customization:\n  extraKernelArgs: []\noverlay:\n  name: x\n  image: y\n  options:\n"
        + "".join("    " + line + "\n" for line in laughs().splitlines())
    )
    message = refused(lambda: load_schematic(tree / "bomb.yaml", "bomb.yaml"), SchematicError)
    assert message.startswith("bomb.yaml:") and "excessive aliasing" in message


def test_a_nul_in_a_schematic_names_file_and_line(backend: str) -> None:
    text = "customization:\n  extraKernelArgs:\n    - console=tty\x000\n"
    message = refused(lambda: parse_schematic(text, "ext.yaml"), SchematicError)
    assert message.startswith("ext.yaml:3") and "NUL (U+0000)" in message


def test_an_alias_bomb_in_the_secrets_bundle_is_one_line(backend: str) -> None:
    message = refused(lambda: bundle_values(laughs(), "secrets.sops.yaml"), SecretsError)
    assert message.startswith("secrets.sops.yaml does not decrypt to YAML: line ")


def test_an_alias_bomb_in_the_encrypted_secrets_file_is_not_taken_for_sops(
    backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "secrets.sops.yaml"
    path.write_text("sops: {mac: x}\n" + laughs())
    with pytest.raises(SecretsError, match=r"^secrets\.sops\.yaml is corrupt"):
        require_encrypted(path, "secrets.sops.yaml")


def test_an_alias_bomb_in_talosctl_output_is_one_line(backend: str) -> None:
    message = refused(
        lambda: parse_config(laughs(), "talosctl gen config (worker.yaml)"), PatchError
    )
    assert message.startswith("talosctl gen config (worker.yaml): invalid YAML at line ")
    message = refused(lambda: fill_talosconfig(laughs(), None), CommandError)  # type: ignore[arg-type]
    assert "talosconfig" in message and "excessive aliasing" in message


# -- both parsers give the same results --------------------------------------------------


def _all_yaml_inputs() -> list[Path]:
    files = [REPO / "cluster.yaml", *sorted((REPO / "extensions").glob("*.yaml")),
             *sorted((REPO / "patches").rglob("*.patch")),
             *sorted((REPO / "tests" / "data").rglob("*.yaml"))]
    return [path for path in files if path.is_file()]


def _results(path: Path) -> tuple[Any, ...]:
    text = path.read_text(encoding="utf-8")
    outcome: list[Any] = []
    for load in (load_documents, safe_load_all, goyaml.compose):
        try:
            value = load(text)
            outcome.append(_nodes(value) if isinstance(value, goyaml.Node) else repr(value))
        except (yaml.YAMLError, goyaml.GoYAMLError) as exc:
            outcome.append(f"error: {exc}")
    return tuple(outcome)


def _nodes(node: goyaml.Node) -> Any:
    return (node.kind, node.line, node.tag, node.style, node.value,
            [_nodes(item) for item in node.items])


def test_libyaml_and_pure_python_read_every_yaml_of_the_repository_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not reader.LIBYAML:
        pytest.skip("PyYAML was built without libyaml")
    files = _all_yaml_inputs()
    assert len(files) > 50, len(files)
    fast = {path: _results(path) for path in files}
    monkeypatch.setattr(reader, "LIBYAML", False)
    slow = {path: _results(path) for path in files}
    for path in files:
        assert fast[path] == slow[path], path


def test_the_cluster_file_reads_the_same_with_either_parser(backend: str) -> None:
    path = REPO / "cluster.yaml"
    cluster = load_cluster_file(path)
    declared = yaml.safe_load(path.read_text())  # PyYAML's reading: whatever the file says
    assert (cluster.name, cluster.endpoint) == (declared["name"], declared["endpoint"])
    assert [n.name for n in cluster.nodes] == [n["name"] for n in declared["nodes"]]
