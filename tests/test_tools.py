"""Pinned talosctl and kubectl: downloaded from a local release site on 127.0.0.1,
checksum verified, cached per version, then used by the tasks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sopskit import VENV_BIN, pitower_project

from talos.adapters.command import Runner
from talos.adapters.tools import (
    Platform,
    any_cached,
    cached_binary,
    install,
    kubectl_download,
    parse_checksum,
    pinned_binary,
    talosctl_download,
)
from talos.errors import DownloadError

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]
LINUX = Platform("linux", "amd64")
PLATFORMS = ("linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64")

# A talosctl that is the stand-in (wherever it is copied to), and a kubectl that only
# knows its version.
FAKE_TALOSCTL = f'#!/bin/sh\nexec "{sys.executable}" "{REPO}/tests/bin/talosctl" "$@"\n'.encode()
FAKE_KUBECTL = (b"#!/bin/sh\n"
                b"echo '{\"clientVersion\": {\"gitVersion\": \"v1.35.0\"}}'\n")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ReleaseSite:
    """Both release sites, served from 127.0.0.1: files by path, requests seen."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    delay: float = 0.0

    @property
    def talos(self) -> str:
        return f"{self.url}/talos"

    @property
    def kubernetes(self) -> str:
        return f"{self.url}/k8s"

    def publish_talosctl(self, version: str, binary: bytes, *, listed: bytes | None = None
                         ) -> None:
        lines = []
        for name in PLATFORMS:
            self.files[f"/talos/{version}/talosctl-{name}"] = binary
            lines.append(f"{sha(binary if listed is None else listed)}  talosctl-{name}\n")
        lines.append(f"{sha(b'other')}  talos-amd64.iso\n")
        self.files[f"/talos/{version}/sha256sum.txt"] = "".join(lines).encode()

    def publish_kubectl(self, version: str, binary: bytes) -> None:
        for name in PLATFORMS:
            system, arch = name.split("-")
            path = f"/k8s/{version}/bin/{system}/{arch}/kubectl"
            self.files[path] = binary
            self.files[f"{path}.sha256"] = sha(binary).encode()


@pytest.fixture
def site() -> Iterator[ReleaseSite]:
    served = ReleaseSite()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            if served.delay:
                time.sleep(served.delay)
            body = served.files.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """The cache folder the downloads go to (the ``cache_dir`` setting)."""
    return tmp_path / "cache"


def test_download_urls_follow_the_release_sites() -> None:
    talos = talosctl_download("v1.12.4", LINUX, "https://github.com/siderolabs/talos/releases/"
                                                "download/")
    assert talos.url == ("https://github.com/siderolabs/talos/releases/download/v1.12.4/"
                         "talosctl-linux-amd64")
    assert talos.checksum_url.endswith("/v1.12.4/sha256sum.txt")
    kube = kubectl_download("v1.35.0", Platform("darwin", "arm64"), "https://dl.k8s.io/release")
    assert kube.url == "https://dl.k8s.io/release/v1.35.0/bin/darwin/arm64/kubectl"
    assert kube.checksum_url == kube.url + ".sha256"


def test_the_base_urls_are_the_public_sites_unless_given(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALOS_RELEASES_URL", "http://mirror/talos")  # settings read it, not this
    assert talosctl_download("v1.12.4", LINUX).url == (
        "https://github.com/siderolabs/talos/releases/download/v1.12.4/talosctl-linux-amd64")
    assert kubectl_download("v1.35.0", LINUX).url == (
        "https://dl.k8s.io/release/v1.35.0/bin/linux/amd64/kubectl")
    assert kubectl_download("v1.35.0", LINUX, "http://mirror/k8s/").url == (
        "http://mirror/k8s/v1.35.0/bin/linux/amd64/kubectl")


def test_checksum_files_of_both_shapes_are_read() -> None:
    listing = f"{'a' * 64}  talosctl-linux-arm64\n{'B' * 64}  talosctl-linux-amd64\n"
    assert parse_checksum(listing, "talosctl-linux-amd64", "x") == "b" * 64
    assert parse_checksum(f"{'c' * 64}\n", "", "x") == "c" * 64
    with pytest.raises(DownloadError, match=r"sha256sum\.txt has no sha256 for talosctl-darwin"):
        parse_checksum(listing, "talosctl-darwin-amd64", "http://site/sha256sum.txt")


def test_a_matching_binary_is_installed_executable_in_the_versioned_cache(
    site: ReleaseSite, cache: Path
) -> None:
    site.publish_talosctl("v1.12.4", FAKE_TALOSCTL)
    seen: list[tuple[int, int | None]] = []
    path = install(talosctl_download("v1.12.4", LINUX, site.talos), cache=cache,
                   progress=lambda done, total: seen.append((done, total)))
    assert path == cache / "talosctl-v1.12.4" / "talosctl"
    assert path.read_bytes() == FAKE_TALOSCTL
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert seen[-1] == (len(FAKE_TALOSCTL), len(FAKE_TALOSCTL))
    assert site.requests == ["/talos/v1.12.4/sha256sum.txt",
                             "/talos/v1.12.4/talosctl-linux-amd64"]
    assert list(path.parent.iterdir()) == [path]


def test_a_checksum_mismatch_installs_nothing(site: ReleaseSite, cache: Path) -> None:
    site.publish_talosctl("v1.12.4", b"#!/bin/sh\necho tampered\n", listed=FAKE_TALOSCTL)
    with pytest.raises(DownloadError) as caught:
        install(talosctl_download("v1.12.4", LINUX, site.talos), cache=cache)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("talosctl v1.12.4 (linux/amd64): checksum mismatch for "
                              f"{site.talos}/v1.12.4/talosctl-linux-amd64")
    assert message.endswith("nothing installed")
    folder = cached_binary("talosctl", "v1.12.4", cache).parent
    assert list(folder.iterdir()) == []  # no binary, no partial file


def test_a_missing_release_is_one_line_naming_the_404(site: ReleaseSite, cache: Path) -> None:
    with pytest.raises(DownloadError) as caught:
        install(kubectl_download("v1.99.0", LINUX, site.kubernetes), cache=cache)
    assert str(caught.value) == (
        f"kubectl v1.99.0 (linux/amd64): {site.kubernetes}/v1.99.0/bin/linux/amd64/"
        "kubectl.sha256 answered 404 Not Found; nothing installed (is the version published "
        "for this platform?)")
    assert not cached_binary("kubectl", "v1.99.0", cache).exists()


def test_a_binary_missing_beside_its_checksum_leaves_nothing(
    site: ReleaseSite, cache: Path
) -> None:
    site.publish_kubectl("v1.35.0", FAKE_KUBECTL)
    del site.files["/k8s/v1.35.0/bin/linux/amd64/kubectl"]
    with pytest.raises(DownloadError, match="kubectl answered 404"):
        install(kubectl_download("v1.35.0", LINUX, site.kubernetes), cache=cache)
    assert list(cached_binary("kubectl", "v1.35.0", cache).parent.iterdir()) == []


def test_a_site_that_does_not_answer_in_time_is_a_timeout(
    site: ReleaseSite, cache: Path
) -> None:
    site.publish_talosctl("v1.12.4", FAKE_TALOSCTL)
    site.delay = 1.0
    with pytest.raises(DownloadError, match=r"sha256sum\.txt timed out after 0\.2s; nothing "
                                            r"installed"):
        install(talosctl_download("v1.12.4", LINUX, site.talos), cache=cache, timeout=0.2)
    assert not cached_binary("talosctl", "v1.12.4", cache).exists()


@pytest.mark.e2e
def test_the_cached_binary_stands_in_only_for_a_missing_or_other_minor_talosctl(
    site: ReleaseSite, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Runner()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert pinned_binary("talosctl", "v1.12.4", runner, cache).binary is None  # nothing cached
    site.publish_talosctl("v1.12.4", FAKE_TALOSCTL)
    path = install(talosctl_download("v1.12.4", LINUX, site.talos), cache=cache)
    choice = pinned_binary("talosctl", "v1.12.4", runner, cache)
    assert choice.binary == str(path)
    assert choice.note == f"using talosctl v1.12.4 from {path} (no talosctl on PATH)"

    own = tmp_path / "own"
    own.mkdir()
    state = tmp_path / "state.json"
    monkeypatch.setenv("TALOSCTL_STANDIN_STATE", str(state))
    shutil.copy(path, own / "talosctl")
    monkeypatch.setenv("PATH", str(own))
    for version, stands_in in (("v1.11.3", True), ("v1.12.9", False)):
        state.write_text(json.dumps({"nodes": {}, "client_version": version}))
        choice = pinned_binary("talosctl", "v1.12.4", runner, cache)
        assert (choice.binary == str(path)) is stands_in, version
        if stands_in:
            assert choice.note.endswith("(talosctl on PATH is v1.11.3)")


def run_inv(root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*INV, "--search-root", str(REPO), *args], cwd=root,
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.slow
@pytest.mark.e2e
def test_install_then_tasks_run_with_the_cached_talosctl_and_say_so(
    site: ReleaseSite, tmp_path: Path
) -> None:
    root = pitower_project(tmp_path)
    path = os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"])
    if shutil.which("talosctl", path=path):
        pytest.skip("a talosctl on the system PATH would be used instead")
    site.publish_talosctl("v1.12.4", FAKE_TALOSCTL)
    site.publish_kubectl("v1.35.0", FAKE_KUBECTL)
    env = {key: value for key, value in os.environ.items()
           if key not in ("TALOSCTL", "TALOSCTL_STANDIN_STATE", "TALOSCTL_STANDIN_LOG")}
    env.update({
        "PATH": path, "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TALOS_RELEASES_URL": site.talos, "KUBERNETES_RELEASES_URL": site.kubernetes,
        "TALOS_CLUSTER_FILE": str(root / "cluster.yaml"),
        "SOPS_AGE_KEY_FILE": str(root / "age.key"),
        "TALOS_HOME": str(tmp_path / "talos-home"),
    })

    before = run_inv(root, "tools", "--json", env=env)
    assert before.returncode == 0, before.stderr
    assert {t["tool"]: t["using"] for t in json.loads(before.stdout)}["talosctl"] is None

    installed = run_inv(root, "tools.install", env=env)
    assert installed.returncode == 0, installed.stderr
    talosctl = tmp_path / "cache" / "talos-tasks" / "bin" / "talosctl-v1.12.4" / "talosctl"
    assert f"talosctl v1.12.4: checksum verified, installed as {talosctl}" in installed.stdout
    assert "kubectl v1.35.0: checksum verified" in installed.stdout
    again = run_inv(root, "tools.install", "--tool", "talosctl", env=env)
    assert f"talosctl v1.12.4: already in {talosctl}" in again.stdout

    report = run_inv(root, "tools", "--json", env=env)
    tools = {t["tool"]: t for t in json.loads(report.stdout)}
    assert tools["talosctl"]["wanted"] == "v1.12.4"
    assert tools["talosctl"]["using"] == str(talosctl)
    assert tools["talosctl"]["path"] == {"binary": None, "version": None}
    assert tools["kubectl"]["wanted"] == "v1.35.0"
    assert tools["kubectl"]["cached"] is not None

    generated = run_inv(root, "genconfig", env=env)
    assert generated.returncode == 0, generated.stderr
    assert f"note: using talosctl v1.12.4 from {talosctl} (no talosctl on PATH)" in \
        generated.stderr
    assert (root / "clusterconfig" / "worker-01.yaml").is_file()


@pytest.mark.e2e
def test_install_failures_exit_1_with_one_line(site: ReleaseSite, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "TALOS_RELEASES_URL": site.talos, "TALOS_CLUSTER_FILE": str(REPO / "cluster.yaml")}
    result = run_inv(REPO, "tools.install", "--tool", "talosctl", env=env)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: talosctl v1.12.4 (")
    assert "sha256sum.txt answered 404 Not Found; nothing installed" in line

    site.publish_talosctl("v1.12.4", b"#!/bin/sh\necho evil\n", listed=FAKE_TALOSCTL)
    result = run_inv(REPO, "tools.install", "--tool", "talosctl", env=env)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "checksum mismatch for" in line and line.endswith("nothing installed")
    folder = tmp_path / "cache" / "talos-tasks" / "bin" / "talosctl-v1.12.4"
    assert list(folder.iterdir()) == []
    result = run_inv(REPO, "tools.install", "--tool", "helm", env=env)
    assert result.returncode == 2
    assert "unknown tool 'helm': use talosctl or kubectl" in result.stderr


def test_addons_apply_with_the_cached_kubectl_when_path_has_another_minor(
    site: ReleaseSite, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from test_addons import ADDONS, calls, fake_tools

    from talos.adapters.tools import pinned_kubectl
    from talos.core.cluster import load_cluster_file
    from talos.ops.addons import apply_addons

    bin_dir, log = fake_tools(tmp_path, "kustomize", "helm", "kubectl")
    old = bin_dir / "kubectl"  # PATH's kubectl says it is v1.32
    old.write_text(old.read_text().replace(
        "import json, sys\n",
        "import json, sys\nif sys.argv[1:2] == ['version']:\n"
        "    print('{\"clientVersion\": {\"gitVersion\": \"v1.32.4\"}}'); sys.exit(0)\n", 1))
    monkeypatch.setenv("PATH", str(bin_dir))
    cluster = load_cluster_file(REPO / "cluster.yaml")
    assert pinned_kubectl(cluster, cache) is None  # nothing cached: PATH's, whatever it is
    site.publish_kubectl("v1.35.0", (bin_dir / "kubectl").read_bytes().replace(
        b'"tool": "kubectl"', b'"tool": "cached kubectl"'))
    cached = install(kubectl_download("v1.35.0", LINUX, site.kubernetes), cache=cache)
    kubectl = pinned_kubectl(cluster, cache)
    assert kubectl == str(cached)
    assert (f"note: using kubectl v1.35.0 from {cached} (kubectl on PATH is v1.32.4)"
            in capsys.readouterr().err)
    apply_addons(ADDONS, runner=Runner(), kubectl=kubectl)
    assert [call["tool"] for call in calls(log)] == ["kustomize", "cached kubectl"]


def test_download_progress_is_one_rewritten_line_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from talos.tasks.tools import terminal_progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert terminal_progress("talosctl") is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    show = terminal_progress("talosctl")
    assert show is not None
    for done in (0, 1_000_000, 1_000_001, 2_000_000):
        show(done, 2_000_000)
    err = capsys.readouterr().err
    assert err == ("\r  talosctl: 0.0 / 2.0 MB (0%)\r  talosctl: 1.0 / 2.0 MB (50%)"
                   "\r  talosctl: 2.0 / 2.0 MB (100%)\n")


@pytest.mark.e2e
def test_tools_shows_the_talosctl_named_by_the_variable_as_what_tasks_run(
    tmp_path: Path,
) -> None:
    named = tmp_path / "named" / "talosctl"
    named.parent.mkdir()
    named.write_bytes(FAKE_TALOSCTL)
    named.chmod(0o755)
    state = tmp_path / "state.json"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "TALOS_CLUSTER_FILE": str(REPO / "cluster.yaml"), "TALOSCTL": str(named),
           "TALOSCTL_STANDIN_STATE": str(state)}
    for version, fits in (("v1.12.9", True), ("v1.11.3", False)):
        state.write_text(json.dumps({"nodes": {}, "client_version": version}))
        table = run_inv(REPO, "tools", env=env)
        assert table.returncode == 0, table.stderr
        (row,) = [line for line in table.stdout.splitlines() if line.startswith("talosctl")]
        assert f"$TALOSCTL = {named} ({version}" in row
        assert ("fits" in row) is fits, row
        assert "missing" not in row and "inv tools.install" not in row
        report = run_inv(REPO, "tools", "--json", env=env)
        assert report.returncode == 0, report.stderr
        talosctl = {t["tool"]: t for t in json.loads(report.stdout)}["talosctl"]
        assert talosctl["using"] == str(named)
        assert talosctl["named"] == {"variable": "TALOSCTL", "binary": str(named),
                                     "version": version}
        assert talosctl["fits"] is fits

    gone = tmp_path / "gone" / "talosctl"
    report = run_inv(REPO, "tools", "--json", env={**env, "TALOSCTL": str(gone)})
    talosctl = {t["tool"]: t for t in json.loads(report.stdout)}["talosctl"]
    assert talosctl["using"] == str(gone)
    assert talosctl["named"]["version"] is None
    assert talosctl["fits"] is False
    table = run_inv(REPO, "tools", env={**env, "TALOSCTL": str(gone)})
    assert f"$TALOSCTL = {gone} (its version is unknown" in table.stdout


def test_any_cached_says_whether_the_cache_holds_the_tool_at_any_version(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    assert not any_cached("talosctl", cache)  # no cache folder yet
    (cache / "kubectl-v1.35.0").mkdir(parents=True)
    assert not any_cached("talosctl", cache)
    (cache / "talosctl-v1.12.4").mkdir()
    assert any_cached("talosctl", cache)
    assert any_cached("kubectl", cache)
