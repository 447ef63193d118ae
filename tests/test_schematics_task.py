"""`inv schematics` as a user meets it: the table, the drift report, --check, --file, --submit."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from invoke.context import Context
from invoke.exceptions import Exit
from sopskit import clean_environ, pitower_project, project_env

from talos.core.schematic import VANILLA_ID, canonical_yaml, load_schematic, schematic_id
from talos.tasks.schematics import compact_names, schematics

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PITOWER = SHARED / "reference" / "pitower"
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]

NODES = [
    ("worker-01", "controlplane", "amd"), ("worker-02", "controlplane", "amd"),
    ("worker-03", "controlplane", "amd"), ("worker-04", "worker", "intel"),
    ("worker-05", "worker", "intel"), ("worker-06", "worker", "intel"),
    ("worker-pi-01", "worker", "rpi-poe"), ("worker-pi-02", "worker", "rpi-poe"),
    ("worker-pi-03", "worker", "rpi-poe"),
]


def inv(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``inv`` in the project copy ``root``, none of the developer's TALOS_*/SOPS_* set."""
    return subprocess.run(
        [*INV, "--search-root", str(REPO), *args], cwd=root, capture_output=True, text=True,
        timeout=60, env=clean_environ(project_env(root)),
    )


def cluster_name(root: Path) -> str:
    """The name the copy's cluster file gives, read by PyYAML."""
    return str(yaml.safe_load((root / "cluster.yaml").read_text())["name"])


@pytest.fixture
def pitower_file(tmp_path: Path) -> Path:
    """A cluster file for the reference cluster, naming its files where they are."""
    if not PITOWER.is_dir():
        pytest.skip("reference cluster files not available")
    lines = [
        "name: pitower", "endpoint: https://192.168.0.200:6443", "talosVersion: v1.12.4",
        "kubernetesVersion: v1.35.0", "secrets: secrets.sops.yaml", "schematics:",
        *(f"  {n}: {PITOWER}/extensions/{n}.yaml" for n in ("amd", "intel", "rpi-poe")),
        "patches:", f"  all: [{PITOWER}/patches/general.patch]",
        f"  controlplane: [{PITOWER}/patches/controlplane.patch]", "nodes:",
        *(f"  - {{name: {name}, role: {role}, schematic: {klass}, "
          f"patches: [{PITOWER}/patches/nodes/{name}.patch]}}" for name, role, klass in NODES),
    ]
    path = tmp_path / "cluster.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(monkeypatch: pytest.MonkeyPatch, cluster_file: Path, **options: object) -> None:
    monkeypatch.setenv("TALOS_CLUSTER_FILE", str(cluster_file))
    schematics(Context(), **options)


@pytest.mark.e2e
def test_the_repository_cluster_shows_three_schematics_and_no_drift(tmp_path: Path) -> None:
    root = pitower_project(tmp_path)
    result = inv(root, "schematics", "--check")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    name = cluster_name(root)
    assert lines[0] == f"{name}: 3 schematics; installer images from factory.talos.dev"
    assert lines[1].split() == ["NAME", "FILE", "ID", "INSTALLER", "IMAGE", "NODES"]
    rows = {line.split()[0]: line.split() for line in lines[2:5]}
    assert rows["amd"][1] == "extensions/amd.yaml"
    assert rows["amd"][4] == "worker-01..03"
    assert rows["rpi-poe"][2] == "de94b242ed9a…"
    assert rows["rpi-poe"][3] == "installer/de94b242ed9a…:v1.12.4"
    assert rows["intel"][4] == "worker-04..06"
    assert "No drift" in result.stdout
    assert all(len(line) <= 100 for line in lines)


def test_the_reference_cluster_drift_is_reported_and_fails_the_check(
    monkeypatch: pytest.MonkeyPatch, pitower_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Exit) as caught:
        run(monkeypatch, pitower_file, check=True)
    assert caught.value.code == 1
    assert "drift: 6 nodes pin an installer image" in str(caught.value.message)
    out = capsys.readouterr().out
    assert "Drift: 6 nodes pin an installer image their schematic does not give" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if "patch " in line}
    assert sorted(rows) == [f"worker-0{i}" for i in range(1, 7)]
    assert rows["worker-01"][2:4] == ["f19ad7b4a5d2…", "fb80f6e04560…"]
    assert rows["worker-04"][2:4] == ["97bf8e92fc6b…", "17520144ed95…"]
    assert rows["worker-04"][4].endswith("extensions/intel.yaml")


def test_without_check_drift_is_reported_but_does_not_fail(
    monkeypatch: pytest.MonkeyPatch, pitower_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(monkeypatch, pitower_file)
    assert "Drift: 6 nodes" in capsys.readouterr().out


def test_file_prints_the_id_of_any_schematic_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("customization: {}\n")
    args = tmp_path / "args.yaml"
    args.write_text("customization:\n  extraKernelArgs: [noapic, nolapic]\n")
    schematics(Context(), file=[str(plain), str(args)])
    assert capsys.readouterr().out.splitlines() == [
        f"{VANILLA_ID}  {plain}",
        f"9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c  {args}",
    ]


@pytest.mark.e2e
def test_a_bad_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("customization:\n  systemExtension: {}\n")
    result = inv(pitower_project(tmp_path), "schematics", "--file", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {bad}:2: customization.systemExtension: unknown key 'systemExtension'; "
        "did you mean 'systemExtensions'?"
    )


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (["worker-01", "worker-02", "worker-03"], "worker-01..03"),
        (["worker-01", "worker-02"], "worker-01, worker-02"),
        (["worker-01", "worker-03", "worker-04", "worker-05", "cp"],
         "worker-01, worker-03..05, cp"),
        (["n9", "n10", "n11"], "n9, n10, n11"),
        ([], "-"),
    ],
)
def test_node_lists_are_shortened_to_ranges(names: list[str], shown: str) -> None:
    assert compact_names(names) == shown


# -- --submit against a local factory ----------------------------------------------------


@dataclass
class Seen:
    """What the local factory was asked: schematics posted, extension lists fetched."""

    posted: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)


@pytest.fixture
def local_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Seen]:
    """A factory on 127.0.0.1 that knows two extensions and registers any schematic."""
    from talos.core.schematic import parse_schematic, schematic_id

    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            names = ["siderolabs/util-linux-tools", "siderolabs/amd-ucode",
                     "siderolabs/amdgpu-firmware", "siderolabs/i915-ucode",
                     "siderolabs/intel-ucode"]
            seen.fetched.append(self.path)
            self.answer(200, [{"name": name} for name in names])

        def do_POST(self) -> None:
            text = self.rfile.read(int(self.headers["Content-Length"])).decode()
            seen.posted.append(text)
            self.answer(201, {"id": schematic_id(parse_schematic(text))})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    monkeypatch.setenv("TALOS_FACTORY_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def test_submit_registers_each_file_and_confirms_the_id(
    local_factory: Seen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TALOS_CLUSTER_FILE", str(REPO / "cluster.yaml"))
    amd = REPO / "extensions" / "amd.yaml"
    schematics(Context(), file=[str(amd)], submit=True)
    out = capsys.readouterr().out
    assert local_factory.posted == [canonical_yaml(load_schematic(amd))]
    assert f"{schematic_id(load_schematic(amd))} registered (the factory computes the same ID)" \
        in out


def test_submit_refuses_an_unknown_extension_before_registering(
    local_factory: Seen, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALOS_CLUSTER_FILE", str(REPO / "cluster.yaml"))
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "customization:\n  systemExtensions: {officialExtensions: [siderolabs/amd-ucod]}\n"
    )
    with pytest.raises(Exit) as caught:
        schematics(Context(), file=[str(typo)], submit=True)
    assert "siderolabs/amd-ucod (did you mean siderolabs/amd-ucode?)" in str(caught.value.message)
    assert "for Talos v1.12.4" in str(caught.value.message)
    assert local_factory.posted == []


def test_submit_registers_every_schematic_of_the_cluster(
    local_factory: Seen, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(monkeypatch, REPO / "cluster.yaml", submit=True)
    out = capsys.readouterr().out
    assert local_factory.posted == [
        canonical_yaml(load_schematic(REPO / "extensions" / f"{name}.yaml"))
        for name in ("amd", "intel", "rpi-poe")
    ]
    assert local_factory.fetched == ["/version/v1.12.4/extensions/official"]  # fetched once
    assert "Registering 3 schematics with http://127.0.0.1:" in out
    assert out.count("registered (the factory computes the same ID)") == 3


def test_pins_that_differ_in_more_than_the_schematic_are_spelled_out(tmp_path: Path) -> None:
    from talos.core.cluster import Cluster
    from talos.core.drift import Drift
    from talos.tasks.schematics import drift_report

    cluster = Cluster(
        path=tmp_path / "cluster.yaml", name="lab", endpoint="https://10.0.0.1:6443",
        talos_version="v1.12.4", kubernetes_version="v1.35.0",
        secrets_file=tmp_path / "s.sops.yaml", schematics={}, nodes=(),
    )
    sid = "a" * 64

    def drift(node: str, pinned: str, pinned_id: str | None, *differences: str) -> Drift:
        return Drift(
            node=node, patch=tmp_path / "patches" / f"{node}.patch", pinned=pinned,
            expected=f"factory.talos.dev/installer/{sid}:v1.12.4", pinned_id=pinned_id,
            expected_id=sid, schematic="plain", schematic_file=tmp_path / "plain.yaml",
            differences=differences,
        )

    report = drift_report(cluster, [
        drift("n1", f"factory.talos.dev/installer/{'b' * 64}:v1.12.4", "b" * 64, "schematic"),
        drift("n2", f"factory.talos.dev/installer/{sid}:v1.11.0", sid, "version"),
        drift("n3", "example.com/busybox:latest", None, "image"),
    ])
    lines = report.splitlines()
    assert lines[0] == "Drift: 3 nodes pin an installer image their schematic does not give"
    assert lines[2].split() == ["n1", "patches/n1.patch", "bbbbbbbbbbbb…", "aaaaaaaaaaaa…",
                                "plain.yaml"]
    assert lines[4].split()[2] == "-"
    assert "n2: the pin differs in version: factory.talos.dev/installer/aaaaaaaaaaaa…:v1.11.0" in (
        lines
    )
    assert "n3: the pin is not a Talos installer image: example.com/busybox:latest" in lines


@pytest.mark.e2e
def test_json_is_one_document_with_each_schematic_and_its_nodes(tmp_path: Path) -> None:
    root = pitower_project(tmp_path)
    result = inv(root, "schematics", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert sorted(document) == ["cluster", "drift", "registry", "schematics"]
    assert document["cluster"] == cluster_name(root)
    assert document["registry"] == "factory.talos.dev"
    assert document["drift"] == []
    by_name = {entry["name"]: entry for entry in document["schematics"]}
    assert sorted(by_name) == ["amd", "intel", "rpi-poe"]
    rpi = by_name["rpi-poe"]
    assert sorted(rpi) == ["file", "id", "installerImage", "name", "nodes", "talosVersion"]
    assert rpi["file"] == "extensions/rpi-poe.yaml"
    assert rpi["id"].startswith("de94b242ed9a") and len(rpi["id"]) == 64
    assert rpi["installerImage"] == f"factory.talos.dev/installer/{rpi['id']}:v1.12.4"
    assert rpi["nodes"] == ["worker-pi-01", "worker-pi-02", "worker-pi-03"]


def test_json_drift_keeps_exit_1_under_check_and_names_each_pin(
    monkeypatch: pytest.MonkeyPatch, pitower_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Exit) as caught:
        run(monkeypatch, pitower_file, check=True, json=True)
    assert caught.value.code == 1
    document = json.loads(capsys.readouterr().out)
    drift = {entry["node"]: entry for entry in document["drift"]}
    assert sorted(drift) == [f"worker-0{i}" for i in range(1, 7)]
    entry = drift["worker-04"]
    assert entry["pinnedId"].startswith("97bf8e92fc6b")
    assert entry["expectedId"].startswith("17520144ed95")
    assert entry["expected"] == f"factory.talos.dev/installer/{entry['expectedId']}:v1.12.4"
    assert entry["schematic"] == "intel"
    assert entry["schematicFile"].endswith("extensions/intel.yaml")
    assert entry["patch"].endswith("patches/nodes/worker-04.patch")
    assert "schematic" in entry["differences"]


def test_json_of_files_lists_each_path_and_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("customization: {}\n")
    schematics(Context(), file=[str(plain)], json=True)
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"files": [{"path": str(plain), "id": VANILLA_ID}]}
    assert f"{VANILLA_ID}  {plain}" in captured.err
