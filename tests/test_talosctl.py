"""The talosctl adapter: exact command lines (through a fake runner), real-format outputs
parsed, talosctl's failures explained in one line naming the node."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import pitower_schematics

from talos.adapters.command import Result, Runner
from talos.adapters.talosctl import (
    ApplyResult,
    ContainerImage,
    MachineStatus,
    Member,
    Talosctl,
    explain,
    parse_apply,
    parse_image_list,
    parse_json_stream,
    parse_printed_size,
    parse_usage,
    parse_version_tag,
    validation_problems,
)
from talos.errors import CommandError, CommandTimeout, ToolMissingError

CONNECTION_FLAGS = ("--talosconfig", "--nodes", "--endpoints", "-n", "-e", "--context")
OFFLINE = ("gen", "validate", "machineconfig", "mc")


@dataclass
class Call:
    argv: tuple[str, ...]
    mutates: bool
    timeout: float | None
    streamed: bool


@dataclass
class FakeRunner(Runner):
    """Records every command; answers from ``replies`` (first argv word after the
    program that matches a key, e.g. ``"bootstrap"`` or ``"get members"``)."""

    replies: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    raise_on: dict[str, Exception] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    def run(
        self,
        argv: Sequence[str],
        *,
        mutates: bool = True,
        input: str | None = None,
        env: Any = None,
        timeout: float | None = None,
        check: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> Result:
        command = tuple(argv)
        self.calls.append(Call(command, mutates, timeout, progress is not None))
        words = " ".join(w for w in command[1:] if not w.startswith("-"))
        for key, error in self.raise_on.items():
            if words.startswith(key):
                raise error
        for key, (code, out, err) in self.replies.items():
            if words.startswith(key):
                if progress is not None:
                    for line in (out + err).splitlines():
                        progress(line)
                return Result(command, code, out, err)
        return Result(command, 0, "", "")

    @property
    def argvs(self) -> list[list[str]]:
        return [list(call.argv) for call in self.calls]


@pytest.fixture
def talosconfig(tmp_path: Path) -> Path:
    path = tmp_path / "talosconfig"
    path.write_text("context: pitower\ncontexts: {}\n")
    return path


def adapter(
    talosconfig: Path | None, runner: FakeRunner | None = None, **options: Any
) -> tuple[Talosctl, FakeRunner]:
    runner = runner or FakeRunner()
    return Talosctl(talosconfig, runner=runner, binary="talosctl", **options), runner


# ---------------------------------------------------------------------------------------
# Command lines, one case per row: (name, call, expected argv after "talosctl").
# "{tc}" stands for the talosconfig, "{tmp}" for the test's temporary directory.

NODE = "192.168.0.201"
CONN = ["--talosconfig", "{tc}", "--nodes", NODE, "--endpoints", NODE]
SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
IMAGE = f"factory.talos.dev/installer/{SCHEMATIC}:v1.12.4"

COMMAND_LINES: list[tuple[str, Callable[[Talosctl, Path], object], list[str]]] = [
    (
        "gen config pins versions and the installer image",
        lambda t, tmp: t.gen_config(
            "pitower", "https://192.168.0.200:6443", secrets=tmp / "secrets.yaml",
            output_dir=tmp / "out", talos_version="v1.12.4", kubernetes_version="v1.35.0",
            install_image=IMAGE,
        ),
        ["gen", "config", "--with-secrets", "{tmp}/secrets.yaml", "--output", "{tmp}/out",
         "--talos-version", "v1.12.4", "--kubernetes-version", "v1.35.0",
         "--install-image", IMAGE, "pitower", "https://192.168.0.200:6443"],
    ),
    (
        "gen config with install disk, without comments, forced",
        lambda t, tmp: t.gen_config(
            "pitower", "https://192.168.0.200:6443", secrets=tmp / "s.yaml",
            output_dir=tmp, talos_version="v1.12.4", kubernetes_version="v1.35.0",
            install_image=IMAGE, install_disk="/dev/mmcblk0", force=True, with_docs=False,
            with_examples=False,
        ),
        ["gen", "config", "--with-secrets", "{tmp}/s.yaml", "--output", "{tmp}",
         "--talos-version", "v1.12.4", "--kubernetes-version", "v1.35.0",
         "--install-image", IMAGE, "--install-disk", "/dev/mmcblk0", "--with-docs=false",
         "--with-examples=false", "--force", "pitower", "https://192.168.0.200:6443"],
    ),
    (
        "gen secrets",
        lambda t, tmp: t.gen_secrets(tmp / "secrets.yaml"),
        ["gen", "secrets", "--output-file", "{tmp}/secrets.yaml"],
    ),
    (
        "gen secrets for a version contract",
        lambda t, tmp: t.gen_secrets(tmp / "secrets.yaml", talos_version="v1.12.4"),
        ["gen", "secrets", "--output-file", "{tmp}/secrets.yaml", "--talos-version", "v1.12.4"],
    ),
    (
        "validate in metal mode",
        lambda t, tmp: t.validate(tmp / "worker-01.yaml"),
        ["validate", "--config", "{tmp}/worker-01.yaml", "--mode", "metal"],
    ),
    (
        "validate strictly",
        lambda t, tmp: t.validate(tmp / "w.yaml", mode="container", strict=True),
        ["validate", "--config", "{tmp}/w.yaml", "--mode", "container", "--strict"],
    ),
    (
        "apply-config in auto mode",
        lambda t, tmp: t.apply_config(NODE, tmp / "worker-01.yaml"),
        ["apply-config", *CONN, "--file", "{tmp}/worker-01.yaml", "--mode", "auto"],
    ),
    (
        "apply-config dry run without reboot",
        lambda t, tmp: t.apply_config(NODE, tmp / "w.yaml", mode="no-reboot", dry_run=True),
        ["apply-config", *CONN, "--file", "{tmp}/w.yaml", "--mode", "no-reboot", "--dry-run"],
    ),
    (
        "apply-config to a node in maintenance mode reads no talosconfig",
        lambda t, tmp: t.apply_config(NODE, tmp / "w.yaml", insecure=True),
        ["apply-config", "--nodes", NODE, "--insecure", "--file", "{tmp}/w.yaml",
         "--mode", "auto"],
    ),
    (
        "upgrade always names the image",
        lambda t, tmp: t.upgrade(NODE, IMAGE),
        ["upgrade", *CONN, "--image", IMAGE],
    ),
    (
        "upgrade staged, forced, preserving, not waiting, with a timeout",
        lambda t, tmp: t.upgrade(NODE, IMAGE, stage=True, force=True, preserve=True,
                                 wait=False, timeout="10m"),
        ["upgrade", *CONN, "--image", IMAGE, "--stage", "--force", "--preserve",
         "--wait=false", "--timeout", "10m"],
    ),
    (
        "upgrade-k8s takes the version without its v",
        lambda t, tmp: t.upgrade_k8s(NODE, "v1.35.0"),
        ["upgrade-k8s", *CONN, "--to", "1.35.0"],
    ),
    (
        "upgrade-k8s dry run",
        lambda t, tmp: t.upgrade_k8s(NODE, "1.35.1", dry_run=True),
        ["upgrade-k8s", *CONN, "--to", "1.35.1", "--dry-run"],
    ),
    ("bootstrap", lambda t, tmp: t.bootstrap(NODE), ["bootstrap", *CONN]),
    (
        "kubeconfig replaces the file instead of merging",
        lambda t, tmp: t.kubeconfig(NODE, tmp / "kubeconfig"),
        ["kubeconfig", *CONN, "--force", "--merge=false", "{tmp}/kubeconfig"],
    ),
    (
        "kubeconfig merged into a user's file replaces only same-named entries",
        lambda t, tmp: t.kubeconfig(NODE, tmp / "config", merge=True),
        ["kubeconfig", *CONN, "--force", "{tmp}/config"],
    ),
    ("reboot and wait", lambda t, tmp: t.reboot(NODE), ["reboot", *CONN]),
    (
        "reboot without waiting",
        lambda t, tmp: t.reboot(NODE, wait=False, timeout="5m"),
        ["reboot", *CONN, "--wait=false", "--timeout", "5m"],
    ),
    (
        "reset wipes state volumes, not gracefully, then reboots",
        lambda t, tmp: t.reset(NODE),
        ["reset", *CONN, "--graceful=false", "--reboot=true",
         "--system-labels-to-wipe", "EPHEMERAL", "--system-labels-to-wipe", "META"],
    ),
    (
        "reset gracefully, powering off, one label",
        lambda t, tmp: t.reset(NODE, wipe=["STATE"], graceful=True, reboot=False, wait=False),
        ["reset", *CONN, "--graceful=true", "--reboot=false",
         "--system-labels-to-wipe", "STATE", "--wait=false"],
    ),
    (
        "health names the nodes it expects",
        lambda t, tmp: t.health(NODE, control_planes=[NODE, "192.168.0.202"],
                                workers=["192.168.0.204"], timeout="3m"),
        ["health", *CONN, "--control-plane-nodes", f"{NODE},192.168.0.202",
         "--worker-nodes", "192.168.0.204", "--wait-timeout", "3m"],
    ),
    (
        "health of a cluster without workers",
        lambda t, tmp: t.health(NODE, control_planes=[NODE], workers=[]),
        ["health", *CONN, "--control-plane-nodes", NODE, "--wait-timeout", "5m"],
    ),
    ("version of the client", lambda t, tmp: t.client_version(), ["version", "--client"]),
    ("version of a node", lambda t, tmp: t.server_version(NODE), ["version", *CONN]),
    (
        "installed schematic",
        lambda t, tmp: t.installed_schematic(NODE),
        ["get", "extensions", *CONN, "--output", "json"],
    ),
    (
        "machine status",
        lambda t, tmp: t.machine_status(NODE),
        ["get", "machinestatus", *CONN, "--output", "json"],
    ),
    ("members", lambda t, tmp: t.members(NODE), ["get", "members", *CONN, "--output", "json"]),
    (
        "image list",
        lambda t, tmp: t.image_list(NODE),
        ["image", "list", *CONN, "--namespace", "cri"],
    ),
    (
        "image list of system images",
        lambda t, tmp: t.image_list(NODE, "system"),
        ["image", "list", *CONN, "--namespace", "system"],
    ),
    (
        "usage of a path",
        lambda t, tmp: t.usage(NODE, "/var/lib/containerd"),
        ["usage", *CONN, "--depth", "0", "/var/lib/containerd"],
    ),
]

# Enough output for every read to parse.
CANNED = {
    "version": (0, "Client:\n\tTag:         v1.12.4\nServer:\n\tNODE:        x\n"
                   "\tTag:         v1.12.4\n", ""),
    "get machinestatus": (0, '{"spec": {"stage": "running", "status": {"ready": true}}}\n', ""),
    "usage": (0, "NODE   SIZE   NAME\n1.2.3.4   10   /var/lib/containerd\n", ""),
}


@pytest.mark.parametrize(
    ("call", "expected"),
    [pytest.param(call, expected, id=name) for name, call, expected in COMMAND_LINES],
)
def test_every_command_line_is_built_exactly(
    call: Callable[[Talosctl, Path], object], expected: list[str], talosconfig: Path,
    tmp_path: Path,
) -> None:
    talosctl, runner = adapter(talosconfig, FakeRunner(replies=dict(CANNED)))
    call(talosctl, tmp_path)
    wanted = [
        part.replace("{tc}", str(talosconfig)).replace("{tmp}", str(tmp_path))
        for part in ["talosctl", *expected]
    ]
    assert runner.argvs == [wanted]


@pytest.mark.parametrize(
    "call", [pytest.param(call, id=name) for name, call, _ in COMMAND_LINES]
)
def test_offline_commands_get_no_connection_flag_and_online_ones_always_get_all_three(
    call: Callable[[Talosctl, Path], object], talosconfig: Path, tmp_path: Path
) -> None:
    talosctl, runner = adapter(talosconfig, FakeRunner(replies=dict(CANNED)))
    call(talosctl, tmp_path)
    [argv] = runner.argvs
    flags = [part for part in argv if part in CONNECTION_FLAGS]
    if argv[1] in OFFLINE or argv[1:3] == ["version", "--client"]:
        assert flags == []
    elif "--insecure" in argv:
        assert flags == ["--nodes"]
    else:
        assert flags == ["--talosconfig", "--nodes", "--endpoints"]
        assert argv[argv.index("--talosconfig") + 1] == str(talosconfig)
        assert argv[argv.index("--nodes") + 1] == argv[argv.index("--endpoints") + 1]


READS = {"validate", "version", "get", "image", "usage", "health"}


@pytest.mark.parametrize(
    "call", [pytest.param(call, id=name) for name, call, _ in COMMAND_LINES]
)
def test_only_commands_that_change_something_are_marked_as_mutating(
    call: Callable[[Talosctl, Path], object], talosconfig: Path, tmp_path: Path
) -> None:
    talosctl, runner = adapter(talosconfig, FakeRunner(replies=dict(CANNED)))
    call(talosctl, tmp_path)
    [done] = runner.calls
    read = done.argv[1] in READS or "--dry-run" in done.argv
    assert done.mutates is not read


def test_a_dry_runner_shows_a_change_and_makes_none(talosconfig: Path) -> None:
    echoed: list[str] = []
    talosctl = Talosctl(talosconfig, runner=Runner(dry=True, echo=echoed.append),
                        binary="/nonexistent/talosctl")
    talosctl.upgrade(NODE, IMAGE)
    result = talosctl.apply_config(NODE, Path("worker-01.yaml"))
    assert echoed == [
        f"/nonexistent/talosctl upgrade --talosconfig {talosconfig} --nodes {NODE} "
        f"--endpoints {NODE} --image {IMAGE}",
        f"/nonexistent/talosctl apply-config --talosconfig {talosconfig} --nodes {NODE} "
        f"--endpoints {NODE} --file worker-01.yaml --mode auto",
    ]
    assert result == ApplyResult(NODE, True, False, "", "dry run: not applied")


def test_the_binary_is_talosctl_on_path_unless_one_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALOSCTL", "/opt/talos/bin/talosctl")  # a setting: not read here
    assert Talosctl(None).binary == "talosctl"
    assert Talosctl(None, binary="/x/talosctl").binary == "/x/talosctl"


def test_long_operations_stream_their_progress_and_reads_have_a_time_limit(
    talosconfig: Path,
) -> None:
    lines: list[str] = []
    runner = FakeRunner(replies={
        "upgrade": (0, "", '"192.168.0.201": waiting for actor ID\n'
                           '"192.168.0.201": post check passed\n'),
    })
    talosctl, _ = adapter(talosconfig, runner, progress=lines.append)
    talosctl.upgrade(NODE, IMAGE)
    talosctl.members(NODE)
    upgrade, members = runner.calls
    assert upgrade.streamed and upgrade.timeout is None
    assert lines == ['"192.168.0.201": waiting for actor ID', '"192.168.0.201": post check passed']
    assert not members.streamed and members.timeout == talosctl.read_timeout


# ---------------------------------------------------------------------------------------
# Talking to a node needs a talosconfig that exists (talosctl would create an empty one)


def test_a_missing_talosconfig_is_refused_before_talosctl_runs(tmp_path: Path) -> None:
    talosctl, runner = adapter(tmp_path / "clusterconfig" / "talosconfig")
    with pytest.raises(CommandError, match=r"no talosconfig at .*clusterconfig/talosconfig"
                       r".*inv genconfig"):
        talosctl.members(NODE)
    assert runner.calls == []
    assert not (tmp_path / "clusterconfig").exists()


def test_no_talosconfig_at_all_is_refused_for_online_commands_only(tmp_path: Path) -> None:
    talosctl, runner = adapter(None)
    with pytest.raises(CommandError, match="needs a talosconfig"):
        talosctl.bootstrap(NODE)
    talosctl.gen_secrets(tmp_path / "secrets.yaml")
    assert len(runner.calls) == 1


def test_a_dry_run_of_a_change_does_not_need_the_talosconfig_yet(tmp_path: Path) -> None:
    echoed: list[str] = []
    missing = tmp_path / "talosconfig"
    talosctl = Talosctl(missing, runner=Runner(dry=True, echo=echoed.append), binary="talosctl")
    talosctl.reboot(NODE)
    assert echoed and "reboot" in echoed[0]


# ---------------------------------------------------------------------------------------
# Outputs in talosctl's real formats

MEMBERS_JSON = """{
    "metadata": {
        "created": "2026-08-10T12:01:02Z",
        "id": "worker-01",
        "namespace": "cluster",
        "owner": "cluster.MemberController",
        "phase": "running",
        "type": "Members.cluster.talos.dev",
        "updated": "2026-08-10T12:03:04Z",
        "version": 2
    },
    "node": "192.168.0.201",
    "spec": {
        "addresses": [
            "192.168.0.201",
            "fd00::201"
        ],
        "controlPlane": {
            "port": 6443
        },
        "hostname": "worker-01",
        "machineType": "controlplane",
        "nodeId": "9WDyUQ5eNRTLOsjSGkbe6B0W3Mr6nVBVYVlJGlBl4fT",
        "operatingSystem": "Talos (v1.12.4)"
    }
}
{
    "metadata": {
        "created": "2026-08-10T12:01:02Z",
        "id": "worker-05",
        "namespace": "cluster",
        "owner": "cluster.MemberController",
        "phase": "running",
        "type": "Members.cluster.talos.dev",
        "updated": "2026-08-10T12:03:04Z",
        "version": 1
    },
    "node": "192.168.0.201",
    "spec": {
        "addresses": [
            "fd00::205",
            "192.168.0.205"
        ],
        "hostname": "worker-05",
        "machineType": "worker",
        "nodeId": "aWDyUQ5eNRTLOsjSGkbe6B0W3Mr6nVBVYVlJGlBl4fT",
        "operatingSystem": "Talos (v1.12.3)"
    }
}
"""


def test_members_are_read_from_a_stream_of_json_objects(talosconfig: Path) -> None:
    runner = FakeRunner(replies={"get members": (0, MEMBERS_JSON, "")})
    talosctl, _ = adapter(talosconfig, runner)
    members = talosctl.members(NODE)
    assert members == [
        Member("worker-01", ("192.168.0.201", "fd00::201"), "controlplane", "v1.12.4"),
        Member("worker-05", ("fd00::205", "192.168.0.205"), "worker", "v1.12.3"),
    ]
    assert [m.address for m in members] == ["192.168.0.201", "192.168.0.205"]


def test_no_members_is_an_empty_list_not_an_error(talosconfig: Path) -> None:
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"get members": (0, "", "")}))
    assert talosctl.members(NODE) == []


def test_a_json_stream_is_not_mistaken_for_an_array() -> None:
    assert parse_json_stream('{"a": 1}\n{"b": [2]}\n\n') == [{"a": 1}, {"b": [2]}]
    with pytest.raises(ValueError, match="expected a JSON object"):
        parse_json_stream("[1, 2]")


def test_unreadable_json_is_a_command_error_naming_the_node(talosconfig: Path) -> None:
    runner = FakeRunner(replies={"get members": (0, '{"metadata": ', "")})
    talosctl, _ = adapter(talosconfig, runner)
    with pytest.raises(CommandError, match=f"get members on {NODE} printed unreadable JSON"):
        talosctl.members(NODE)


EXTENSIONS_JSON = """{
    "metadata": {"id": "0", "namespace": "runtime", "type": "ExtensionStatuses.runtime.talos.dev",
                 "version": 1},
    "node": "192.168.0.201",
    "spec": {"image": "0.sqsh", "metadata": {"name": "amd-ucode", "version": "20250917"}}
}
{
    "metadata": {"id": "1", "namespace": "runtime", "type": "ExtensionStatuses.runtime.talos.dev",
                 "version": 1},
    "node": "192.168.0.201",
    "spec": {
        "image": "",
        "metadata": {
            "description": "This extension is a virtual extension.",
            "name": "schematic",
            "version": "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
        }
    }
}
"""


def test_the_installed_schematic_is_the_version_of_the_schematic_extension(
    talosconfig: Path,
) -> None:
    runner = FakeRunner(replies={"get extensions": (0, EXTENSIONS_JSON, "")})
    talosctl, _ = adapter(talosconfig, runner)
    assert talosctl.installed_schematic(NODE) == (
        "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
    )


def test_a_node_not_booted_from_a_factory_image_has_no_schematic(talosconfig: Path) -> None:
    first_only = EXTENSIONS_JSON[: EXTENSIONS_JSON.index("}\n{") + 2]
    runner = FakeRunner(replies={"get extensions": (0, first_only, "")})
    talosctl, _ = adapter(talosconfig, runner)
    assert talosctl.installed_schematic(NODE) is None


def test_machine_status_reads_stage_readiness_and_unmet_conditions(talosconfig: Path) -> None:
    text = """{
    "metadata": {"id": "machine", "namespace": "runtime", "version": 7},
    "node": "192.168.0.204",
    "spec": {
        "stage": "booting",
        "status": {
            "ready": false,
            "unmetConditions": [
                {"name": "nodeReady", "reason": "node is not ready"}
            ]
        }
    }
}
"""
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"get machinestatus": (0, text, "")}))
    assert talosctl.machine_status("192.168.0.204") == MachineStatus(
        "booting", False, ("nodeReady: node is not ready",)
    )


VERSION_OUTPUT = """Client:
\tTag:         v1.12.11
\tSHA:         2e80771b
\tBuilt:{BLANK}
\tGo version:  go1.25.12
\tOS/Arch:     linux/amd64
Server:
\tNODE:        192.168.0.201
\tTag:         v1.12.4
\tSHA:         2e80771b
\tBuilt:{BLANK}
\tGo version:  go1.25.12
\tOS/Arch:     linux/amd64
\tEnabled:     RBAC
""".replace("{BLANK}", " " * 7)  # talosctl pads the empty Built: value


def test_the_server_version_is_the_tag_of_the_server_block(talosconfig: Path) -> None:
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"version": (0, VERSION_OUTPUT, "")}))
    assert talosctl.server_version(NODE) == "v1.12.4"


def test_the_client_version_is_the_tag_of_the_client_block_long_or_short() -> None:
    client_only = VERSION_OUTPUT[: VERSION_OUTPUT.index("Server:")]
    talosctl, _ = adapter(None, FakeRunner(replies={"version": (0, client_only, "")}))
    assert talosctl.client_version() == "v1.12.11"
    assert parse_version_tag("Client:\n\tTalos v1.12.11\n", "Client") == "v1.12.11"
    assert parse_version_tag(client_only, "Server") is None


IMAGE_LIST = (
    "NODE            IMAGE                                         DIGEST"
    "                                                                    SIZE     CREATED\n"
    "192.168.0.201   registry.k8s.io/kube-apiserver:v1.35.0        sha256:"
    + "a" * 64 + "   27 MB    2026-04-15T10:11:12Z\n"
    "192.168.0.201   registry.k8s.io/pause:3.10                    sha256:"
    + "b" * 64 + "   320 kB   2025-01-02T03:04:05Z\n"
    "192.168.0.201   docker.io/library/postgres:17                 sha256:"
    + "c" * 64 + "   1.2 GB   2025-11-12T00:00:00Z\n"
)


def test_image_list_is_read_with_si_sizes_in_bytes(talosconfig: Path) -> None:
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"image list": (0, IMAGE_LIST, "")}))
    assert talosctl.image_list(NODE) == [
        ContainerImage("registry.k8s.io/kube-apiserver:v1.35.0", "sha256:" + "a" * 64,
                       27_000_000, "2026-04-15T10:11:12Z"),
        ContainerImage("registry.k8s.io/pause:3.10", "sha256:" + "b" * 64, 320_000,
                       "2025-01-02T03:04:05Z"),
        ContainerImage("docker.io/library/postgres:17", "sha256:" + "c" * 64, 1_200_000_000,
                       "2025-11-12T00:00:00Z"),
    ]
    assert parse_image_list("") == []
    cut_short = IMAGE_LIST + "192.168.0.201   registry.k8s.io/etcd:3.6\n"
    assert parse_image_list(cut_short) == talosctl.image_list(NODE)


@pytest.mark.parametrize(
    ("text", "size"),
    [("512 B", 512), ("83 kB", 83_000), ("27 MB", 27_000_000), ("1.2 GB", 1_200_000_000),
     ("3.5 TB", 3_500_000_000_000), ("1 MiB", 1_048_576), ("12345", 12345)],
)
def test_sizes_are_humanize_si_bytes(text: str, size: int) -> None:
    assert parse_printed_size(text) == size


def test_a_size_in_an_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_printed_size("12 parsecs")


def test_usage_reads_the_size_of_the_path_with_or_without_a_node_column(
    talosconfig: Path,
) -> None:
    with_node = (
        "NODE            SIZE         NAME\n"
        "192.168.0.201   1048576      /var/lib/containerd/io.containerd.content.v1.content\n"
        "192.168.0.201   5368709120   /var/lib/containerd\n"
    )
    runner = FakeRunner(replies={"usage": (0, with_node, "")})
    talosctl, _ = adapter(talosconfig, runner)
    assert talosctl.usage(NODE, "/var/lib/containerd") == 5368709120
    assert parse_usage("SIZE     NAME\n4096     /var/lib/containerd/\n",
                       "/var/lib/containerd") == 4096
    assert parse_usage("", "/var") is None
    # As talosctl v1.12 names them: relative to the path asked, the path itself ".", last.
    assert parse_usage("SIZE   NAME\n100    lib\n300    log\n5000   .\n", "/var") == 5000
    assert parse_usage("NODE            SIZE   NAME\n192.168.0.201   9000   lib\n"
                       "192.168.0.201   12     .\n", "/var") == 12
    assert parse_usage("SIZE   NAME\n100    lib\n", "/var") is None


def test_usage_without_any_size_is_an_error(talosconfig: Path) -> None:
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"usage": (0, "", "")}))
    with pytest.raises(CommandError, match=f"usage /var on {NODE} printed no size"):
        talosctl.usage(NODE, "/var")


# -- apply-config: everything is on stderr ------------------------------------------------

DRY_RUN_DIFF = """Dry run summary:
Applied configuration without a reboot (skipped in dry-run).
Config diff:

--- a
+++ b
@@ -11,6 +11,7 @@
     kubelet:
         image: ghcr.io/siderolabs/kubelet:v1.35.0
         defaultRuntimeSeccompProfileEnabled: true
+        registerWithFQDN: true
         disableManifestsDirectory: true
"""


@pytest.mark.parametrize(
    ("stderr", "dry_run", "insecure", "expected"),
    [
        pytest.param(
            DRY_RUN_DIFF, True, False,
            ApplyResult(NODE, True, False, DRY_RUN_DIFF[DRY_RUN_DIFF.index("--- a"):],
                        "Applied configuration without a reboot"),
            id="dry run with a diff",
        ),
        pytest.param(
            "Dry run summary:\nApplied configuration with a reboot: install image changed "
            "(skipped in dry-run).\nConfig diff:\n\n--- a\n+++ b\n@@ -5 +5 @@\n-x\n+y\n",
            True, False,
            ApplyResult(NODE, True, True, "--- a\n+++ b\n@@ -5 +5 @@\n-x\n+y\n",
                        "Applied configuration with a reboot: install image changed"),
            id="dry run needing a reboot",
        ),
        pytest.param(
            "Dry run summary:\nApplied configuration without a reboot (skipped in dry-run).\n"
            "Config diff:\n\nNo changes.\n",
            True, False,
            ApplyResult(NODE, False, False, "", "Applied configuration without a reboot"),
            id="dry run, nothing differs",
        ),
        pytest.param(
            "Dry run summary:\nApplied configuration with a reboot (skipped in dry-run).\n"
            "Config diff:\n\nNo changes.\n",
            True, False,
            ApplyResult(NODE, False, False, "", "Applied configuration with a reboot"),
            id="dry run, nothing differs: no reboot either",
        ),
        pytest.param(
            "Dry run summary:\nNode is running in maintenance mode and does not have a config "
            "yet.\n",
            True, True,
            ApplyResult(NODE, True, True, "",
                        "Node is running in maintenance mode and does not have a config yet."),
            id="dry run in maintenance mode",
        ),
        pytest.param(
            "WARNING: config validation:\nApplied configuration with a reboot\n",
            False, False,
            ApplyResult(NODE, True, True, "", "Applied configuration with a reboot",
                        ("config validation:",)),
            id="applied with a reboot and a warning",
        ),
        pytest.param(
            "Applied configuration without a reboot\n", False, False,
            ApplyResult(NODE, True, False, "", "Applied configuration without a reboot"),
            id="applied without a reboot",
        ),
        pytest.param(
            "Staged configuration to be applied after the next reboot\n", False, False,
            ApplyResult(NODE, True, False, "",
                        "Staged configuration to be applied after the next reboot"),
            id="staged",
        ),
        pytest.param(
            "", False, True, ApplyResult(NODE, True, True, "", ""),
            id="maintenance mode prints nothing and installs",
        ),
    ],
)
def test_apply_results_are_read_from_stderr(
    stderr: str, dry_run: bool, insecure: bool, expected: ApplyResult
) -> None:
    assert parse_apply(NODE, stderr, dry_run=dry_run, insecure=insecure) == expected


def test_apply_config_returns_what_talosctl_said_on_stderr(talosconfig: Path) -> None:
    runner = FakeRunner(replies={"apply-config": (0, "", DRY_RUN_DIFF)})
    talosctl, _ = adapter(talosconfig, runner)
    result = talosctl.apply_config(NODE, Path("w.yaml"), dry_run=True)
    assert result.changed and not result.reboot
    assert "+        registerWithFQDN: true" in result.diff


SECRET_TOKEN = "q9w8e7.r6t5y4u3i2o1p0a9"
REBOOT_REASON = (
    "Applied configuration with a reboot: this config change can't be applied in immediate "
    "mode\ndiff:\n--- a\n+++ b\n@@ -3,7 +3,7 @@\n machine:\n     type: controlplane\n"
    f"-    token: old.0123456789abcdef\n+    token: {SECRET_TOKEN}\n     ca:\n\n"
)


def test_an_auto_reboot_keeps_its_reason_as_the_message_and_its_diff_apart() -> None:
    result = parse_apply(NODE, "WARNING: something\n" + REBOOT_REASON, dry_run=False,
                         insecure=False)
    assert result.message == ("Applied configuration with a reboot: this config change "
                              "can't be applied in immediate mode")
    assert result.reboot and result.changed
    assert result.diff.startswith("--- a\n+++ b\n@@ ")
    assert SECRET_TOKEN in result.diff and SECRET_TOKEN not in result.message
    assert result.warnings == ("something",)


def test_a_try_apply_keeps_both_lines_of_its_message() -> None:
    result = parse_apply(NODE, "Applied configuration without a reboot\nThe config is "
                         "applied in 'try' mode and will be automatically reverted back in "
                         "1m0s\n", dry_run=False, insecure=False)
    assert result.message.splitlines() == [
        "Applied configuration without a reboot",
        "The config is applied in 'try' mode and will be automatically reverted back in 1m0s"]
    assert not result.reboot and result.diff == ""


def test_a_refused_change_fails_without_its_diff_anywhere_in_the_error(
    talosconfig: Path,
) -> None:
    stderr = (f"error applying new configuration: 1 error occurred:\n\t* {NODE}: rpc error: "
              "code = InvalidArgument desc = this config change can't be applied in immediate "
              "mode\ndiff:\n--- a\n+++ b\n@@ -3,7 +3,7 @@\n"
              f"-    token: old.0123456789abcdef\n+    token: {SECRET_TOKEN}\n\n\n")
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"apply-config": (1, "", stderr)}))
    with pytest.raises(CommandError) as caught:
        talosctl.apply_config(NODE, Path("w.yaml"), mode="no-reboot")
    assert str(caught.value).startswith(
        "talosctl apply-config on 192.168.0.201 failed: this config change can't be applied "
        "in immediate mode (InvalidArgument)")
    assert SECRET_TOKEN not in str(caught.value)
    assert SECRET_TOKEN not in caught.value.stderr and "token" not in caught.value.stderr


def test_a_refused_change_with_a_diff_longer_than_the_kept_tail_leaves_none_of_it(
    talosconfig: Path,
) -> None:
    # The stderr kept on an error is its last lines: a long diff must be cut off before
    # they are taken, not after (its marker would be gone from the tail by then).
    context = "".join(f"     field{n}: value{n}\n" for n in range(40))
    stderr = (f"error applying new configuration: 1 error occurred:\n\t* {NODE}: rpc error: "
              "code = InvalidArgument desc = this config change can't be applied in immediate "
              "mode\ndiff:\n--- a\n+++ b\n@@ -3,47 +3,47 @@\n"
              f"{context}-    token: old.0123456789abcdef\n+    token: {SECRET_TOKEN}\n"
              f"{context}\n")
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"apply-config": (1, "", stderr)}))
    with pytest.raises(CommandError) as caught:
        talosctl.apply_config(NODE, Path("w.yaml"), mode="no-reboot")
    assert "immediate mode" in caught.value.stderr
    assert SECRET_TOKEN not in caught.value.stderr and "field" not in caught.value.stderr


def test_an_upgrade_refused_by_the_etcd_check_says_so_and_what_to_do(
    talosconfig: Path,
) -> None:
    stderr = (f'"{NODE}": waiting for actor ID\n"{NODE}": rpc error: code = Unknown desc = '
              "error validating etcd for upgrade: etcd member 0a1b2c3d4e5f6a7b is not healthy; "
              "all members must be healthy to perform an upgrade: context deadline exceeded\n")
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"upgrade": (1, "", stderr)}))
    with pytest.raises(CommandError) as caught:
        talosctl.upgrade(NODE, IMAGE)
    assert str(caught.value).startswith(
        "talosctl upgrade on 192.168.0.201 failed: the node refused to upgrade: etcd is not "
        "healthy enough: error validating etcd for upgrade: etcd member 0a1b2c3d4e5f6a7b is "
        "not healthy;")
    assert "--force" in (caught.value.hint or "")


def test_nested_validation_errors_are_each_reported_with_their_document() -> None:
    stderr = (
        "WARNING: something\n"
        "3 errors occurred:\n\t* v1alpha1.Config: 2 errors occurred:\n"
        "\t* cluster controlplane endpoint is required\n"
        "\t* unknown machine type \"gateway\"\n\n\n"
        "\t* HostnameConfig: either 'auto' or 'hostname' must be set\n"
        "\t* static hostname is already set in v1alpha1 config\n\n\n"
    )
    assert validation_problems(stderr) == [
        "v1alpha1.Config: cluster controlplane endpoint is required",
        'v1alpha1.Config: unknown machine type "gateway"',
        "HostnameConfig: either 'auto' or 'hostname' must be set",
        "static hostname is already set in v1alpha1 config",
    ]


# -- bootstrap ------------------------------------------------------------------------------

ALREADY = (
    "error executing bootstrap: 1 error occurred:\n"
    "\t* 192.168.0.201: rpc error: code = AlreadyExists desc = etcd data directory is not "
    "empty\n\n"
)


def test_bootstrap_says_whether_it_bootstrapped(talosconfig: Path) -> None:
    fresh, _ = adapter(talosconfig)
    assert fresh.bootstrap(NODE) is True
    again, _ = adapter(talosconfig, FakeRunner(replies={"bootstrap": (1, "", ALREADY)}))
    assert again.bootstrap(NODE) is False


def test_a_bootstrap_that_fails_otherwise_is_an_error_naming_the_node(talosconfig: Path) -> None:
    stderr = (
        "error executing bootstrap: 1 error occurred:\n\t* 192.168.0.202: rpc error: "
        "code = FailedPrecondition desc = bootstrap is not available yet\n\n"
    )
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"bootstrap": (1, "", stderr)}))
    with pytest.raises(CommandError) as caught:
        talosctl.bootstrap("192.168.0.202")
    assert str(caught.value) == (
        "talosctl bootstrap on 192.168.0.202 failed: bootstrap is not available yet "
        "(FailedPrecondition)"
    )
    assert caught.value.returncode == 1
    assert caught.value.command[:2] == ("talosctl", "bootstrap")


# ---------------------------------------------------------------------------------------
# talosctl's failures, explained in one line naming the node, with what to do

UNREACHABLE = (
    'error constructing client: rpc error: code = Unavailable desc = connection error: '
    'desc = "transport: Error while dialing: dial tcp 192.168.0.204:50000: connect: '
    'connection refused"\n'
)
UNKNOWN_FLAG = (
    "unknown flag: --talosconfig\n\nUsage:\n  talosctl gen config <cluster name> "
    "<cluster endpoint> [flags]\n\nFlags:\n      --with-docs   renders docs (default true)\n"
)
X509 = (
    "rpc error: code = Unavailable desc = connection error: desc = \"transport: "
    "authentication handshake failed: tls: failed to verify certificate: x509: certificate "
    "signed by unknown authority\"\n"
)
UPGRADE_TRACKER = (
    '"192.168.0.204": waiting for actor ID\n'
    '"192.168.0.204": task: upgrade action: START\n'
    '"192.168.0.204": error validating installer image "factory.talos.dev/installer/x:v1": '
    "failed to pull\n"
)


@pytest.mark.parametrize(
    ("call", "stderr", "message"),
    [
        pytest.param(
            lambda t: t.upgrade("192.168.0.204", IMAGE), UNREACHABLE,
            "talosctl upgrade on 192.168.0.204 failed: node is unreachable: dial tcp "
            "192.168.0.204:50000: connect: connection refused (check it is powered on and its "
            "address in the cluster file)",
            id="unreachable",
        ),
        pytest.param(
            lambda t: t.upgrade("192.168.0.204", IMAGE), UPGRADE_TRACKER,
            'talosctl upgrade on 192.168.0.204 failed: error validating installer image '
            '"factory.talos.dev/installer/x:v1": failed to pull',
            id="upgrade tracker error",
        ),
        pytest.param(
            lambda t: t.members("192.168.0.201"), X509,
            "talosctl get members on 192.168.0.201 failed: the node does not accept our "
            "certificates:",
            id="another cluster's talosconfig",
        ),
        pytest.param(
            lambda t: t.apply_config("192.168.0.204", Path("w.yaml"), insecure=True),
            'rpc error: code = Unavailable desc = connection error: desc = "transport: '
            'authentication handshake failed: remote error: tls: certificate required"\n',
            "talosctl apply-config on 192.168.0.204 failed: the node is configured already "
            "(not in maintenance mode): ",
            id="insecure apply to a configured node",
        ),
        pytest.param(
            lambda t: t.members("192.168.0.201"),
            "error constructing client: failed to resolve configuration context: talos "
            "config file is empty\n",
            "talosctl get members on 192.168.0.201 failed: the talosconfig is unusable: ",
            id="an empty talosconfig",
        ),
        pytest.param(
            lambda t: t.gen_secrets(Path("s.yaml")), UNKNOWN_FLAG,
            "talosctl gen secrets failed: talosctl rejected the command line: unknown flag: "
            "--talosconfig (the installed talosctl is probably not v1.12",
            id="unknown flag",
        ),
        pytest.param(
            lambda t: t.reboot("192.168.0.211"),
            'WARNING: 192.168.0.211: server version 1.11.0 is older than client version '
            '1.12.4\n"192.168.0.211": rpc error: code = DeadlineExceeded desc = context '
            "deadline exceeded\n",
            "talosctl reboot on 192.168.0.211 failed: timed out: context deadline exceeded "
            "(DeadlineExceeded)",
            id="timeout after a warning",
        ),
        pytest.param(
            lambda t: t.kubeconfig("192.168.0.201", Path("kubeconfig")),
            "error: something new\n",
            "talosctl kubeconfig on 192.168.0.201 failed: error: something new",
            id="an unknown failure keeps its own words",
        ),
    ],
)
def test_failures_are_one_line_naming_the_node_and_what_to_do(
    call: Callable[[Talosctl], object], stderr: str, message: str, talosconfig: Path
) -> None:
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={
        "upgrade": (1, "", stderr), "get members": (1, "", stderr), "gen": (1, "", stderr),
        "reboot": (1, "", stderr), "kubeconfig": (1, "", stderr),
        "apply-config": (1, "", stderr),
    }))
    with pytest.raises(CommandError) as caught:
        call(talosctl)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(message)
    assert caught.value.returncode == 1
    assert caught.value.stderr.splitlines()[-1] == stderr.strip().splitlines()[-1]


def test_validation_problems_are_listed_in_the_error(talosconfig: Path) -> None:
    stderr = (
        "2 errors occurred:\n\t* static hostname is already set in v1alpha1 config\n"
        "\t* install disk or disk selector is required\n\n"
    )
    talosctl, _ = adapter(talosconfig, FakeRunner(replies={"validate": (1, "", stderr)}))
    with pytest.raises(CommandError) as caught:
        talosctl.validate(Path("clusterconfig/worker-04.yaml"))
    assert str(caught.value) == (
        "worker-04.yaml is not valid for metal mode: static hostname is already set in "
        "v1alpha1 config; install disk or disk selector is required "
        "(fix the patches it is made from)"
    )


def test_a_validation_error_without_a_list_keeps_talosctl_s_line(talosconfig: Path) -> None:
    talosctl, _ = adapter(
        talosconfig, FakeRunner(replies={"validate": (1, "", 'unknown runtime mode: "x"\n')})
    )
    with pytest.raises(CommandError, match=r'not valid for x mode: unknown runtime mode: "x"'):
        talosctl.validate(Path("w.yaml"), mode="x")


def test_a_timeout_of_a_read_names_the_node(talosconfig: Path) -> None:
    stopped = CommandTimeout("talosctl get members timed out after 120s and was stopped")
    talosctl, _ = adapter(talosconfig, FakeRunner(raise_on={"get members": stopped}))
    with pytest.raises(CommandTimeout, match=r"^talosctl get members on 192\.168\.0\.203 did "
                       r"not finish in time and was stopped \(check the node is up") as caught:
        talosctl.members("192.168.0.203")
    assert caught.value.__cause__ is stopped


def test_a_failure_that_only_mentions_a_timeout_is_not_taken_for_one(talosconfig: Path) -> None:
    said = CommandError("talosctl get members failed (exit code 1): timed out after 120s")
    talosctl, _ = adapter(talosconfig, FakeRunner(raise_on={"get members": said}))
    with pytest.raises(CommandError) as caught:
        talosctl.members("192.168.0.203")
    assert caught.value is said


def test_a_talosctl_that_cannot_be_run_is_not_called_a_timeout(
    talosconfig: Path, tmp_path: Path
) -> None:
    program = tmp_path / "talosctl"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o644)
    with pytest.raises(CommandError, match="permission denied"):
        Talosctl(talosconfig, binary=str(program)).members(NODE)


def test_a_missing_talosctl_is_one_line_saying_how_to_install_it(talosconfig: Path) -> None:
    talosctl = Talosctl(talosconfig, binary="/nonexistent/talosctl")
    with pytest.raises(ToolMissingError) as caught:
        talosctl.members(NODE)
    assert re.match(r"talosctl is not installed .*run `inv tools\.install`",
                    str(caught.value))


def test_a_talosctl_named_by_a_setting_but_missing_says_which_setting_named_it(
    talosconfig: Path,
) -> None:
    with pytest.raises(ToolMissingError) as caught:
        Talosctl(talosconfig, binary="/opt/talos/nope", named_by="TALOSCTL").members(NODE)
    assert str(caught.value) == (
        "no talosctl at /opt/talos/nope (named by TALOSCTL) (point TALOSCTL at talosctl of "
        "the cluster's Talos version, or unset it to use talosctl on PATH)"
    )


def test_explain_picks_the_error_line_over_warnings_usage_and_multierror_headers() -> None:
    assert explain(UNKNOWN_FLAG) == "unknown flag: --talosconfig"
    assert explain(ALREADY) == "etcd data directory is not empty (AlreadyExists)"
    assert explain("WARNING: x\n\n") == "no error message"


# ---------------------------------------------------------------------------------------
# Against the stand-in, found through PATH exactly as the real talosctl would be


@pytest.fixture
def generated(standin: Any, tmp_path: Path) -> Path:
    """A cluster's talosconfig and configs, made by `gen secrets` + `gen config`."""
    talosctl = Talosctl(None)
    out = tmp_path / "clusterconfig"
    talosctl.gen_secrets(tmp_path / "secrets.yaml")
    talosctl.gen_config(
        "pitower", "https://192.168.0.200:6443", secrets=tmp_path / "secrets.yaml",
        output_dir=out, talos_version="v1.12.4", kubernetes_version="v1.35.0",
        install_image=IMAGE,
    )
    return out


def online(generated: Path, **options: Any) -> Talosctl:
    return Talosctl(generated / "talosconfig", **options)


def test_the_standin_is_found_like_the_real_binary(standin: Any) -> None:
    assert Talosctl(None).binary in ("talosctl", os.environ.get("TALOSCTL"))
    assert re.fullmatch(r"v\d+\.\d+\.\d+", Talosctl(None).client_version())


def test_offline_commands_write_a_private_bundle_and_the_three_files(
    standin: Any, generated: Path, tmp_path: Path
) -> None:
    assert (tmp_path / "secrets.yaml").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in generated.iterdir()) == [
        "controlplane.yaml", "talosconfig", "worker.yaml"
    ]
    worker = (generated / "worker.yaml").read_text()
    assert IMAGE in worker
    assert "kind: HostnameConfig" in worker
    assert [call[:2] for call in standin.calls()] == [["gen", "secrets"], ["gen", "config"]]


def test_generated_configs_validate_and_a_broken_one_says_why(
    standin: Any, generated: Path, tmp_path: Path
) -> None:
    talosctl = Talosctl(None)
    talosctl.validate(generated / "controlplane.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text((generated / "worker.yaml").read_text().replace(
        "kind: HostnameConfig", "kind: HostnameConfig\nhostname: worker-09"
    ))
    with pytest.raises(CommandError) as caught:
        talosctl.validate(broken)
    assert str(caught.value).startswith(
        "broken.yaml is not valid for metal mode: HostnameConfig: 'auto' and 'hostname' cannot "
        "be set at the same time")
    assert "\n" not in str(caught.value)
    nested = tmp_path / "nested.yaml"
    nested.write_text((generated / "worker.yaml").read_text().replace(
        "type: worker", "type: gateway").replace("disk: /dev/sda", "disk: \"\""))
    with pytest.raises(CommandError) as caught:
        talosctl.validate(nested)
    assert str(caught.value) == (
        "nested.yaml is not valid for metal mode: v1alpha1.Config: either install disk or "
        'diskSelector should be defined; v1alpha1.Config: unknown machine type "gateway" '
        "(fix the patches it is made from)")


def test_reads_against_the_pitower_cluster(standin: Any, generated: Path) -> None:
    standin.pitower(bootstrapped=True, worker_01={"usage": {"/var/lib/containerd": 123456789}})
    talosctl = online(generated)
    members = {m.hostname: m for m in talosctl.members("192.168.0.201")}
    assert members["worker-05"].address == "192.168.0.205"
    assert members["worker-01"].machine_type == "controlplane"
    assert talosctl.server_version("192.168.0.204") == "v1.12.4"
    status = talosctl.machine_status("192.168.0.211")
    assert status.stage == "running" and status.ready
    assert talosctl.installed_schematic("192.168.0.201") == pitower_schematics()["worker-01"]
    images = talosctl.image_list("192.168.0.201")
    assert images and all(image.size_bytes > 0 for image in images)
    assert talosctl.usage("192.168.0.201", "/var/lib/containerd") == 123456789
    report = talosctl.health(
        "192.168.0.201", control_planes=[f"192.168.0.20{i}" for i in (1, 2, 3)],
        workers=[f"192.168.0.{i}" for i in (204, 205, 206, 211, 212, 213)],
    )
    assert "waiting for etcd to be healthy: OK" in report


def test_an_unhealthy_cluster_names_the_check_that_failed(standin: Any, generated: Path) -> None:
    standin.pitower()  # not bootstrapped: no etcd
    with pytest.raises(CommandError) as caught:
        online(generated).health("192.168.0.201", control_planes=["192.168.0.201"], workers=[])
    assert str(caught.value).startswith(
        "talosctl health on 192.168.0.201 failed: waiting for etcd to be healthy: etcd isn't "
        "healthy on 192.168.0.201: "
    )


def test_apply_dry_run_then_apply_then_nothing_left_to_change(
    standin: Any, generated: Path
) -> None:
    standin.pitower()
    talosctl = online(generated)
    config = generated / "worker.yaml"
    before = talosctl.apply_config("192.168.0.204", config, dry_run=True)
    assert before.changed and before.diff.startswith("--- a")
    applied = talosctl.apply_config("192.168.0.204", config)
    assert applied.changed and applied.message.startswith("Applied configuration")
    after = talosctl.apply_config("192.168.0.204", config, dry_run=True)
    assert not after.changed and after.diff == ""


def test_bootstrap_twice_is_true_then_false(standin: Any, generated: Path) -> None:
    standin.pitower()
    talosctl = online(generated)
    assert talosctl.bootstrap("192.168.0.201") is True
    assert talosctl.bootstrap("192.168.0.201") is False


def test_an_unreachable_node_is_one_line_naming_it(standin: Any, generated: Path) -> None:
    standin.pitower(worker_pi_02={"reachable": False})
    with pytest.raises(CommandError) as caught:
        online(generated).server_version("192.168.0.212")
    assert str(caught.value).startswith(
        "talosctl version on 192.168.0.212 failed: node is unreachable"
    )
    assert "\n" not in str(caught.value)


def test_lifecycle_commands_are_accepted_as_built(standin: Any, generated: Path) -> None:
    standin.pitower(bootstrapped=True)
    progress: list[str] = []
    talosctl = online(generated, progress=progress.append)
    talosctl.upgrade("192.168.0.204", IMAGE.replace("v1.12.4", "v1.12.5"))
    assert standin.node("192.168.0.204")["talos_version"] == "v1.12.5"
    assert standin.node("192.168.0.204")["schematic"] == SCHEMATIC
    assert progress and all("192.168.0.204" in line for line in progress)
    talosctl.reboot("192.168.0.211", wait=False)
    talosctl.reset("192.168.0.213", reboot=True, wait=False)
    talosctl.upgrade_k8s("192.168.0.201", "v1.35.0", dry_run=True)
    talosctl.kubeconfig("192.168.0.201", generated / "kubeconfig")
    assert (generated / "kubeconfig").stat().st_mode & 0o777 == 0o600


def test_a_failing_upgrade_is_reported_with_the_node(standin: Any, generated: Path) -> None:
    standin.pitower(worker_04={"fail_upgrade": "installer image could not be pulled"})
    with pytest.raises(CommandError) as caught:
        online(generated).upgrade("192.168.0.204", IMAGE)
    assert str(caught.value).startswith("talosctl upgrade on 192.168.0.204 failed: ")


def test_the_standin_saw_exactly_the_command_lines_the_adapter_built(
    standin: Any, generated: Path
) -> None:
    standin.pitower()
    built: list[list[str]] = []

    class Recording(Runner):
        def run(self, argv: Sequence[str], **options: Any) -> Result:
            built.append(list(argv)[1:])
            return super().run(argv, **options)

    talosctl = online(generated, runner=Recording())
    talosctl.members("192.168.0.201")
    talosctl.apply_config("192.168.0.204", generated / "worker.yaml", dry_run=True)
    talosctl.server_version("192.168.0.204")
    assert standin.calls()[-3:] == built


FLAG_ERRORS = re.compile(
    r"unknown (?:shorthand )?flag|unknown command|arg\(s\)|required flag|invalid argument|"
    r"flag needs an argument|bad flag syntax|rejected the command line"
)


@pytest.mark.slow
def test_the_standin_accepts_every_command_line_the_adapter_builds(
    standin: Any, generated: Path, tmp_path: Path
) -> None:
    """A wrong flag or argument anywhere in the adapter fails here, as it would for real."""
    standin.pitower(bootstrapped=True)
    work = tmp_path / "work"
    work.mkdir()
    for name in ("worker-01.yaml", "w.yaml"):
        (work / name).write_text((generated / "worker.yaml").read_text())
    (work / "s.yaml").write_text((tmp_path / "secrets.yaml").read_text())
    talosctl = online(generated)
    refused = []
    for name, call, _ in COMMAND_LINES:
        before = len(standin.calls())
        try:
            call(talosctl, work)
        except CommandError as exc:
            if FLAG_ERRORS.search(str(exc)):
                refused.append(f"{name}: {exc}")
        assert len(standin.calls()) == before + 1, name
    assert refused == []
