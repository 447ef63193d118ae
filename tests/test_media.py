"""Boot media: which factory download boots each node (ISO, raw disk image, iPXE)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sopskit import clean_environ, pitower_project, project_env

from talos.core.cluster import load_cluster_file
from talos.core.media import boot_media, media_path, pxe_base
from talos.core.schematic import load_schematic, parse_schematic, schematic_id
from talos.errors import ClusterFileError

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]

PC = "customization:\n  systemExtensions: {officialExtensions: [siderolabs/intel-ucode]}\n"
BOARD = "overlay:\n  image: siderolabs/sbc-raspberrypi\n  name: rpi_generic\n"


def inv(root: Path, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """``inv`` in the project copy ``root``, none of the developer's TALOS_*/SOPS_* set."""
    return subprocess.run(
        [*INV, "--search-root", str(REPO), *args], cwd=root, capture_output=True, text=True,
        timeout=60, env=clean_environ({**project_env(root), **(env or {})}),
    )


def write_cluster(tmp_path: Path, schematics: str, *, form: str = "installer",
                  factory: str = "") -> Path:
    (tmp_path / "pc.yaml").write_text(PC)
    (tmp_path / "board.yaml").write_text(BOARD)
    extra = f"\n  factory: {factory}" if factory else ""
    path = tmp_path / "cluster.yaml"
    path.write_text(
        "name: lab\nendpoint: https://10.0.0.10:6443\ntalosVersion: v1.12.4\n"
        "kubernetesVersion: v1.35.0\nsecrets: s.yaml\n"
        f"installer:\n  form: {form}{extra}\n"
        f"schematics:\n{schematics}"
        "nodes:\n"
        "  - {name: cp-1, role: controlplane, ip: 10.0.0.11, schematic: pc}\n"
        "  - {name: pi-1, role: worker, schematic: board}\n"
        "  - {name: pi-2, role: worker, schematic: board, talosVersion: v1.12.5}\n"
    )
    return path


def test_pitower_gets_isos_for_the_pcs_and_raw_images_for_the_pis() -> None:
    cluster = load_cluster_file(REPO / "cluster.yaml")
    ids = {name: schematic_id(load_schematic(ref.file)) for name, ref in
           cluster.schematics.items()}
    entries = {entry.schematic: entry for entry in boot_media(cluster)}
    assert list(entries) == ["amd", "intel", "rpi-poe"]
    for name in ("amd", "intel"):
        assert entries[name].image_url == (
            f"https://factory.talos.dev/image/{ids[name]}/v1.12.4/metal-amd64.iso")
        assert entries[name].pxe_url == (
            f"https://pxe.talos.dev/pxe/{ids[name]}/v1.12.4/metal-amd64")
    pi = entries["rpi-poe"]
    assert pi.image_url == (
        f"https://factory.talos.dev/image/{ids['rpi-poe']}/v1.12.4/metal-arm64.raw.xz")
    assert pi.arch == "arm64" and pi.kind == "raw.xz"
    assert pi.installer == f"factory.talos.dev/installer/{ids['rpi-poe']}:v1.12.4"
    assert pi.nodes == ("worker-pi-01", "worker-pi-02", "worker-pi-03")
    assert entries["intel"].nodes == ("worker-04", "worker-05", "worker-06")


def test_selected_nodes_only_and_one_entry_per_talos_version(tmp_path: Path) -> None:
    cluster = load_cluster_file(write_cluster(
        tmp_path, "  pc: pc.yaml\n  board: board.yaml\n"))
    entries = boot_media(cluster, cluster.select(["pi-1", "pi-2"]))
    assert [(e.schematic, e.talos_version, e.nodes) for e in entries] == [
        ("board", "v1.12.4", ("pi-1",)), ("board", "v1.12.5", ("pi-2",)),
    ]
    assert entries[1].image_url.endswith("/v1.12.5/metal-arm64.raw.xz")


def test_a_declared_arch_wins_over_the_overlay_default(tmp_path: Path) -> None:
    cluster = load_cluster_file(write_cluster(
        tmp_path, "  pc: {file: pc.yaml, arch: arm64}\n  board: board.yaml\n"))
    assert cluster.schematics["pc"].arch == "arm64"
    assert cluster.schematics["board"].arch is None
    pc = boot_media(cluster, [cluster.node("cp-1")])[0]
    assert pc.image_url.endswith("/metal-arm64.iso")
    assert pc.pxe_url.endswith("/metal-arm64")


def test_an_unknown_arch_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write_cluster(tmp_path, "  pc: {file: pc.yaml, arch: x86}\n  board: board.yaml\n")
    with pytest.raises(ClusterFileError, match=r":9: schematics\.pc\.arch: arch 'x86' is not "
                                               r"one of amd64, arm64"):
        load_cluster_file(path)


def test_secure_boot_installers_get_secure_boot_media(tmp_path: Path) -> None:
    cluster = load_cluster_file(write_cluster(
        tmp_path, "  pc: pc.yaml\n  board: board.yaml\n", form="metal-installer-secureboot"))
    pc, board, _ = boot_media(cluster)
    assert pc.secureboot
    assert pc.image_url.endswith("/v1.12.4/metal-amd64-secureboot.iso")
    assert pc.pxe_url.endswith("/v1.12.4/metal-amd64-secureboot")
    assert pc.installer.startswith("factory.talos.dev/metal-installer-secureboot/")
    assert board.image_url.endswith("/metal-arm64-secureboot.raw.xz")


def test_a_self_hosted_factory_serves_images_and_ipxe_scripts(tmp_path: Path) -> None:
    cluster = load_cluster_file(write_cluster(
        tmp_path, "  pc: pc.yaml\n  board: board.yaml\n", factory="https://factory.lan/"))
    pc = boot_media(cluster)[0]
    assert pc.image_url.startswith("https://factory.lan/image/")
    assert pc.pxe_url.startswith("https://factory.lan/pxe/")
    assert pxe_base("https://factory.talos.dev") == "https://pxe.talos.dev"
    other = boot_media(cluster, factory_url="http://127.0.0.1:9")[0]
    assert other.image_url.startswith("http://127.0.0.1:9/image/")


@pytest.mark.parametrize(("arch", "overlay", "secureboot", "path"), [
    ("amd64", False, False, "metal-amd64.iso"),
    ("arm64", True, False, "metal-arm64.raw.xz"),
    ("amd64", False, True, "metal-amd64-secureboot.iso"),
])
def test_media_paths(arch: str, overlay: bool, secureboot: bool, path: str) -> None:
    assert media_path(arch, overlay=overlay, secureboot=secureboot) == path


@pytest.mark.e2e
def test_inv_media_json_for_pitower(tmp_path: Path) -> None:
    root = pitower_project(tmp_path)
    result = inv(root, "media", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    by_node = {node: entry for entry in document for node in entry["nodes"]}
    assert len(by_node) == 9
    for node, entry in by_node.items():
        wanted = "metal-arm64.raw.xz" if node.startswith("worker-pi") else "metal-amd64.iso"
        assert entry["image"] == (f"https://factory.talos.dev/image/{entry['schematicId']}/"
                                  f"v1.12.4/{wanted}")
        assert entry["talosVersion"] == "v1.12.4"
    assert {e["schematic"]: e["schematicId"] for e in document} == {
        name: schematic_id(load_schematic(root / "extensions" / f"{name}.yaml"))
        for name in ("amd", "intel", "rpi-poe")
    }


@pytest.mark.e2e
def test_inv_media_for_one_node_in_text(tmp_path: Path) -> None:
    result = inv(pitower_project(tmp_path), "media", "--node", "worker-pi-02")
    assert result.returncode == 0, result.stderr
    assert "rpi-poe (arm64, Talos v1.12.4): worker-pi-02\n" in result.stdout
    assert "/v1.12.4/metal-arm64.raw.xz" in result.stdout
    assert "metal-amd64" not in result.stdout


@pytest.fixture
def factory_url() -> Iterator[tuple[str, list[str]]]:
    """A factory on 127.0.0.1 that registers any schematic and lists two extensions."""
    posted: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(201 if self.command == "POST" else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.answer([{"name": "siderolabs/util-linux-tools"}])

        def do_POST(self) -> None:
            text = self.rfile.read(int(self.headers["Content-Length"])).decode()
            posted.append(text)
            self.answer({"id": schematic_id(parse_schematic(text))})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", posted
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
def test_submit_registers_first_and_keeps_stdout_one_json_document(
    factory_url: tuple[str, list[str]], tmp_path: Path,
) -> None:
    url, posted = factory_url
    result = inv(pitower_project(tmp_path), "media", "--node", "worker-pi-01", "--submit",
                 "--json", env={"TALOS_FACTORY_URL": url})
    assert result.returncode == 0, result.stderr
    assert len(posted) == 1  # the one schematic the node uses
    assert "registered (the factory computes the same ID)" in result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["image"].startswith(f"{url}/image/{entry['schematicId']}/v1.12.4/")
