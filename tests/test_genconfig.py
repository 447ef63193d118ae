"""genconfig: the configs it writes, what makes it write them again, and every fault.

Most tests run in this process: talosctl is the stand-in, run in this process behind
the runner the adapter uses (``tests/inprocess.py``), and the bundle is "encrypted" by
:class:`FakeSops`, which keeps its plaintext in memory; no program is started. The
end-to-end tests (marked ``e2e``) go through the real sops with an age key made here,
the ``standin`` fixture, and ``inv``.

Every fault must give one line and leave ``clusterconfig/`` exactly as it was; no
plaintext of the secrets bundle may be left outside ``clusterconfig/``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import inprocess
import pytest
import yaml
from conftest import BIN, TALOSCTL, Standin
from sopskit import (
    age_identity,
    decrypt,
    encrypted_secrets,
    enter_project,
    is_encrypted,
    pitower_project,
    secrets_bundle,
    sops_path,
)

from talos.adapters import fileset, sops
from talos.adapters.sops import decrypt_file, require_encrypted
from talos.adapters.talosctl import Talosctl
from talos.core.cluster import Cluster, load_cluster_file
from talos.core.schematic import node_installer_image
from talos.errors import (
    ClusterFileError,
    CommandError,
    OutputError,
    PatchError,
    SecretsError,
    TalosError,
    ToolMissingError,
)
from talos.ops.client import talosctl_for
from talos.ops.genconfig import (
    STATE_FILE,
    Decrypter,
    GenerationReport,
    config_is_current,
    generate,
    record,
    version_skew,
)
from talos.ops.genconfig.record import Inputs
from talos.ops.secrets import bundle_values

REPO = Path(__file__).resolve().parents[1]
INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]
PITOWER = [
    "worker-01", "worker-02", "worker-03", "worker-04", "worker-05", "worker-06",
    "worker-pi-01", "worker-pi-02", "worker-pi-03",
]
CONTROLPLANES = PITOWER[:3]


class FakeSops:
    """sops in this process. :meth:`encrypt` writes a file shaped as sops writes one and
    keeps its plaintext here; decrypting gives it back. A file it did not write cannot be
    decrypted, as one encrypted for another key."""

    def __init__(self) -> None:
        self.plaintexts: dict[bytes, bytes] = {}
        self.decrypted = 0
        self.refuse = False

    def encrypt(self, target: Path, plaintext: str) -> None:
        mark = os.urandom(16).hex()
        value = f"ENC[AES256_GCM,data:{mark},type:str]"
        text = (f"bundle: {value}\nsops:\n    age:\n        - recipient: age1fake\n"
                f"          enc: fake\n    lastmodified: \"2026-12-02T08:00:00Z\"\n"
                f"    mac: {value}\n    version: 3.11.0\n")
        target.write_text(text, encoding="utf-8")
        self.plaintexts[text.encode()] = plaintext.encode()

    def __call__(self, path: Path, *, shown: str | None = None) -> bytes:
        assert not self.refuse, "nothing changed: the secrets need not be decrypted"
        self.decrypted += 1
        require_encrypted(path, shown)  # as the sops adapter does first
        try:
            return self.plaintexts[path.read_bytes()]
        except KeyError:
            raise SecretsError(f"sops cannot decrypt {shown}: not encrypted for this key"
                               ) from None


@dataclass
class Project:
    """A copy of the repository's cluster, the stand-in's handle, and how its runs
    decrypt the bundle: :class:`FakeSops`, or the real sops (None)."""

    root: Path
    temp: Path
    standin: Standin
    sops: FakeSops | None = None
    bundle: str = field(default="", repr=False)

    @property
    def cluster_file(self) -> Path:
        return self.root / "cluster.yaml"

    @property
    def output(self) -> Path:
        return self.root / "clusterconfig"

    def cluster(self) -> Cluster:
        return load_cluster_file(self.cluster_file)

    def talosctl(self, cluster: Cluster) -> Talosctl:
        return talosctl_for(cluster)

    @property
    def decrypt(self) -> Decrypter:
        return decrypt_file if self.sops is None else self.sops

    def generate(self, **options: Any) -> GenerationReport:
        cluster = self.cluster()
        return generate(cluster, talosctl=self.talosctl(cluster), decrypt=self.decrypt,
                        **options)

    def calls(self) -> list[list[str]]:
        return self.standin.calls()

    def encrypt_new_bundle(self) -> None:
        """New secrets, encrypted for the project's key."""
        target = self.root / "secrets.sops.yaml"
        if self.sops is None:
            encrypted_secrets(self.root, key_recipient(self))
        else:
            self.bundle = secrets_bundle()
            self.sops.encrypt(target, self.bundle)

    def documents(self, node: str) -> list[dict[str, Any]]:
        return list(yaml.safe_load_all((self.output / f"{node}.yaml").read_text()))

    def machine_config(self, node: str) -> dict[str, Any]:
        return next(d for d in self.documents(node) if "machine" in d)

    def snapshot(self) -> dict[str, tuple[bytes, int, int]]:
        """Every file of clusterconfig/: content, mode, modification time."""
        if not self.output.exists():
            return {}
        return {
            p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode), p.stat().st_mtime_ns)
            for p in sorted(self.output.iterdir())
        }

    def secret_values(self) -> frozenset[str]:
        if self.sops is None:
            return bundle_values(decrypt(self.root / "secrets.sops.yaml", self.root / "age.key"))
        return bundle_values(self.bundle)


def in_process_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A copy of the repository's cluster with a bundle of :class:`FakeSops`."""
    root = tmp_path.resolve() / "pitower"
    root.mkdir()
    shutil.copy2(REPO / "cluster.yaml", root / "cluster.yaml")
    for folder in ("patches", "extensions"):
        shutil.copytree(REPO / folder, root / folder)
    temp = enter_project(root, monkeypatch)
    home = tmp_path / "standin"
    home.mkdir()
    standin = Standin(home / "state.json", home / "calls.jsonl")
    # What the standin fixture sets (it would mark the test e2e): talosctl is the
    # stand-in, run in this process by the runner the code under test uses.
    monkeypatch.setenv("PATH", os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    monkeypatch.setenv("TALOSCTL", str(TALOSCTL))
    monkeypatch.setenv("TALOSCTL_STANDIN_STATE", str(standin.state_path))
    monkeypatch.setenv("TALOSCTL_STANDIN_LOG", str(standin.log_path))
    monkeypatch.setenv("TALOS_HOME", str(home / "talos-home"))
    monkeypatch.delenv("TALOSCONFIG", raising=False)
    inprocess.patch_runner(monkeypatch)
    standin.pitower()
    project = Project(root, temp, standin, FakeSops())
    project.encrypt_new_bundle()
    return project


@pytest.fixture
def project(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Project:
    """The cluster, run in process (no program started); for a test marked ``e2e``,
    with a bundle encrypted by the real sops and the stand-in as a program."""
    if request.node.get_closest_marker("e2e") is None:
        return in_process_project(tmp_path, monkeypatch)
    standin: Standin = request.getfixturevalue("standin")
    root = pitower_project(tmp_path)
    temp = enter_project(root, monkeypatch)
    standin.pitower()
    return Project(root, temp, standin)


def assert_no_plaintext_outside_clusterconfig(project: Project) -> None:
    values = project.secret_values()
    assert values
    assert list(project.temp.iterdir()) == [], "the private temp dir was left behind"
    for path in project.root.rglob("*"):
        if path.is_dir() or project.output in path.parents:
            continue
        text = path.read_text(errors="replace")
        leaked = [v for v in values if v in text]
        assert not leaked, f"{path} holds plaintext secrets"


# -- a full run --------------------------------------------------------------------------


def test_pitower_writes_nine_private_configs_and_a_talosconfig(project: Project) -> None:
    report = project.generate()
    assert report.written == PITOWER
    assert report.unchanged == []
    assert report.talosconfig_written
    names = sorted(p.name for p in project.output.iterdir())
    assert names == sorted([*(f"{n}.yaml" for n in PITOWER), "talosconfig", STATE_FILE])
    for path in project.output.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert stat.S_IMODE(project.output.stat().st_mode) == 0o700


def test_every_node_gets_its_installer_image_hostname_and_the_general_patch(
    project: Project,
) -> None:
    project.generate()
    cluster = project.cluster()
    for node in cluster.nodes:
        machine = project.machine_config(node.name)
        assert machine["machine"]["install"]["image"] == node_installer_image(cluster, node)
        hostname = [d for d in project.documents(node.name) if d.get("kind") == "HostnameConfig"]
        assert hostname == [
            {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off",
             "hostname": node.name}
        ]
        kubelet = machine["machine"]["kubelet"]
        assert kubelet["extraArgs"]["rotate-server-certificates"] in (True, "true")
        assert kubelet["extraConfig"]["imageGCHighThresholdPercent"] == 60
        assert machine["machine"]["features"]["hostDNS"] == {
            "enabled": True, "forwardKubeDNSToHost": False, "resolveMemberNames": True,
        }
        assert machine["cluster"]["network"]["cni"]["name"] == "none"
        assert machine["cluster"]["proxy"]["disabled"] is True
    # `auto: off` would be read back as a boolean by Talos' YAML: it must stay a string.
    assert 'auto: "off"' in (project.output / "worker-05.yaml").read_text()
    assert project.machine_config("worker-04")["machine"]["install"]["disk"] == "/dev/mmcblk0"


def test_control_planes_get_the_vip_scheduling_and_no_coredns(project: Project) -> None:
    project.generate()
    for name in PITOWER:
        config = project.machine_config(name)
        interfaces = config["machine"].get("network", {}).get("interfaces", [])
        vips = [i.get("vip", {}).get("ip") for i in interfaces]
        if name in CONTROLPLANES:
            assert config["machine"]["type"] == "controlplane"
            assert "192.168.0.200" in vips
            assert config["cluster"]["allowSchedulingOnControlPlanes"] is True
            assert config["cluster"]["coreDNS"]["disabled"] is True
        else:
            assert config["machine"]["type"] == "worker"
            assert "192.168.0.200" not in vips
            assert not config["cluster"].get("coreDNS", {}).get("disabled", False)


def test_node_patches_apply_to_their_node_only(project: Project) -> None:
    project.generate()
    taints = project.machine_config("worker-04")["machine"]["kubelet"]["extraConfig"]
    assert taints["registerWithTaints"][0]["value"] == "media-home"
    other = project.machine_config("worker-05")["machine"]["kubelet"]["extraConfig"]
    assert "registerWithTaints" not in other


def test_merge_order_is_derived_then_all_then_role_then_node(project: Project) -> None:
    patches = project.root / "patches"
    with (patches / "controlplane.patch").open("a") as f:
        f.write("machine:\n  features:\n    hostDNS:\n      forwardKubeDNSToHost: true\n")
    with (patches / "nodes" / "worker-01.patch").open("a") as f:
        f.write("  features:\n    hostDNS:\n      forwardKubeDNSToHost: false\n")
    (patches / "nodes" / "worker-pi-01.patch").write_text(
        "machine:\n  install:\n    image: registry.example/custom-installer:v1.12.4\n"
    )
    project.generate()

    def forward(node: str) -> bool:
        value = project.machine_config(node)["machine"]["features"]["hostDNS"]
        return bool(value["forwardKubeDNSToHost"])

    assert forward("worker-02") is True  # role patch over patches.all
    assert forward("worker-01") is False  # node patch over the role patch
    assert forward("worker-04") is False  # workers keep patches.all
    pi = project.machine_config("worker-pi-01")["machine"]["install"]["image"]
    assert pi == "registry.example/custom-installer:v1.12.4"  # node patch over derived


def test_talosconfig_has_the_control_planes_as_endpoints_and_the_nodes(
    project: Project,
) -> None:
    project.generate()
    talosconfig = yaml.safe_load((project.output / "talosconfig").read_text())
    context = talosconfig["contexts"][talosconfig["context"]]
    assert context["endpoints"] == ["192.168.0.201", "192.168.0.202", "192.168.0.203"]
    assert context["nodes"] == [
        "192.168.0.201", "192.168.0.202", "192.168.0.203", "192.168.0.204",
        "192.168.0.211", "192.168.0.212", "192.168.0.213",
    ]


def test_without_control_plane_addresses_the_talosconfig_points_at_the_endpoint(
    project: Project,
) -> None:
    text = project.cluster_file.read_text()
    for ip in ("192.168.0.201", "192.168.0.202", "192.168.0.203"):
        text = text.replace(f"    ip: {ip}\n", "")
    project.cluster_file.write_text(text)
    project.generate()
    talosconfig = yaml.safe_load((project.output / "talosconfig").read_text())
    context = talosconfig["contexts"][talosconfig["context"]]
    assert context["endpoints"] == ["192.168.0.200"]
    assert context["nodes"] == [
        "192.168.0.204", "192.168.0.211", "192.168.0.212", "192.168.0.213",
    ]


def test_no_plaintext_is_left_outside_clusterconfig(project: Project) -> None:
    project.generate()
    assert_no_plaintext_outside_clusterconfig(project)


def test_talosctl_gets_the_versions_and_the_secrets_explicitly(project: Project) -> None:
    project.generate()
    gen = [argv for argv in project.calls() if argv[:2] == ["gen", "config"]]
    assert len(gen) == 1
    argv = gen[0]
    assert argv[argv.index("--talos-version") + 1] == "v1.12.4"
    assert argv[argv.index("--kubernetes-version") + 1] == "v1.35.0"
    assert "--with-secrets" in argv
    assert not argv[argv.index("--with-secrets") + 1].startswith(str(project.root))


# -- incremental -------------------------------------------------------------------------


def test_a_second_run_writes_nothing_and_runs_neither_sops_nor_gen_config(
    project: Project,
) -> None:
    project.generate()
    before = project.snapshot()
    calls = len(project.calls())
    assert project.sops is not None
    project.sops.refuse = True  # nothing changed: the secrets need not be decrypted
    report = project.generate()
    assert report.nothing_to_do
    assert report.written == []
    assert report.unchanged == PITOWER
    assert project.snapshot() == before
    later = project.calls()[calls:]
    assert all(argv[:2] != ["gen", "config"] for argv in later)
    assert all(config_is_current(project.cluster(), n) for n in project.cluster().nodes)


def test_a_changed_node_patch_rewrites_that_node_only(project: Project) -> None:
    project.generate()
    before = project.snapshot()
    patch = project.root / "patches" / "nodes" / "worker-04.patch"
    patch.write_text(patch.read_text().replace("media-home", "media"))
    cluster = project.cluster()
    assert not config_is_current(cluster, cluster.node("worker-04"))
    assert config_is_current(cluster, cluster.node("worker-05"))
    report = project.generate()
    assert report.written == ["worker-04"]
    assert "patches/nodes/worker-04.patch" in report.reasons["worker-04"]
    assert not report.talosconfig_written
    after = project.snapshot()
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == [STATE_FILE, "worker-04.yaml"]


def test_a_changed_role_patch_rewrites_the_nodes_of_that_role(project: Project) -> None:
    project.generate()
    patch = project.root / "patches" / "controlplane.patch"
    patch.write_text(patch.read_text().replace("127.0.0.1", "10.0.0.1"))
    assert project.generate().written == CONTROLPLANES


def test_a_node_entry_of_the_cluster_file_rewrites_that_node_only(project: Project) -> None:
    project.generate()
    text = project.cluster_file.read_text()
    project.cluster_file.write_text(
        text.replace("installDisk: /dev/mmcblk0", "installDisk: /dev/sdb")
    )
    report = project.generate()
    assert report.written == ["worker-04"]
    assert "cluster.yaml" in report.reasons["worker-04"]
    assert project.machine_config("worker-04")["machine"]["install"]["disk"] == "/dev/sdb"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "written", "reason", "talosconfig"),
    [
        pytest.param("extensions/intel.yaml", "      - siderolabs/i915-ucode\n", "",
                     ["worker-04", "worker-05", "worker-06"], "extensions/intel.yaml", False,
                     id="a schematic's extensions"),
        pytest.param("cluster.yaml", "registry: factory.talos.dev", "registry: mirror.example",
                     PITOWER, "cluster.yaml (node worker-04)", False, id="the installer"),
        pytest.param("cluster.yaml", "kubernetesVersion: v1.35.0", "kubernetesVersion: v1.35.1",
                     PITOWER, "cluster.yaml (node worker-04)", True, id="kubernetes"),
        pytest.param("cluster.yaml", "ip: 192.168.0.213", "ip: 192.168.0.214", [], None, True,
                     id="a node's address: the talosconfig only"),
    ],
)
def test_each_input_rewrites_what_it_feeds(
    project: Project, file: str, old: str, new: str, written: list[str], reason: str | None,
    talosconfig: bool,
) -> None:
    project.generate()
    _edit(project.root / file, old, new)
    report = project.generate()
    assert report.written == written
    if reason is not None:
        assert reason in report.reasons["worker-04" if "worker-04" in written else written[0]]
    assert report.talosconfig_written is talosconfig


def test_a_patch_dropped_from_a_node_is_named_as_no_longer_used(project: Project) -> None:
    project.generate()
    (project.root / "patches" / "nodes" / "worker-04.patch").unlink()
    report = project.generate()
    assert report.written == ["worker-04"]
    assert "patches/nodes/worker-04.patch no longer used" in report.reasons["worker-04"]


def test_new_secrets_rewrite_every_node_and_the_talosconfig(project: Project) -> None:
    project.generate()
    project.encrypt_new_bundle()
    report = project.generate()
    assert report.written == PITOWER
    assert report.talosconfig_written


def test_force_rewrites_every_node(project: Project) -> None:
    project.generate()
    report = project.generate(force=True)
    assert report.written == PITOWER
    assert report.reasons["worker-01"] == "forced"


def test_nodes_limit_the_work(project: Project) -> None:
    cluster = project.cluster()
    report = project.generate(nodes=[cluster.node("worker-pi-02")])
    assert report.written == ["worker-pi-02"]
    assert sorted(p.name for p in project.output.glob("*.yaml")) == ["worker-pi-02.yaml"]
    assert (project.output / "talosconfig").exists()


def test_a_hand_edited_config_is_regenerated(project: Project) -> None:
    project.generate()
    path = project.output / "worker-06.yaml"
    path.write_text(path.read_text() + "# edited\n")
    report = project.generate()
    assert report.written == ["worker-06"]
    assert "by hand" in report.reasons["worker-06"]


def test_an_edit_that_keeps_the_size_and_time_of_a_config_is_noticed(project: Project) -> None:
    project.generate()
    path = project.output / "worker-05.yaml"
    before = path.stat()
    text = path.read_text()
    path.write_text(text.replace("worker-05", "worker-5x", 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    report = project.generate()
    assert report.written == ["worker-05"]
    assert "by hand" in report.reasons["worker-05"]
    assert path.read_text() == text


def test_a_config_replaced_by_a_folder_is_an_error_naming_it(project: Project) -> None:
    project.generate()
    path = project.output / "worker-04.yaml"
    path.unlink()
    path.mkdir()
    with pytest.raises(IsADirectoryError, match=r"worker-04\.yaml"):
        project.generate()


def test_dry_says_what_would_be_written_and_writes_nothing(project: Project) -> None:
    seen: list[tuple[str, str]] = []
    report = project.generate(dry=True, progress=lambda n, what: seen.append((n, what)))
    assert report.dry
    assert report.written == PITOWER
    assert not project.output.exists()
    assert [n for n, _ in seen] == PITOWER
    assert all(what.startswith("would write") for _, what in seen)
    assert all(argv[:2] != ["gen", "config"] for argv in project.calls())


def test_progress_is_reported_per_node(project: Project) -> None:
    seen: list[tuple[str, str]] = []
    project.generate(progress=lambda n, what: seen.append((n, what)))
    assert [n for n, _ in seen] == PITOWER
    assert all(what.startswith("generated") for _, what in seen)


# -- bad input and faults: one line, clusterconfig/ as it was ----------------------------


def fails_cleanly(
    project: Project, error: type[TalosError], match: str, *, check_tree: bool = True,
    **options: Any,
) -> str:
    before = project.snapshot()
    with pytest.raises(error, match=match) as caught:
        project.generate(**options)
    message = str(caught.value)
    assert "\n" not in message
    assert project.snapshot() == before
    assert list(project.temp.iterdir()) == []
    leftovers = [p.name for p in project.output.iterdir() if p.name.endswith(".tmp")] \
        if project.output.exists() else []
    assert leftovers == []
    if check_tree:
        assert_no_plaintext_outside_clusterconfig(project)
    return message


@pytest.mark.e2e
def test_sops_missing(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.generate()
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert sops.shutil.which("sops") is None
    fails_cleanly(project, ToolMissingError, "sops is not installed", force=True)


@pytest.mark.e2e
def test_the_wrong_key_leaves_the_previous_output_intact(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.generate()
    other, _ = age_identity(project.root.parent, "other.key")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(other))
    message = fails_cleanly(project, SecretsError, "sops cannot decrypt", force=True)
    assert "not one the file is encrypted for" in message


@pytest.mark.e2e
def test_no_key_says_so(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(project.root / "missing.key"))
    fails_cleanly(project, SecretsError, r"missing\.key: no such file")


def test_unencrypted_secrets_are_refused(project: Project) -> None:
    project.generate()
    (project.root / "secrets.sops.yaml").write_text(secrets_bundle())
    calls = len(project.calls())
    fails_cleanly(project, SecretsError, "secrets.sops.yaml is not encrypted by sops",
                  check_tree=False)
    assert project.calls()[calls:] == []


def test_a_malformed_patch_names_its_file_and_line(project: Project) -> None:
    project.generate()
    patch = project.root / "patches" / "nodes" / "worker-02.patch"
    patch.write_text("machine:\n  network:\n    interfaces: [\n")
    message = fails_cleanly(project, PatchError, "worker-02.patch")
    assert ":3" in message or "line 3" in message or ":4" in message or "line 4" in message


def test_a_patch_that_vanished_is_named(project: Project) -> None:
    cluster = project.cluster()
    (project.root / "patches" / "nodes" / "worker-03.patch").unlink()
    before = project.snapshot()
    with pytest.raises(PatchError, match=r"worker-03\.patch"):
        generate(cluster, talosctl=project.talosctl(cluster), decrypt=project.decrypt)
    assert project.snapshot() == before


def test_a_node_patch_that_does_not_exist_is_refused_with_its_line(project: Project) -> None:
    text = project.cluster_file.read_text()
    own = "    schematic: rpi-poe\n    patches: [patches/nodes/nope.patch]\n"
    project.cluster_file.write_text(text.replace("    schematic: rpi-poe\n", own, 1))
    with pytest.raises(ClusterFileError, match=r"cluster.yaml:\d+: .*nope\.patch"):
        project.cluster()


@pytest.mark.e2e
def test_talosctl_failing_gives_its_message(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project.generate()
    wrapper = tmp_path / "talosctl-failing"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = gen ]; then echo "failed to generate config bundle: disk on fire" >&2;'
        " exit 1; fi\n"
        f'exec "{os.environ["TALOSCTL"]}" "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("TALOSCTL", str(wrapper))
    fails_cleanly(project, CommandError, "disk on fire", force=True)


@pytest.mark.e2e
def test_talosctl_missing(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALOSCTL", str(project.root / "no-talosctl"))
    fails_cleanly(project, ToolMissingError, "talosctl")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_disk_or_read_only_output_changes_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    project.generate()
    real = fileset._write_new
    count = {"n": 0}

    def flaky(path: Path, data: bytes) -> None:
        count["n"] += 1
        if count["n"] == 4:
            raise OSError(code, os.strerror(code), str(path))
        real(path, data)

    monkeypatch.setattr(fileset, "_write_new", flaky)
    message = fails_cleanly(project, OutputError, os.strerror(code), force=True)
    assert "nothing in clusterconfig/ was changed" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_changes_nothing(project: Project) -> None:
    project.generate()
    project.output.chmod(0o500)
    try:
        fails_cleanly(project, OutputError, "clusterconfig", force=True)
    finally:
        project.output.chmod(0o700)


def test_an_output_path_that_is_a_file_is_refused(project: Project) -> None:
    project.output.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create clusterconfig/"):
        project.generate()


# -- validate ----------------------------------------------------------------------------


def test_validate_checks_each_node_with_talosctl(project: Project) -> None:
    project.generate(validate=True)
    checks = [argv for argv in project.calls() if argv[:1] == ["validate"]]
    assert len(checks) == len(PITOWER)
    assert all(argv[argv.index("--mode") + 1] == "metal" for argv in checks)
    assert list(project.temp.iterdir()) == []


def test_an_invalid_config_names_the_node(project: Project) -> None:
    patch = project.root / "patches" / "nodes" / "worker-pi-03.patch"
    patch.write_text("machine:\n  network:\n    hostname: clash\n")
    before = project.snapshot()
    with pytest.raises(CommandError, match="worker-pi-03") as caught:
        project.generate(validate=True)
    assert "\n" not in str(caught.value)
    assert project.snapshot() == before


# -- the task, as a user runs it ---------------------------------------------------------


def inv(project: Project, *args: str, env: dict[str, str] | None = None,
        program: bool = False) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` in the project: in this process (the stand-in too), or with ``program``
    as the programs themselves."""
    full_env = {**os.environ, **(env or {})}
    if not program:
        return inprocess.inv(["--search-root", str(REPO), *args], cwd=project.root,
                             env=full_env)
    return subprocess.run(
        [*INV, "--search-root", str(REPO), *args], cwd=project.root, capture_output=True,
        text=True, timeout=120, env=full_env,
    )


@pytest.mark.e2e
def test_inv_genconfig_writes_then_says_nothing_to_do(project: Project) -> None:
    first = inv(project, "genconfig", program=True)
    assert first.returncode == 0, first.stderr
    assert "Wrote 9 configs" in first.stdout
    assert "talosconfig" in first.stdout
    second = inv(project, "genconfig")
    assert second.returncode == 0, second.stderr
    assert "Nothing to do" in second.stdout
    assert list(project.temp.iterdir()) == []


@pytest.mark.e2e
def test_inv_genconfig_asks_talosctl_once_with_nothing_to_do(project: Project) -> None:
    # As a program: talosctl is started before the cluster file is read and answers
    # once, with the version every config is checked against.
    assert inv(project, "genconfig", program=True).returncode == 0
    calls = len(project.calls())
    again = inv(project, "genconfig", program=True)
    assert again.returncode == 0, again.stderr
    assert "Nothing to do" in again.stdout
    assert project.calls()[calls:] == [["version", "--client"]]


@pytest.mark.e2e
def test_inv_genconfig_with_a_broken_cluster_file_says_so_though_talosctl_was_asked(
    project: Project,
) -> None:
    cluster_file = project.root / "cluster.yaml"
    cluster_file.write_text(cluster_file.read_text() + "colour: blue\n")
    result = inv(project, "genconfig", program=True)
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "unknown key 'colour'" in result.stderr
    assert not project.output.exists()


@pytest.mark.e2e
def test_inv_genconfig_reads_the_key_from_dot_env(project: Project) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SOPS_AGE_KEY_FILE"}
    result = subprocess.run(
        [*INV, "--search-root", str(REPO), "genconfig", "--node", "worker-01"],
        cwd=project.root, capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "worker-01" in result.stdout


@pytest.mark.e2e
def test_inv_dry_genconfig_writes_nothing(project: Project) -> None:
    result = inv(project, "--dry", "genconfig")
    assert result.returncode == 0, result.stderr
    assert "would write" in result.stdout.lower()
    assert not project.output.exists()


@pytest.mark.e2e
def test_inv_genconfig_fault_is_one_line(project: Project) -> None:
    (project.root / "secrets.sops.yaml").write_text(secrets_bundle())
    result = inv(project, "genconfig")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "not encrypted by sops" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("damage", ["oversized", "merge-conflict"])
@pytest.mark.e2e
def test_inv_genconfig_calls_a_damaged_secrets_file_damaged_not_plaintext(
    project: Project, damage: str
) -> None:
    bundle = project.root / "secrets.sops.yaml"
    text = bundle.read_text()
    if damage == "oversized":
        bundle.write_text(text + "# " + "x" * (11 * 1024 * 1024) + "\n")
        expected = "secrets.sops.yaml is over the 10 MiB limit"
    else:
        bundle.write_text(f"<<<<<<< HEAD\n{text}=======\n{text}>>>>>>> theirs\n")
        expected = "secrets.sops.yaml is corrupt"
    result = inv(project, "genconfig")
    assert result.returncode == 1, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert expected in line
    assert "not encrypted by sops" not in line and "sops --encrypt" not in line
    assert "Traceback" not in result.stderr
    assert not project.output.exists()


@pytest.mark.e2e
def test_inv_secrets_init_refuses_to_overwrite(project: Project) -> None:
    before = (project.root / "secrets.sops.yaml").read_bytes()
    result = inv(project, "secrets.init", "--recipient", key_recipient(project))
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert (project.root / "secrets.sops.yaml").read_bytes() == before


@pytest.mark.e2e
def test_inv_secrets_init_creates_a_bundle_genconfig_can_use(project: Project) -> None:
    (project.root / "secrets.sops.yaml").unlink()
    result = inv(project, "secrets.init", "--recipient", key_recipient(project),
                 program=True)
    assert result.returncode == 0, result.stderr
    assert is_encrypted(project.root / "secrets.sops.yaml")
    assert list(project.temp.iterdir()) == []
    generated = inv(project, "genconfig")
    assert generated.returncode == 0, generated.stderr


# -- helpers -----------------------------------------------------------------------------


def key_recipient(project: Project) -> str:
    return (project.root / "age.key").read_text().split("public key: ")[1].split()[0]


@pytest.mark.slow
@pytest.mark.e2e
def test_sigterm_while_talosctl_runs_leaves_no_plaintext_behind(
    project: Project, tmp_path: Path
) -> None:
    project.generate()
    before = project.snapshot()
    slow = tmp_path / "talosctl-slow"
    # A talosctl that is still writing (MkdirAll, then a file) after it was signalled.
    slow.write_text(
        "#!/bin/sh\n"
        f'"{os.environ["TALOSCTL"]}" "$@" || exit 1\n'
        '[ "$1" = gen ] || exit 0\n'
        'while [ "$#" -gt 0 ]; do [ "$1" = --output ] && out="$2"; shift; done\n'
        'touch "$SLOW_MARK"; sleep 1\n'
        'mkdir -p "$out" && cp "$out/../secrets.yaml" "$out/late.yaml" 2>/dev/null\n'
        'echo late > "$out/late.txt"\n'
    )
    slow.chmod(0o755)
    mark = tmp_path / "gen-started"
    proc = subprocess.Popen(
        [*INV, "--search-root", str(REPO), "genconfig", "--force"], cwd=project.root,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TALOSCTL": str(slow), "SLOW_MARK": str(mark)},
    )
    deadline = time.monotonic() + 30
    while not mark.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    time.sleep(1.5)  # anything talosctl would still write has been written by now
    assert list(project.temp.iterdir()) == []
    assert project.snapshot() == before


def test_a_node_on_another_talos_version_gets_its_own_base_and_image(project: Project) -> None:
    text = project.cluster_file.read_text()
    project.cluster_file.write_text(text.replace(
        "  - name: worker-pi-03\n    role: worker\n",
        "  - name: worker-pi-03\n    role: worker\n    talosVersion: v1.11.5\n",
    ))
    project.generate()
    gen = [argv for argv in project.calls() if argv[:2] == ["gen", "config"]]
    assert sorted(argv[argv.index("--talos-version") + 1] for argv in gen) == [
        "v1.11.5", "v1.12.4"
    ]
    old = project.machine_config("worker-pi-03")
    assert old["machine"]["install"]["image"].endswith(":v1.11.5")
    # The v1.11 contract has no HostnameConfig: the hostname goes where v1.11 reads it.
    assert old["machine"]["network"]["hostname"] == "worker-pi-03"
    assert [d for d in project.documents("worker-pi-03") if d.get("kind")] == []
    assert project.machine_config("worker-pi-02")["machine"]["install"]["image"].endswith(
        ":v1.12.4"
    )


@pytest.mark.e2e
def test_configs_of_nodes_no_longer_declared_are_pointed_out(project: Project) -> None:
    project.generate()
    (project.output / "worker-07.yaml").write_text("old\n")
    report = project.generate()
    assert report.orphans == ["worker-07.yaml"]
    assert (project.output / "worker-07.yaml").exists()
    result = inv(project, "genconfig")
    assert "note: clusterconfig/worker-07.yaml belongs to no node of cluster.yaml" in (
        result.stdout
    )


@pytest.mark.e2e
def test_inv_dry_secrets_init_creates_nothing(project: Project) -> None:
    (project.root / "secrets.sops.yaml").unlink()
    result = inv(project, "--dry", "secrets.init", "--recipient", key_recipient(project))
    assert result.returncode == 0, result.stderr
    assert "would create secrets.sops.yaml" in result.stdout
    assert not (project.root / "secrets.sops.yaml").exists()
    assert all(argv[:2] != ["gen", "secrets"] for argv in project.calls())


def test_a_dry_run_reports_a_malformed_patch_too(project: Project) -> None:
    (project.root / "patches" / "general.patch").write_text("machine: [\n")
    with pytest.raises(PatchError, match=r"general\.patch"):
        project.generate(dry=True)
    assert not project.output.exists()


def test_a_new_talosctl_rewrites_every_node_and_says_why(project: Project) -> None:
    project.generate()
    project.standin.pitower(client_version="v1.12.5")
    report = project.generate()
    assert report.written == PITOWER
    assert "talosctl v1.12.4 -> v1.12.5" in report.reasons["worker-01"]


@pytest.mark.e2e
def test_inv_genconfig_warns_when_talosctl_is_of_another_minor_version(
    project: Project,
) -> None:
    project.standin.pitower(client_version="v1.13.0")
    result = inv(project, "genconfig", "--node", "worker-01")
    assert "warning: talosctl is v1.13.0 but the cluster runs v1.12.4" in result.stdout


def test_a_talosctl_of_another_minor_version_than_the_cluster_is_warned_about() -> None:
    cluster = load_cluster_file(Path(__file__).resolve().parents[1] / "cluster.yaml")
    assert cluster.talos_version == "v1.12.4"
    warning = version_skew(cluster, "v1.11.5")
    assert warning is not None
    assert "talosctl is v1.11.5 but the cluster runs v1.12.4" in warning
    assert "install talosctl v1.12" in warning
    assert version_skew(cluster, "v1.12.11") is None  # patch releases may differ


def test_files_every_node_shares_are_read_once_for_all_nodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = load_cluster_file(Path(__file__).resolve().parents[1] / "cluster.yaml")
    reads: Counter[str] = Counter()

    read_bytes = record.read_bytes

    def counted(path: Path | str) -> bytes:
        reads[Path(path).name] += 1
        return read_bytes(path)

    monkeypatch.setattr(record, "read_bytes", counted)
    known = Inputs(cluster, "v1.12.4")
    digests = [known.of(node) for node in cluster.nodes]
    assert reads["general.patch"] == 1
    assert reads["controlplane.patch"] == 1
    assert reads["secrets.sops.yaml"] == 1
    assert reads["worker-04.patch"] == 1
    assert len({d["patches/general.patch"] for d in digests}) == 1


# -- signals: no plaintext survives any ending but SIGKILL -------------------------------

STOPPING_SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]
# A terminal sends SIGINT (Ctrl-C), SIGQUIT (Ctrl-\) and SIGHUP (closed) to the whole
# foreground process group, the program running included; `kill` sends SIGTERM to us only.
TO_GROUP = {signal.SIGINT, signal.SIGQUIT, signal.SIGHUP}


def as_from_a_terminal() -> None:
    """The signal dispositions of a program started from a terminal: a suite run as a
    background job of a non-interactive shell has SIGINT and SIGQUIT ignored, and a
    program rightly keeps ignoring what it was started ignoring (as under nohup)."""
    for signum in STOPPING_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def slow_wrapper(path: Path, real: str, *, before: bool) -> Path:
    """``real`` behind a script that signals (touches $SLOW_MARK) and waits a second,
    before running it (``before``) or after (so its output is already on disk); not for
    ``talosctl version``, asked before anything is decrypted. A copy
    of what `talosctl gen secrets` wrote goes to $WITNESS, for the test to search for."""
    wait = 'case "$1" in version) ;; *) touch "$SLOW_MARK"; sleep 1;; esac\n'
    path.write_text(
        "#!/bin/sh\n"
        + (wait if before else "")
        + f'"{real}" "$@" || exit 1\n'
        + 'if [ "$1 $2" = "gen secrets" ]; then\n'
          '  while [ "$#" -gt 0 ]; do [ "$1" = --output-file ] && cp "$2" "$WITNESS"; shift;'
          " done\nfi\n"
        + ("" if before else wait)
    )
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("signum", STOPPING_SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("program", ["sops", "talosctl"])
@pytest.mark.parametrize("task", ["genconfig", "secrets.init"])
@pytest.mark.e2e
def test_a_signal_while_sops_or_talosctl_runs_leaves_no_secret_in_any_file(
    project: Project, tmp_path: Path, task: str, program: str, signum: int
) -> None:
    project.generate()
    before = project.snapshot()
    bin_dir = tmp_path / "slow-bin"
    bin_dir.mkdir()
    witness, mark = tmp_path / "witness.yaml", tmp_path / "started"
    env = {**os.environ, "SLOW_MARK": str(mark), "WITNESS": str(witness)}
    real_sops = sops.shutil.which("sops", path=sops_path())
    assert real_sops
    if program == "sops":
        slow_wrapper(bin_dir / "sops", real_sops, before=True)
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    else:
        env["TALOSCTL"] = str(slow_wrapper(bin_dir / "talosctl", env["TALOSCTL"], before=False))
    args = [task, "--force"] if task == "genconfig" else [task, "--recipient",
                                                         key_recipient(project)]
    bundle = project.root / "secrets.sops.yaml"
    if task == "secrets.init":
        bundle.unlink()
    proc = subprocess.Popen(
        [*INV, "--search-root", str(REPO), *args], cwd=project.root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )
    deadline = time.monotonic() + 60
    while not mark.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    if signum in TO_GROUP:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, stderr
    assert "was stopped by" in stderr and "Traceback" not in stderr
    time.sleep(0.2)
    assert list(project.temp.iterdir()) == []
    if task == "genconfig":
        assert project.snapshot() == before
        assert_no_plaintext_outside_clusterconfig(project)
    else:
        assert not bundle.exists()
        values = (bundle_values(witness.read_text()) if witness.exists()
                  else frozenset())
        for path in [*project.root.rglob("*"), *tmp_path.rglob("*")]:
            if path.is_file() and path != witness and project.output not in path.parents:
                text = path.read_text(errors="replace")
                assert not [v for v in values if v in text], path


# -- all or nothing: an interruption during the final writes of a large run ---------------

SWITCH_HOOK = """\
import os, sys, time
from pathlib import Path
from talos.adapters import fileset
from invoke.main import program

mark, phase, output = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
count = {"n": 0}

def reached(pause):
    count["n"] += 1
    if count["n"] == 500:
        mark.touch()
        time.sleep(pause)

if phase == "staging":
    write = fileset._write_new
    def hooked_write(path, data):
        write(path, data)
        reached(30)
    fileset._write_new = hooked_write
else:
    replace = os.replace
    def hooked_replace(source, target):
        replace(source, target)
        if str(target).startswith(output):
            reached(1 if phase == "switch" else 30)
    fileset.os.replace = hooked_replace
program.run(["inv", "--search-root", sys.argv[4], "genconfig"])
"""


def grow(root: Path, total: int) -> None:
    lines = [f"  - name: worker-x{i:04d}\n    role: worker\n    ip: 10.1.{i // 250}.{i % 250 + 1}\n"
             "    schematic: intel\n" for i in range(total - len(PITOWER))]
    with (root / "cluster.yaml").open("a", encoding="utf-8") as handle:
        handle.write("\n" + "".join(lines))


def mark_inputs(project: Project, value: int) -> None:
    """Change an input every node shares, so that every config changes with it."""
    patch = project.root / "patches" / "general.patch"
    text = re.sub(r"imageGCHighThresholdPercent: \d+", f"imageGCHighThresholdPercent: {value}",
                  patch.read_text())
    patch.write_text(text)


def consistent_set(project: Project, total: int) -> int:
    """The one value every config carries; fails unless the set is complete, its record
    vouches for every file and no temp file or staging folder is left."""
    state = json.loads((project.output / ".state.json").read_text())
    names = sorted(p.name for p in project.output.iterdir())
    assert [n for n in names if n.startswith(".") and n != ".state.json"] == []
    configs = [n for n in names if n.endswith(".yaml")]
    assert len(configs) == total
    values = set()
    for name in [*configs, "talosconfig"]:
        data = (project.output / name).read_bytes()
        key = name.removesuffix(".yaml")
        assert state["files"][key]["output"] == hashlib.sha256(data).hexdigest(), name
        found = re.search(rb"imageGCHighThresholdPercent: (\d+)", data)
        if found:
            values.add(int(found.group(1)))
    assert len(values) == 1, values
    return values.pop()


@pytest.mark.slow
@pytest.mark.e2e
def test_an_interruption_during_the_final_writes_of_1000_nodes_leaves_one_whole_set(
    project: Project, tmp_path: Path
) -> None:
    total = 1000
    grow(project.root, total)
    mark_inputs(project, 61)
    project.generate()
    assert consistent_set(project, total) == 61

    def run(phase: str, signum: int) -> subprocess.CompletedProcess[str]:
        mark = tmp_path / f"mark-{phase}"
        proc = subprocess.Popen(
            [sys.executable, "-c", SWITCH_HOOK, str(mark), phase, str(project.output),
             str(REPO)], cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    # Ctrl-C while the new files are being written: the old set stays, whole.
    mark_inputs(project, 62)
    stopped = run("staging", signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr
    assert "clusterconfig/ was left as it was" in stopped.stderr
    assert consistent_set(project, total) == 61
    # SIGTERM while they are being moved into place: the switch completes first.
    switched = run("switch", signal.SIGTERM)
    assert switched.returncode == 143, switched.stderr
    assert "after clusterconfig/ had switched to the new configs" in switched.stderr
    assert consistent_set(project, total) == 62
    # SIGKILL halfway through the switch: the next run finishes it, and has nothing to do.
    mark_inputs(project, 63)
    killed = run("killed", signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in project.output.iterdir() if p.name.startswith(".commit-")]
    after = inv(project, "genconfig")
    assert after.returncode == 0, after.stderr
    assert "Nothing to do" in after.stdout and "by hand" not in after.stdout + after.stderr
    assert consistent_set(project, total) == 63
    assert list(project.temp.iterdir()) == []


@pytest.mark.e2e
def test_the_leftovers_of_a_killed_run_are_removed_by_the_next(
    project: Project, tmp_path: Path
) -> None:
    mark = tmp_path / "started"
    slow = slow_wrapper(tmp_path / "talosctl", os.environ["TALOSCTL"], before=False)
    proc = subprocess.Popen(
        [*INV, "--search-root", str(REPO), "genconfig"], cwd=project.root,
        env={**os.environ, "TALOSCTL": str(slow), "SLOW_MARK": str(mark),
             "WITNESS": str(tmp_path / "unused")},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not mark.exists():
        assert proc.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    left = list(project.temp.iterdir())
    assert [p.name.startswith(f"talos-tasks-{proc.pid}-") for p in left] == [True]
    assert (left[0] / "secrets.yaml").exists()  # SIGKILL: nothing could clean up
    again = inv(project, "genconfig")
    assert again.returncode == 0, again.stderr
    assert list(project.temp.iterdir()) == []
    assert_no_plaintext_outside_clusterconfig(project)


@pytest.mark.e2e
def test_a_validation_error_quoting_the_config_shows_no_secret(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wrapper = tmp_path / "talosctl-quoting"
    # A talosctl whose validate quotes the config's secret lines back (guessed wording).
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = validate ]; then\n'
        '  while [ "$#" -gt 0 ]; do [ "$1" = --config ] && f="$2"; shift; done\n'
        '  echo "1 error occurred:" >&2\n'
        '  grep -m1 -E "^ +(token|key):" "$f" | sed "s/^ */\\t* bad value: /" >&2\n'
        "  exit 1\n"
        "fi\n"
        f'exec "{os.environ["TALOSCTL"]}" "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("TALOSCTL", str(wrapper))
    with pytest.raises(CommandError) as caught:
        project.generate(validate=True)
    message = str(caught.value)
    assert "<redacted>" in message, message
    assert not [v for v in project.secret_values() if v in message]
