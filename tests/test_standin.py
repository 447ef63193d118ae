"""The talosctl stand-in against the facts of talosctl v1.12 (the shared CLI reference):
flag strictness, where output goes, formats, state changes, the call log, latency and
injected failures."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PITOWER_NODES, TALOSCTL, Standin

CP1 = "192.168.0.201"


def talosctl(*args: str, cwd: Path | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["talosctl", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, env={**os.environ, **(env or {})})


def stream(text: str) -> list[Any]:
    """A stream of JSON values, parsed the way a client of `get -o json` must."""
    decoder, items, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return items
        item, pos = decoder.raw_decode(text, pos)
        items.append(item)


@pytest.fixture
def cluster(standin: Standin, tmp_path: Path) -> Path:
    """The pitower state and a talosconfig for it; returns the talosconfig."""
    standin.pitower()
    out = tmp_path / "gen"
    result = talosctl("gen", "config", "pitower", "https://192.168.0.200:6443", "-o", str(out))
    assert result.returncode == 0, result.stderr
    return out / "talosconfig"


def online(talosconfig: Path, node: str, *args: str) -> subprocess.CompletedProcess[str]:
    return talosctl(*args, "--talosconfig", str(talosconfig), "--nodes", node,
                    "--endpoints", node)


# ---------------------------------------------------------------------------------------
# The fixture


def test_the_fixture_puts_the_stand_in_first_on_path(standin: Standin) -> None:
    assert os.environ["TALOSCTL"] == str(TALOSCTL)
    found = subprocess.run(["sh", "-c", "command -v talosctl"], capture_output=True,
                           text=True, check=True)
    assert found.stdout.strip() == str(TALOSCTL)


def test_pitower_state_has_the_nine_nodes_with_their_schematics(standin: Standin) -> None:
    data = standin.pitower(worker_05={"reachable": False}, latency=0.5)
    nodes = data["nodes"]
    assert [(n["hostname"], n["role"], ip) for ip, n in nodes.items()] == list(PITOWER_NODES)
    assert nodes["192.168.0.205"]["reachable"] is False
    assert data["latency"] == 0.5
    assert {n["talos_version"] for n in nodes.values()} == {"v1.12.4"}
    assert nodes[CP1]["schematic"] == nodes["192.168.0.202"]["schematic"]
    assert nodes[CP1]["schematic"] != nodes["192.168.0.211"]["schematic"]
    assert standin.state() == data


# ---------------------------------------------------------------------------------------
# Flags and commands


def test_version_client_prints_the_client_block_only(standin: Standin) -> None:
    result = talosctl("version", "--client")
    assert result.returncode == 0
    assert result.stdout.startswith("Client:\n\tTag:         v1.12.4\n")
    assert "Server:" not in result.stdout


def test_an_unknown_flag_fails_with_cobras_message_and_usage(standin: Standin) -> None:
    result = talosctl("version", "--colour")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("unknown flag: --colour\n\nUsage:\n  talosctl version")


def test_offline_commands_reject_connection_flags(standin: Standin, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    long_form = talosctl("gen", "config", "x", "https://a:6443", "--talosconfig", "t",
                         cwd=work)
    short_form = talosctl("validate", "-n", "1.2.3.4", "--mode", "metal", "-c", "x")
    assert long_form.returncode == short_form.returncode == 1
    assert long_form.stderr.startswith("unknown flag: --talosconfig\n")
    assert short_form.stderr.startswith("unknown shorthand flag: 'n' in -n\n")
    assert "Usage:" in short_form.stderr
    assert not list(work.iterdir())


def test_an_unknown_command_suggests_the_close_one(standin: Standin) -> None:
    result = talosctl("upgarde")
    assert result.returncode == 1
    assert result.stderr.startswith(
        'unknown command "upgarde" for "talosctl"\n\nDid you mean this?\n\tupgrade\n'
    )


def test_gen_config_writes_three_files_from_the_secrets_bundle(
    standin: Standin, tmp_path: Path
) -> None:
    assert talosctl("gen", "secrets", "-o", str(tmp_path / "s.yaml")).returncode == 0
    bundle = yaml.safe_load((tmp_path / "s.yaml").read_text())
    result = talosctl("gen", "config", "pitower", "https://192.168.0.200:6443",
                      "--with-secrets", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out"),
                      "--with-docs=false", "--with-examples=false",
                      "--talos-version", "v1.12.4", "--kubernetes-version", "v1.35.0",
                      "--install-image", "factory.talos.dev/installer/abc:v1.12.4")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    out = tmp_path / "out"
    assert result.stderr == (f"generating PKI and tokens\nCreated {out}/controlplane.yaml\n"
                             f"Created {out}/worker.yaml\nCreated {out}/talosconfig\n")
    docs = list(yaml.safe_load_all((out / "controlplane.yaml").read_text()))
    assert docs[-1] == {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "stable"}
    machine, cluster = docs[0]["machine"], docs[0]["cluster"]
    assert machine["token"] == bundle["trustdinfo"]["token"]
    assert cluster["secretboxEncryptionSecret"] == bundle["secrets"]["secretboxencryptionsecret"]
    assert machine["install"]["image"] == "factory.talos.dev/installer/abc:v1.12.4"
    assert machine["kubelet"]["image"] == "ghcr.io/siderolabs/kubelet:v1.35.0"
    talosconfig = yaml.safe_load((out / "talosconfig").read_text())
    assert talosconfig["contexts"]["pitower"]["endpoints"] == []
    for name in ("controlplane.yaml", "worker.yaml", "talosconfig"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644


def test_get_members_json_is_a_stream_of_sorted_objects(cluster: Path) -> None:
    result = online(cluster, CP1, "get", "members", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert not result.stdout.lstrip().startswith("[")
    members = stream(result.stdout)
    assert [m["spec"]["hostname"] for m in members] == [h for h, _, _ in PITOWER_NODES]
    assert list(members[0]) == ["metadata", "node", "spec"]
    assert list(members[0]["spec"]) == sorted(members[0]["spec"])
    worker_05 = members[4]["spec"]
    assert worker_05["addresses"] == ["192.168.0.205"]
    assert worker_05["machineType"] == "worker"


def test_every_invocation_is_logged_with_argv_and_times(standin: Standin) -> None:
    talosctl("version", "--client")
    talosctl("version", "--nope")
    assert standin.calls() == [["version", "--client"], ["version", "--nope"]]
    first = standin.log()[0]
    assert first["time"] <= first["end"]
    assert [entry["exit"] for entry in standin.log()] == [0, 1]
