"""Schematics: strict parsing, the factory's canonical form and ID, installer images."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from yamlbackends import yaml_backend  # noqa: F401  (runs the module with each parser)

from talos.core import schematic as schematic_module
from talos.core.cluster import Cluster, Installer, Node, SchematicRef
from talos.core.goyaml import GoMap, GoTime
from talos.core.installer import VANILLA_ID, InstallerImage, installer_image, parse_installer_image
from talos.core.schematic import (
    MetaValue,
    Schematic,
    canonical_yaml,
    load_schematic,
    node_installer_image,
    parse_schematic,
    schematic_id,
    schematic_usage,
)
from talos.errors import SchematicError

pytestmark = pytest.mark.usefixtures("yaml_backend")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CONFORMANCE = SHARED / "conformance" / "schematics.yaml"
PITOWER = SHARED / "reference" / "pitower"


def conformance_vectors() -> list[dict[str, str]]:
    if not CONFORMANCE.is_file():
        return []
    return list(yaml.safe_load(CONFORMANCE.read_text()))


@pytest.mark.skipif(not CONFORMANCE.is_file(), reason="conformance vectors not available")
@pytest.mark.parametrize("vector", conformance_vectors(), ids=lambda v: v["name"])
def test_every_conformance_vector_gets_the_factory_id(vector: dict[str, str]) -> None:
    schematic = parse_schematic(vector["input"], vector["name"])
    assert schematic_id(schematic) == vector["id"]


@pytest.mark.skipif(not PITOWER.is_dir(), reason="reference cluster files not available")
def test_the_raspberry_pi_schematic_hashes_to_the_id_the_factory_gave_it() -> None:
    # The overlay's multi-line option makes this a real test of the literal block form.
    schematic = load_schematic(PITOWER / "extensions" / "rpi-poe.yaml")
    assert schematic_id(schematic) == (
        "de94b242ed9adec9def2581ffbf1e2d1873e42b17032771770d241dee54d7c00"
    )


def test_the_id_is_the_sha256_of_the_canonical_form() -> None:
    schematic = parse_schematic("customization: {extraKernelArgs: [quiet]}")
    text = canonical_yaml(schematic)
    assert text == "customization:\n    extraKernelArgs:\n        - quiet\n"
    assert schematic_id(schematic) == hashlib.sha256(text.encode()).hexdigest()


def test_comments_key_order_indentation_and_quoting_of_the_input_do_not_matter() -> None:
    a = parse_schematic(
        "# a comment\n"
        "customization:\n"
        "  systemExtensions:\n"
        "    officialExtensions: ['siderolabs/iscsi-tools', \"siderolabs/amd-ucode\"]\n"
        "  extraKernelArgs: [net.ifnames=0]\n"
        "overlay: {name: rpi_generic, image: siderolabs/sbc-raspberrypi}\n"
    )
    b = parse_schematic(
        "overlay:\n"
        "      image: siderolabs/sbc-raspberrypi\n"
        "      name: rpi_generic\n"
        "customization:\n"
        "      extraKernelArgs:\n"
        "      - net.ifnames=0\n"
        "      systemExtensions:\n"
        "        officialExtensions:\n"
        "        - siderolabs/iscsi-tools\n"
        "        - siderolabs/amd-ucode\n"
    )
    assert a == b
    assert canonical_yaml(a) == (
        "overlay:\n"
        "    image: siderolabs/sbc-raspberrypi\n"
        "    name: rpi_generic\n"
        "customization:\n"
        "    extraKernelArgs:\n"
        "        - net.ifnames=0\n"
        "    systemExtensions:\n"
        "        officialExtensions:\n"
        "            - siderolabs/iscsi-tools\n"
        "            - siderolabs/amd-ucode\n"
    )


def test_extension_order_is_kept_and_changes_the_id() -> None:
    one = parse_schematic("customization: {systemExtensions: {officialExtensions: [a/x, a/y]}}")
    two = parse_schematic("customization: {systemExtensions: {officialExtensions: [a/y, a/x]}}")
    assert one.official_extensions == ("a/x", "a/y")
    assert schematic_id(one) != schematic_id(two)


def test_every_field_is_written_in_the_factory_order() -> None:
    schematic = parse_schematic(
        "customization:\n"
        "  diskImage: {sectorSize: 4096}\n"
        "  secureboot: {includeWellKnownCertificates: yes, enrollKeys: force}\n"
        "  bootloader: SD-Boot\n"
        "  systemExtensions: {officialExtensions: [siderolabs/gvisor]}\n"
        "  meta: [{key: 0xa, value: '{}'}, {key: 12}]\n"
        "  extraKernelArgs: [vga=791]\n"
        "  embeddedMachineConfiguration: |\n"
        "    machine:\n"
        "      type: worker\n"
        "overlay:\n"
        "  options: {b: 1}\n"
    )
    assert canonical_yaml(schematic) == (
        "overlay:\n"
        '    image: ""\n'
        '    name: ""\n'
        "    options:\n"
        "        b: 1\n"
        "customization:\n"
        "    embeddedMachineConfiguration: |\n"
        "        machine:\n"
        "          type: worker\n"
        "    extraKernelArgs:\n"
        "        - vga=791\n"
        "    meta:\n"
        "        - key: 10\n"
        "          value: '{}'\n"
        "        - key: 12\n"
        '          value: ""\n'
        "    systemExtensions:\n"
        "        officialExtensions:\n"
        "            - siderolabs/gvisor\n"
        "    bootloader: sd-boot\n"
        "    secureboot:\n"
        "        enrollKeys: force\n"
        "        includeWellKnownCertificates: true\n"
        "    diskImage:\n"
        "        sectorSize: 4096\n"
    )


def test_empty_and_null_fields_are_omitted() -> None:
    schematic = parse_schematic(
        "overlay: {options: {}}\n"
        "customization:\n"
        "  bootloader: none\n"
        "  extraKernelArgs: [~]\n"
        "  meta: ~\n"
        "  secureboot: {includeWellKnownCertificates: false}\n"
        "  diskImage: {sectorSize: 0}\n"
        "  systemExtensions:\n"
    )
    assert canonical_yaml(schematic) == "customization: {}\n"
    assert schematic_id(schematic) == VANILLA_ID
    assert parse_schematic("~") == Schematic()


@pytest.mark.parametrize(
    ("argument", "written"),
    [
        ("quiet", "quiet"),
        ("'1'", '"1"'),
        ("1", '"1"'),
        ("true", '"true"'),
        ("on", "'on'"),  # YAML 1.1 booleans: single quotes (yaml/v4)
        ("0x10", '"0x10"'),
        ("1.0", '"1.0"'),
        ("~", "null"),  # a null item is dropped ...
        ("''", '""'),
        ("':'", "':'"),
        ("':x'", ":x"),
        ("'- x'", "'- x'"),
        ("'#x'", "'#x'"),
        ("2024-01-01", '"2024-01-01"'),
        ("'a\tb'", "'a\tb'"),  # (single quotes in the input keep the tab literally)
        ("console=ttyS0,115200n8", "console=ttyS0,115200n8"),
    ],
)
def test_kernel_arguments_are_quoted_as_go_quotes_them(argument: str, written: str) -> None:
    schematic = parse_schematic(f"customization:\n  extraKernelArgs:\n    - {argument}\n")
    text = canonical_yaml(schematic)
    if written == "null":
        assert text == "customization: {}\n"  # ... so nothing is left
    elif written == "'a\tb'":
        assert text.endswith('        - "a\\tb"\n')
    else:
        assert text.endswith(f"        - {written}\n")


def test_overlay_options_keep_go_types_and_sort_their_keys() -> None:
    schematic = parse_schematic(
        "overlay:\n"
        "  image: siderolabs/sbc-rockchip\n"
        "  name: turingrk1\n"
        "  options:\n"
        "    zeta: 2024-05-01\n"
        "    a10: 1.50\n"
        "    a2: [on, 'on', 0o17, ~]\n"
        "    1: one\n"
        "    nested: {2: two, b: x, a: 0x10}\n"
        "    text: |\n"
        "      line one\n"
        "      line two\n"
    )
    options = dict(schematic.overlay_options)
    assert options["zeta"] == GoTime("2024-05-01T00:00:00Z")
    assert options["a2"] == ("on", "on", 15, None)
    assert options["1"] == "one"  # options is a map[string]any: keys stay text
    assert options["nested"] == GoMap(((2, "two"), ("b", "x"), ("a", 16)))
    assert canonical_yaml(schematic) == (
        "overlay:\n"
        "    image: siderolabs/sbc-rockchip\n"
        "    name: turingrk1\n"
        "    options:\n"
        '        "1": one\n'
        "        a2:\n"
        "            - 'on'\n"
        "            - 'on'\n"
        "            - 15\n"
        "            - null\n"
        "        a10: 1.5\n"
        "        nested:\n"
        "            2: two\n"
        "            a: 16\n"
        "            b: x\n"
        "        text: |\n"
        "            line one\n"
        "            line two\n"
        "        zeta: 2024-05-01T00:00:00Z\n"
        "customization: {}\n"
    )


def test_meta_keys_are_bytes() -> None:
    assert parse_schematic("customization: {meta: [{key: 255, value: x}]}").meta == (
        MetaValue(255, "x"),
    )
    for bad in ("256", "-1", "'10'", "true"):
        with pytest.raises(SchematicError, match=r"customization\.meta\[0\]\.key"):
            parse_schematic(f"customization: {{meta: [{{key: {bad}, value: x}}]}}", "m.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customization:\n  systemExtension: {}\n",
         "x.yaml:2: customization.systemExtension: unknown key 'systemExtension'; "
         "did you mean 'systemExtensions'?"),
        ("customizations: {}\n", "x.yaml:1: customizations: unknown key 'customizations'"),
        ("owner: me\n", "x.yaml:1: owner: owner is set by the enterprise Image Factory only"),
        ("customization:\n  extraKernelArgs: quiet\n",
         "x.yaml:2: customization.extraKernelArgs: must be a list of strings, not `quiet`"),
        ("customization:\n  extraKernelArgs: [[a]]\n",
         "x.yaml:2: customization.extraKernelArgs[0]: expected a string, found a list"),
        ("customization: [a]\n", "x.yaml:1: customization: must be a mapping, not a list"),
        ("customization: {meta: [5]}\n", "x.yaml:1: customization.meta[0]: must be a mapping"),
        ("- a\n", "x.yaml:1: the schematic must be a mapping, not a list"),
        ("customization:\n  secureboot: {includeWellKnownCertificates: maybe}\n",
         "customization.secureboot.includeWellKnownCertificates: expected true or false"),
        # Go reads a quoted 'true' as a string, and a string is a bool only if it is a
        # YAML 1.1 word (yes, on, ...).
        ("customization:\n  secureboot: {includeWellKnownCertificates: 'true'}\n",
         "expected true or false, found the quoted string 'true'"),
        ("customization: {diskImage: {sectorSize: -512}}\n",
         "customization.diskImage.sectorSize: expected a whole number"),
        ("customization: {bootloader: lilo}\n",
         "customization.bootloader: 'lilo' is not one of none, dual-boot, sd-boot, grub"),
        ("customization: {}\ncustomization: {}\n",
         "x.yaml:2: customization: given twice; keep one"),
        ("overlay: {options: {a: 1, a: 2}}\n", "overlay.options: mapping key 'a' already"),
        ("customization: {extraKernelArgs: [!!int x]}\n", "cannot decode !!str `x` as a !!int"),
        ("customization:\n  <<: {extraKernelArgs: [a]}\n", "merge keys (<<) are not supported"),
        ("customization: {\n", "x.yaml:2: malformed YAML"),
        ("# nothing\n", "x.yaml: holds no YAML document"),
    ],
)
def test_a_bad_schematic_is_one_line_naming_file_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(SchematicError) as caught:
        parse_schematic(text, "x.yaml")
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_load_schematic_rereads_a_file_that_changed(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("customization: {}\n")
    assert schematic_id(load_schematic(path)) == VANILLA_ID
    path.write_text("customization: {extraKernelArgs: [quiet]}\n")
    os.utime(path, ns=(1, 2))  # a different mtime, even on a coarse clock
    assert load_schematic(path).extra_kernel_args == ("quiet",)
    with pytest.raises(SchematicError, match="no such schematic file"):
        load_schematic(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("installer", "factory.talos.dev/installer/abc:v1.12.4"),
        ("metal-installer", "factory.talos.dev/metal-installer/abc:v1.12.4"),
        ("metal-installer-secureboot", "factory.talos.dev/metal-installer-secureboot/abc:v1.12.4"),
    ],
)
def test_installer_image_forms(form: str, expected: str) -> None:
    assert installer_image("factory.talos.dev", "abc", "v1.12.4", form) == expected


def test_an_unknown_installer_form_is_refused() -> None:
    with pytest.raises(SchematicError, match="installer form 'iso'"):
        installer_image("factory.talos.dev", "abc", "v1.12.4", "iso")


def test_installer_references_are_taken_apart() -> None:
    sid = "a" * 64
    for form in ("installer", "metal-installer", "metal-installer-secureboot"):
        reference = f"registry.lan:5000/factory/{form}/{sid}:v1.12.4"
        image = parse_installer_image(reference)
        assert image == InstallerImage("registry.lan:5000/factory", form, sid, "v1.12.4")
        assert str(image) == reference
    pinned = parse_installer_image(f"factory.talos.dev/installer/{sid}:v1.12.4@sha256:{'b' * 64}")
    assert pinned is not None and pinned.schematic_id == sid
    stock = parse_installer_image("ghcr.io/siderolabs/installer:v1.11.0")
    assert stock is not None and stock.schematic_id == VANILLA_ID
    assert str(stock) == "ghcr.io/siderolabs/installer:v1.11.0"
    assert parse_installer_image("docker.io/library/busybox:latest") is None
    assert parse_installer_image(f"factory.talos.dev/installer/{sid[:-1]}:v1.12.4") is None


def make_cluster(root: Path, files: dict[str, str], nodes: list[Node]) -> Cluster:
    refs = {}
    for name, text in files.items():
        path = root / "extensions" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        refs[name] = SchematicRef(name=name, file=path)
    return Cluster(
        path=root / "cluster.yaml", name="lab", endpoint="https://10.0.0.1:6443",
        talos_version="v1.12.4", kubernetes_version="v1.35.0",
        secrets_file=root / "secrets.sops.yaml", schematics=refs, nodes=tuple(nodes),
        installer=Installer(registry="factory.example", form="metal-installer"),
    )


def test_a_node_runs_its_schematic_at_its_own_or_the_cluster_talos_version(
    tmp_path: Path,
) -> None:
    cluster = make_cluster(
        tmp_path, {"plain": "customization: {}\n"},
        [Node("cp-1", "controlplane", "10.0.0.2", "plain"),
         Node("w-1", "worker", None, "plain", talos_version="v1.13.0")],
    )
    assert node_installer_image(cluster, cluster.nodes[0]) == (
        f"factory.example/metal-installer/{VANILLA_ID}:v1.12.4"
    )
    assert node_installer_image(cluster, cluster.nodes[1]).endswith(f"{VANILLA_ID}:v1.13.0")


def test_schematic_usage_lists_a_schematic_once_per_talos_version_its_nodes_run(
    tmp_path: Path,
) -> None:
    cluster = make_cluster(
        tmp_path, {"plain": "customization: {}\n", "spare": "customization: {}\n"},
        [Node("cp-1", "controlplane", "10.0.0.2", "plain"),
         Node("w-1", "worker", None, "plain", talos_version="v1.13.0"),
         Node("w-2", "worker", None, "plain")],
    )
    uses = [(u.name, u.shown, u.talos_version, u.image, u.nodes) for u in schematic_usage(cluster)]
    image = f"factory.example/metal-installer/{VANILLA_ID}"
    assert uses == [
        ("plain", "extensions/plain.yaml", "v1.12.4", f"{image}:v1.12.4", ("cp-1", "w-2")),
        ("plain", "extensions/plain.yaml", "v1.13.0", f"{image}:v1.13.0", ("w-1",)),
        ("spare", "extensions/spare.yaml", "v1.12.4", f"{image}:v1.12.4", ()),
    ]


def test_a_schematic_id_is_computed_once_per_file_however_many_nodes_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = [Node(f"w-{i}", "worker", None, "plain" if i % 2 else "pi") for i in range(200)]
    cluster = make_cluster(
        tmp_path, {"plain": "customization: {}\n",
                   "pi": "customization: {extraKernelArgs: [quiet]}\n"},
        [Node("cp-1", "controlplane", "10.0.0.2", "plain"), *nodes],
    )
    emitted: list[Schematic] = []
    real = schematic_module.canonical_yaml

    def counting(schematic: Schematic) -> str:
        emitted.append(schematic)
        return real(schematic)

    monkeypatch.setattr(schematic_module, "canonical_yaml", counting)
    images = {node_installer_image(cluster, node) for node in cluster.nodes}
    schematic_usage(cluster)
    assert len(images) == 2
    assert len(emitted) == 2, len(emitted)


def test_a_broken_schematic_file_is_named_relative_to_the_cluster(tmp_path: Path) -> None:
    cluster = make_cluster(
        tmp_path, {"bad": "customization: {extensions: []}\n"},
        [Node("cp-1", "controlplane", "10.0.0.2", "bad")],
    )
    with pytest.raises(SchematicError, match=r"^extensions/bad\.yaml:1: customization\.extensions"):
        node_installer_image(cluster, cluster.nodes[0])


# The factory hands back canonical YAML (GET /schematics/<id>); posting that text again
# must give the same ID. Random text and values check that the emitter never writes a
# scalar that reads back as something else.
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\u2028\u2029"),
    max_size=12,
).filter(
    # Go writes such text as a literal block with an indentation indicator that does not
    # fit inside a list item: their canonical form is not valid YAML. Text that starts
    # with a tab is written as a literal block without an indicator, and every reader
    # (go-yaml's scanner as libyaml's) refuses a tab where the block's indentation is
    # still being detected: the factory could not read that canonical form back either.
    lambda text: not ("\n" in text and text[:1] in (" ", "\t", "\n", "\r", "\x85"))
)
_KEYS = _TEXT  # "<<" included: yaml/v4 quotes it, so it reads back as a string key
_SCALARS = (
    _TEXT | st.integers(-(2**63), 2**64 - 1) | st.booleans() | st.none()
    | st.floats(allow_nan=False)  # -0.0 is written "-0", which reads back as -0.0
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(_KEYS, inner, max_size=3).map(lambda d: GoMap(tuple(d.items()))),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    args=st.lists(_TEXT, max_size=4),
    options=st.dictionaries(_KEYS, _VALUES, max_size=4),
    meta=st.lists(st.tuples(st.integers(0, 255), _TEXT), max_size=2),
)
def test_the_canonical_form_reads_back_to_itself(
    args: list[str], options: dict[str, object], meta: list[tuple[int, str]]
) -> None:
    schematic = Schematic(
        overlay_name="board", overlay_options=tuple(options.items()),
        extra_kernel_args=tuple(args), meta=tuple(MetaValue(k, v) for k, v in meta),
    )
    text = canonical_yaml(schematic)
    again = parse_schematic(text, "canonical")
    assert again.extra_kernel_args == schematic.extra_kernel_args
    assert again.meta == schematic.meta
    assert canonical_yaml(again) == text


# Canonical bytes below are derived from the factory's struct (siderolabs/image-factory
# pkg/schematic: Owner, Overlay{Image, Name, Options}, Customization{ExtraKernelArgs,
# Meta{Key uint8, Value}, SystemExtensions{OfficialExtensions}, Bootloader, SecureBoot})
# and the emitter of go.yaml.in/yaml/v4 (indent 4; a block in a list item starts 2
# columns after the dash; anything else rounds up to the next multiple of 4).


def test_a_multi_line_meta_value_is_a_literal_block_under_its_key() -> None:
    schematic = parse_schematic(
        "customization:\n"
        "  meta:\n"
        "    - key: 0xa\n"
        "      value: |\n"
        "        machine:\n"
        "          network: {}\n"
    )
    assert canonical_yaml(schematic) == (
        "customization:\n"
        "    meta:\n"
        "        - key: 10\n"
        "          value: |\n"
        "            machine:\n"
        "              network: {}\n"
    )


@pytest.mark.parametrize("key", ["10", "0xa", "0XA", "0o12", "012", "1_0", "10.0", "!!int '10'"])
def test_every_spelling_of_a_meta_key_is_the_same_byte(key: str) -> None:
    schematic = parse_schematic(f"customization: {{meta: [{{key: {key}, value: foo}}]}}")
    assert schematic.meta == (MetaValue(10, "foo"),)
    assert schematic_id(schematic) == (
        "d308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f"
    )


def test_meta_entries_keep_their_order_and_an_empty_entry_is_key_zero() -> None:
    schematic = parse_schematic("customization: {meta: [{key: 12, value: b}, ~, {}, {key: 5}]}")
    assert canonical_yaml(schematic) == (
        "customization:\n"
        "    meta:\n"
        "        - key: 12\n"
        "          value: b\n"
        "        - key: 0\n"
        '          value: ""\n'
        "        - key: 5\n"
        '          value: ""\n'
    )


def test_extensions_are_neither_sorted_nor_deduplicated() -> None:
    schematic = parse_schematic(
        "customization:\n"
        "  systemExtensions:\n"
        "    officialExtensions: [siderolabs/zfs, siderolabs/amd-ucode, siderolabs/zfs]\n"
    )
    assert canonical_yaml(schematic).endswith(
        "        officialExtensions:\n"
        "            - siderolabs/zfs\n"
        "            - siderolabs/amd-ucode\n"
        "            - siderolabs/zfs\n"
    )


@pytest.mark.parametrize(
    ("argument", "written"),
    [
        # Plain unless the text would read back as something else: another type to
        # Go's resolver -> double quotes (the desolver, v3 preset); a YAML 1.1 boolean,
        # a base-60 number or "<<" -> single quotes (the v4 representer).
        ("'1.2.3'", "1.2.3"),
        ("'0x0a'", '"0x0a"'),
        ("'0o17'", '"0o17"'),
        ("'0b101'", '"0b101"'),
        ("'1_000'", '"1_000"'),
        ("'+1'", '"+1"'),
        ("'.5'", '".5"'),
        ("'1e3'", '"1e3"'),
        ("'12:30:00'", "'12:30:00'"),
        ("'.inf'", '".inf"'),
        ("'.NaN'", '".NaN"'),
        ("'True'", '"True"'),
        ("'FALSE'", '"FALSE"'),
        ("'y'", "'y'"),
        ("'No'", "'No'"),
        ("'OFF'", "'OFF'"),
        ("'Null'", '"Null"'),
        ("'~'", '"~"'),
        ("'<<'", "'<<'"),
        ("'2001-12-14t21:59:43.10-05:00'", '"2001-12-14t21:59:43.10-05:00"'),
        # The emitter's own checks move a plain candidate to single quotes.
        ("'-'", "'-'"),
        ("'?'", "'?'"),
        ("'? x'", "'? x'"),
        ("'?x'", "?x"),
        ("'x: y'", "'x: y'"),
        ("'x:y'", "x:y"),
        ("'!x'", "'!x'"),
        ("'&x'", "'&x'"),
        ("'*x'", "'*x'"),
        ("'%x'", "'%x'"),
        ("'|x'", "'|x'"),
        ("'>x'", "'>x'"),
        ("'`x'", "'`x'"),
        ("'{x}'", "'{x}'"),
        ("'x{y}'", "x{y}"),
        ("'...'", "'...'"),
        ("'it''s'", "it's"),
        ("'''x'", "'''x'"),
        ("' x'", "' x'"),
        ("'x '", "'x '"),
        # Text single quotes cannot hold goes double-quoted with Go's escapes.
        ('"a\\tb"', '"a\\tb"'),
        ('"\\x7f"', '"\\x7F"'),
        ('"\\u00a0x"', "\u00a0x"),
        ('"\\ufeffx"', '"\\uFEFFx"'),
        ('"\\U0001F600"', '"\\U0001F600"'),
        ('"\\x85"', '"\\N"'),
        ('"a\\rb"', '"a\\rb"'),
        # Unicode letters are printable: written as they are.
        ("ünïcødé", "ünïcødé"),
        ("'日本語'", "日本語"),
    ],
)
def test_kernel_arguments_quoting_follows_the_go_encoder_and_emitter(
    argument: str, written: str
) -> None:
    schematic = parse_schematic(f"customization:\n  extraKernelArgs:\n    - {argument}\n")
    assert canonical_yaml(schematic) == (
        f"customization:\n    extraKernelArgs:\n        - {written}\n"
    )


def test_a_bootloader_is_written_by_its_lower_case_name_before_secureboot() -> None:
    # imageropts.BootloaderKind: enumer -text; names none/dual-boot/sd-boot/grub, exact or
    # lower-cased match; "none" is the zero value, so omitempty drops it.
    schematic = parse_schematic(
        "customization: {secureboot: {includeWellKnownCertificates: true}, bootloader: GRUB}"
    )
    assert canonical_yaml(schematic) == (
        "customization:\n"
        "    bootloader: grub\n"
        "    secureboot:\n"
        "        includeWellKnownCertificates: true\n"
    )
    assert schematic_id(parse_schematic("customization: {bootloader: None}")) == VANILLA_ID
    for bad in ("''", "1", "true", "sdboot"):
        with pytest.raises(SchematicError, match=r"customization\.bootloader"):
            parse_schematic(f"customization: {{bootloader: {bad}}}", "b.yaml")


def test_an_overlay_with_only_options_still_writes_empty_image_and_name() -> None:
    schematic = parse_schematic("overlay: {options: {a: ~}}")
    assert canonical_yaml(schematic) == (
        "overlay:\n"
        '    image: ""\n'
        '    name: ""\n'
        "    options:\n"
        "        a: null\n"
        "customization: {}\n"
    )


def test_overlay_options_may_use_a_quoted_merge_key_text() -> None:
    schematic = parse_schematic("overlay: {name: rpi, image: sbc, options: {'<<': a}}")
    assert canonical_yaml(schematic) == (
        "overlay:\n"
        "    image: sbc\n"
        "    name: rpi\n"
        "    options:\n"
        "        '<<': a\n"
        "customization: {}\n"
    )


PUBLISHED = Path(__file__).resolve().parent / "data" / "schematics" / "published.yaml"


@pytest.mark.parametrize(
    "vector", yaml.safe_load(PUBLISHED.read_text()), ids=lambda v: v["name"]
)
def test_published_schematics_get_the_id_the_factory_gave_them(vector: dict[str, str]) -> None:
    schematic = parse_schematic(vector["input"], vector["name"])
    assert schematic_id(schematic) == vector["id"]


def test_a_file_with_a_byte_order_mark_and_crlf_line_ends_has_the_same_id(
    tmp_path: Path,
) -> None:
    path = tmp_path / "windows.yaml"
    path.write_bytes(
        "\ufeffcustomization:\r\n  extraKernelArgs:\r\n    - noapic\r\n    - nolapic\r\n"
        .encode()
    )
    assert schematic_id(load_schematic(path)) == (
        "9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c"
    )
    path.write_bytes(
        b"overlay:\r\n  name: x\r\n  image: y\r\n  options:\r\n    t: |\r\n      a\r\n"
    )
    assert load_schematic(path).overlay_options == (("t", "a\n"),)
