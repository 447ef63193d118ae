"""The talosctl stand-in against the facts of talosctl v1.12 (the shared CLI reference):
flag strictness, where output goes, formats, state changes, the call log, latency and
injected failures. The facts taken from the Talos v1.12.4 source are stated in
``test_standin_fidelity.py``; where the two disagree, the source wins."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PITOWER_NODES, TALOSCTL, Standin
from standin.inprocess import call

CP1 = "192.168.0.201"


def talosctl(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             program: bool = False) -> subprocess.CompletedProcess[str]:
    """`talosctl ARGS` (``env`` added to ours): through the stand-in's in-process entry
    point, or as the program on PATH with ``program`` or another working folder ``cwd``."""
    if program or cwd is not None:
        return subprocess.run(["talosctl", *args], capture_output=True, text=True, cwd=cwd,
                              timeout=60, env={**os.environ, **(env or {})})
    outcome = call(args, environ={**os.environ, **(env or {})})
    return subprocess.CompletedProcess(["talosctl", *args], outcome.exit_code, outcome.stdout,
                                       outcome.stderr)


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


def online(talosconfig: Path, node: str, *args: str, program: bool = False
           ) -> subprocess.CompletedProcess[str]:
    return talosctl(*args, "--talosconfig", str(talosconfig), "--nodes", node,
                    "--endpoints", node, program=program)


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


# ---------------------------------------------------------------------------------------
# Flag handling as cobra/pflag do it


def test_nodes_accept_commas_and_repetition(cluster: Path) -> None:
    result = talosctl("get", "nodename", "-o", "json", "--talosconfig", str(cluster),
                      "-e", CP1, "-n", "192.168.0.201,192.168.0.202", "--nodes", "192.168.0.211")
    assert result.returncode == 0, result.stderr
    assert [o["spec"]["nodename"] for o in stream(result.stdout)] == [
        "worker-01", "worker-02", "worker-pi-01"]


def test_flags_may_come_before_the_subcommand(cluster: Path) -> None:
    result = talosctl("--talosconfig", str(cluster), "-n", CP1, "-e", CP1, "get", "nodename",
                      "-o", "yaml")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["spec"]["nodename"] == "worker-01"


def test_a_bool_flag_takes_its_value_only_with_equals(cluster: Path) -> None:
    spaced = online(cluster, CP1, "reboot", "--wait", "false")
    bad = online(cluster, CP1, "reboot", "--wait=maybe")
    assert spaced.returncode == bad.returncode == 1
    assert spaced.stderr.startswith('unknown command "false" for "talosctl reboot"\n')
    assert bad.stderr.startswith('invalid argument "maybe" for "--wait" flag: '
                                 'strconv.ParseBool: parsing "maybe": invalid syntax\n')


def test_argument_counts_and_missing_values_fail_with_usage(cluster: Path) -> None:
    no_type = online(cluster, CP1, "get")
    no_value = talosctl("get", "members", "-o")
    bad_duration = online(cluster, CP1, "upgrade", "--timeout", "soon")
    assert no_type.stderr.startswith("accepts between 1 and 2 arg(s), received 0\n\nUsage:")
    assert no_value.stderr.startswith("flag needs an argument: 'o' in -o\n")
    assert bad_duration.stderr.startswith(
        'invalid argument "soon" for "--timeout" flag: time: invalid duration "soon"')
    assert {no_type.returncode, no_value.returncode, bad_duration.returncode} == {1}


def test_a_command_group_alone_prints_its_help(standin: Standin) -> None:
    result = talosctl("gen")
    assert result.returncode == 0
    assert "Available Commands:" in result.stdout
    assert "secrets" in result.stdout


def test_an_explicit_missing_talosconfig_is_created_empty_and_the_call_fails(
    standin: Standin, tmp_path: Path
) -> None:
    standin.pitower()
    path = tmp_path / "nowhere" / "talosconfig"
    result = talosctl("version", "--talosconfig", str(path), "-n", CP1, "-e", CP1)
    assert result.returncode == 1
    assert "talos config file is empty" in result.stderr
    assert yaml.safe_load(path.read_text()) == {"context": "", "contexts": {}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_fresh_talosconfig_has_no_endpoints(cluster: Path) -> None:
    result = talosctl("version", "--talosconfig", str(cluster), "-n", CP1)
    assert result.returncode == 1
    assert result.stderr == "error constructing client: failed to determine endpoints\n"


def test_nodes_must_be_given(cluster: Path) -> None:
    result = talosctl("version", "--talosconfig", str(cluster), "-e", CP1)
    assert result.returncode == 1
    assert result.stderr.startswith("nodes are not set for the command")


def test_a_node_not_in_the_cluster_is_a_connection_error(cluster: Path) -> None:
    result = online(cluster, "192.168.0.99", "version")
    assert result.returncode == 1
    assert "dial tcp 192.168.0.99:50000: connect: no route to host" in result.stderr


def test_an_unreachable_node_behind_a_reachable_endpoint_fails_alone(
    standin: Standin, cluster: Path
) -> None:
    standin.pitower(worker_pi_02={"reachable": False})
    result = talosctl("get", "nodename", "-o", "json", "--talosconfig", str(cluster),
                      "-e", CP1, "-n", "192.168.0.211,192.168.0.212")
    assert result.returncode == 1
    assert [o["node"] for o in stream(result.stdout)] == ["192.168.0.211"]
    assert "* 192.168.0.212: rpc error: code = Unavailable" in result.stderr


@pytest.mark.parametrize("command", [["bootstrap"], ["kubeconfig", "-"],
                                     ["upgrade-k8s", "--to", "1.35.1"]])
def test_single_node_commands_refuse_several_nodes(cluster: Path, command: list[str]) -> None:
    result = online(cluster, "192.168.0.201,192.168.0.202", *command)
    assert result.returncode == 1
    assert result.stderr.startswith(f'command "{command[0]}" is not supported with multiple '
                                    'nodes\n')


# ---------------------------------------------------------------------------------------
# gen config, gen secrets


def test_gen_config_refuses_to_overwrite_without_force(standin: Standin, tmp_path: Path) -> None:
    args = ["gen", "config", "c", "https://10.0.0.1:6443", "-o", str(tmp_path / "o")]
    assert talosctl(*args).returncode == 0
    again = talosctl(*args)
    assert again.returncode == 1
    assert again.stderr.endswith(f'file "{tmp_path}/o/controlplane.yaml" already exists, use '
                                 "--force to overwrite\n")
    assert talosctl(*args, "--force").returncode == 0


def test_gen_config_to_stdout_takes_a_single_type(standin: Standin, tmp_path: Path) -> None:
    single = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "talosconfig",
                      "-o", "-", cwd=tmp_path)
    several = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-o", "-", cwd=tmp_path)
    assert single.returncode == 0
    assert yaml.safe_load(single.stdout)["context"] == "c"
    assert "Created" not in single.stderr
    assert several.returncode == 1
    assert several.stderr == "can't use multiple output types with stdout\n"


def test_gen_config_checks_the_endpoint(standin: Standin, tmp_path: Path) -> None:
    result = talosctl("gen", "config", "c", "10.0.0.1", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == ('no scheme and port specified for the cluster endpoint URL\n'
                             'try: "https://10.0.0.1:6443"\n')


def test_gen_config_defaults_follow_the_client_and_tag(standin: Standin, tmp_path: Path) -> None:
    plain = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "worker", "-o", "-")
    tagged = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "worker", "-o", "-",
                      env={"TAG": "latest"})
    install = yaml.safe_load_all(plain.stdout).__next__()["machine"]["install"]
    assert install["image"] == "ghcr.io/siderolabs/installer:v1.12.4"
    assert install["disk"] == "/dev/sda"
    tagged_install = next(yaml.safe_load_all(tagged.stdout))["machine"]["install"]
    assert tagged_install["image"] == "ghcr.io/siderolabs/installer:latest"


def test_gen_config_refuses_json_patches_on_multi_document_configs(
    standin: Standin, tmp_path: Path
) -> None:
    (tmp_path / "empty.patch").write_text("")
    json_patch = '[{"op": "add", "path": "/machine/network/hostname", "value": "x"}]'
    # The bundle patches all types, then control planes, then workers, and says which
    # step failed (siderolabs/talos#13029, #12613).
    for flag, where in (("--config-patch", "configs"),
                        ("--config-patch-control-plane", "control plane configs"),
                        ("--config-patch-worker", "worker config")):
        for patch in (json_patch, f"@{tmp_path / 'empty.patch'}"):
            result = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-o", "-", "-t",
                              "controlplane", flag, patch)
            assert result.returncode == 1
            assert result.stderr == (
                "generating PKI and tokens\n"
                f"failed to generate config bundle: error patching {where}: "
                "JSON6902 patches are not supported for multi-document machine "
                "configuration\n")


def test_gen_config_applies_strategic_patches_keeping_off_a_string(
    standin: Standin, tmp_path: Path
) -> None:
    patch = tmp_path / "hostname.patch"
    patch.write_text("apiVersion: v1alpha1\nkind: HostnameConfig\nauto: off\n"
                     "hostname: worker-01\n")
    result = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-o", "-", "-t",
                      "controlplane", "--config-patch-control-plane", f"@{patch}",
                      "--config-patch", '{"machine": {"certSANs": ["10.0.0.9"]}}')
    assert result.returncode == 0, result.stderr
    assert 'auto: "off"' in result.stdout
    docs = list(yaml.safe_load_all(result.stdout))
    assert docs[-1] == {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off",
                        "hostname": "worker-01"}
    assert docs[0]["machine"]["certSANs"] == ["10.0.0.9"]


def test_gen_config_comments_do_not_change_the_data(standin: Standin, tmp_path: Path) -> None:
    talosctl("gen", "secrets", "-o", str(tmp_path / "s.yaml"))
    common = ["gen", "config", "c", "https://10.0.0.1:6443", "--with-secrets",
              str(tmp_path / "s.yaml"), "-t", "controlplane", "-o", "-"]
    commented = talosctl(*common).stdout
    bare = talosctl(*common, "--with-docs=false", "--with-examples=false").stdout
    assert "# Indicates the schema used to decode the contents." in commented
    assert "# hostname: controlplane1" in commented
    assert "#" not in bare
    with_docs = list(yaml.safe_load_all(commented))
    without = list(yaml.safe_load_all(bare))
    assert with_docs[0]["cluster"].pop("extraManifests") == []
    assert with_docs[0]["cluster"].pop("inlineManifests") == []
    assert with_docs == without


def test_gen_config_for_an_older_contract_is_one_document(standin: Standin) -> None:
    result = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "worker", "-o", "-",
                      "--talos-version", "v1.11", "--with-docs=false")
    docs = list(yaml.safe_load_all(result.stdout))
    assert len(docs) == 1
    assert docs[0]["machine"]["features"]["stableHostname"] is True


def test_worker_config_carries_no_private_keys(standin: Standin) -> None:
    result = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "worker", "-o", "-")
    v1 = next(yaml.safe_load_all(result.stdout))
    assert v1["machine"]["ca"]["key"] == ""
    assert v1["cluster"]["ca"]["key"] == ""
    assert list(v1["cluster"]) == ["id", "secret", "controlPlane", "clusterName", "network",
                                   "token", "ca", "discovery"]
    assert "nodeLabels" not in v1["machine"]


def test_gen_secrets_writes_the_bundle_private(standin: Standin, tmp_path: Path) -> None:
    result = talosctl("gen", "secrets", cwd=tmp_path)
    path = tmp_path / "secrets.yaml"
    assert result.returncode == 0
    assert result.stdout == result.stderr == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    bundle = yaml.safe_load(path.read_text())
    assert list(bundle) == ["cluster", "secrets", "trustdinfo", "certs"]
    assert list(bundle["certs"]) == ["etcd", "k8s", "k8saggregator", "k8sserviceaccount", "os"]
    again = talosctl("gen", "secrets", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr == ('file "secrets.yaml" already exists, use --force to overwrite\n')


def test_gen_config_refuses_an_incomplete_bundle(standin: Standin, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("cluster: {id: x, secret: y}\n")
    result = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "--with-secrets",
                      str(tmp_path / "s.yaml"), "-o", str(tmp_path / "o"))
    assert result.returncode == 1
    assert "secrets.bootstraptoken" in result.stderr
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------
# machineconfig patch, validate


@pytest.fixture
def generated(standin: Standin, tmp_path: Path) -> Path:
    out = tmp_path / "cfg"
    result = talosctl("gen", "config", "pitower", "https://192.168.0.200:6443", "-o", str(out),
                      "--install-image", f"factory.talos.dev/installer/{'b' * 64}:v1.12.4")
    assert result.returncode == 0, result.stderr
    return out


def test_machineconfig_patch_prints_the_result_and_a_blank_line(generated: Path) -> None:
    config = generated / "worker.yaml"
    echoed = talosctl("machineconfig", "patch", str(config))
    patched = talosctl("mc", "patch", str(config), "-p",
                       '{"machine": {"install": {"disk": "/dev/nvme0n1"}}}')
    assert echoed.stdout == config.read_text() + "\n"
    assert patched.stdout.endswith("auto: stable\n\n")
    assert "#" not in patched.stdout
    assert next(yaml.safe_load_all(patched.stdout))["machine"]["install"]["disk"] == (
        "/dev/nvme0n1")


def test_machineconfig_patch_refuses_json_patches_on_v112_configs(generated: Path) -> None:
    result = talosctl("machineconfig", "patch", str(generated / "worker.yaml"), "-p",
                      '[{"op": "remove", "path": "/debug"}]')
    assert result.returncode == 1
    assert "JSON6902 patches are not supported for multi-document machine configuration" in (
        result.stderr)


def test_validate_prints_the_success_line(generated: Path) -> None:
    config = str(generated / "controlplane.yaml")
    result = talosctl("validate", "--config", config, "--mode", "metal")
    assert (result.returncode, result.stdout) == (0, f"{config} is valid for metal mode\n")


def test_validate_finds_the_hostname_conflict_and_a_missing_disk(generated: Path) -> None:
    bad = generated / "bad.yaml"
    result = talosctl("mc", "patch", str(generated / "worker.yaml"), "-o", str(bad), "-p",
                      '{"machine": {"network": {"hostname": "w1"}, "install": {"disk": ""}}}')
    assert result.returncode == 0
    metal = talosctl("validate", "-c", str(bad), "-m", "metal")
    assert metal.returncode == 1
    assert "static hostname is already set in v1alpha1 config" in metal.stderr
    assert "either install disk or diskSelector should be defined" in metal.stderr
    assert metal.stderr.startswith("WARNING: ")
    cloud = talosctl("validate", "-c", str(bad), "-m", "cloud")
    assert "install disk" not in cloud.stderr
    assert talosctl("validate", "-c", str(bad), "-m", "moon").stderr == (
        'unknown runtime mode: "moon"\n')


# ---------------------------------------------------------------------------------------
# apply-config


def test_apply_dry_run_prints_summary_and_diff_on_stderr_only(
    standin: Standin, cluster: Path, generated: Path
) -> None:
    config = generated / "controlplane.yaml"
    assert online(cluster, CP1, "apply-config", "-f", str(config)).returncode == 0
    changed = generated / "changed.yaml"
    talosctl("mc", "patch", str(config), "-o", str(changed), "-p",
             '{"machine": {"kubelet": {"registerWithFQDN": true}}}')
    before = standin.node(CP1)
    result = online(cluster, CP1, "apply-config", "--file", str(changed), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Dry run summary:\nApplied configuration without a reboot (skipped in dry-run).\n"
        "Config diff:\n\n--- a\n+++ b\n@@ ")
    assert "\n+        registerWithFQDN: true\n" in result.stderr
    assert standin.node(CP1) == before
    same = online(cluster, CP1, "apply-config", "-f", str(config), "--dry-run")
    assert same.stderr.endswith("Config diff:\n\nNo changes.\n")


def test_apply_stores_the_config_and_the_hostname_it_sets(
    standin: Standin, cluster: Path, generated: Path
) -> None:
    named = generated / "named.yaml"
    talosctl("mc", "patch", str(generated / "worker.yaml"), "-o", str(named), "-p",
             "apiVersion: v1alpha1\nkind: HostnameConfig\nauto: off\nhostname: worker-05b\n")
    result = online(cluster, "192.168.0.205", "apply-config", "-f", str(named), "--mode",
                    "no-reboot")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Applied configuration without a reboot\n"
    node = standin.node("192.168.0.205")
    assert node["config"] == named.read_text()
    assert node["hostname"] == "worker-05b"
    assert node.get("boots", 1) == 1


@pytest.mark.parametrize(("mode", "message"), [
    ("reboot", "Applied configuration with a reboot\n"),
    ("staged", "Staged configuration to be applied after the next reboot\n"),
    ("try", "Applied configuration without a reboot\nThe config is applied in 'try' mode "
            "and will be automatically reverted back in 1m0s\n"),
])
def test_apply_modes_report_what_the_node_did(
    standin: Standin, cluster: Path, generated: Path, mode: str, message: str
) -> None:
    result = online(cluster, "192.168.0.204", "apply-config", "-f",
                    str(generated / "worker.yaml"), "-m", mode)
    assert (result.returncode, result.stderr) == (0, message)
    node = standin.node("192.168.0.204")
    if mode == "staged":
        assert node["config"] is None
        assert node["staged_config"] == (generated / "worker.yaml").read_text()
        online(cluster, "192.168.0.204", "reboot")
        assert standin.node("192.168.0.204")["config"] == node["staged_config"]
    elif mode == "reboot":
        assert node["boots"] == 2


def test_apply_without_a_file_or_with_an_invalid_config_fails(
    cluster: Path, generated: Path
) -> None:
    missing = online(cluster, CP1, "apply-config")
    assert (missing.returncode, missing.stderr) == (1, "no filename supplied for "
                                                       "configuration\n")
    bad = generated / "bad.yaml"
    talosctl("mc", "patch", str(generated / "worker.yaml"), "-o", str(bad), "-p",
             '{"machine": {"network": {"hostname": "w1"}}}')
    invalid = online(cluster, CP1, "apply-config", "-f", str(bad))
    assert invalid.returncode == 1
    assert "code = InvalidArgument" in invalid.stderr
    assert "static hostname is already set in v1alpha1 config" in invalid.stderr


def test_insecure_apply_installs_a_maintenance_node(
    standin: Standin, cluster: Path, generated: Path
) -> None:
    standin.pitower(worker_06={"maintenance": True, "schematic": None,
                               "talos_version": "v1.12.0"})
    secure = online(cluster, "192.168.0.206", "version")
    assert secure.returncode == 1
    assert "certificate signed by unknown authority" in secure.stderr
    result = talosctl("apply-config", "--insecure", "-n", "192.168.0.206", "-f",
                      str(generated / "worker.yaml"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    node = standin.node("192.168.0.206")
    assert (node["maintenance"], node["talos_version"], node["schematic"]) == (
        False, "v1.12.4", "b" * 64)
    again = talosctl("apply-config", "--insecure", "-n", "192.168.0.206", "-f",
                     str(generated / "worker.yaml"))
    assert again.returncode == 1
    assert "tls: certificate required" in again.stderr
    # The maintenance service refuses the modes it cannot do (server-side, after dialing).
    standin.pitower(worker_06={"maintenance": True})
    staged = talosctl("apply-config", "-i", "-n", "192.168.0.206", "-f",
                      str(generated / "worker.yaml"), "--mode", "staged")
    assert staged.stderr == ("error applying new configuration: rpc error: code = "
                             "Unimplemented desc = apply configuration --mode='staged' is not "
                             "supported in maintenance mode\n")


# ---------------------------------------------------------------------------------------
# upgrade, upgrade-k8s


def factory(schematic: str, version: str) -> str:
    return f"factory.talos.dev/installer/{schematic}:{version}"


def test_upgrade_moves_the_node_to_the_images_version_and_schematic(
    standin: Standin, cluster: Path
) -> None:
    image = factory("c" * 64, "v1.12.5")
    result = online(cluster, "192.168.0.204", "upgrade", "--image", image)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert '"192.168.0.204": post check passed\n' in result.stderr
    node = standin.node("192.168.0.204")
    assert (node["talos_version"], node["schematic"]) == ("v1.12.5", "c" * 64)
    extensions = stream(online(cluster, "192.168.0.204", "get", "extensions", "-o",
                               "json").stdout)
    assert extensions[-1]["spec"]["metadata"] == {**extensions[-1]["spec"]["metadata"],
                                                  "name": "schematic", "version": "c" * 64}


def test_upgrade_without_wait_prints_the_ack_table(standin: Standin, cluster: Path) -> None:
    result = online(cluster, "192.168.0.204", "upgrade", "-i", factory("c" * 64, "v1.12.5"),
                    "--wait=false")
    assert result.returncode == 0
    header, row = result.stdout.splitlines()
    assert header.split() == ["NODE", "ACK", "STARTED"]
    assert row.startswith("192.168.0.204   Upgrade request received   ")
    assert " +0000 UTC m=+" in row


def test_an_injected_upgrade_failure_fails_and_keeps_the_version(
    standin: Standin, cluster: Path
) -> None:
    standin.pitower(worker_04={"fail_upgrade": "installer failed: no space left on device"})
    result = online(cluster, "192.168.0.204", "upgrade", "-i", factory("c" * 64, "v1.12.5"))
    assert result.returncode == 1
    assert '"192.168.0.204": installer failed: no space left on device\n' in result.stderr
    node = standin.node("192.168.0.204")
    assert (node["talos_version"], node["stage"]) == ("v1.12.4", "running")


@pytest.mark.slow
def test_upgrade_takes_the_injected_time_and_fails_past_its_timeout(
    standin: Standin, cluster: Path
) -> None:
    standin.pitower(worker_04={"upgrade_seconds": 0.6})
    start = time.monotonic()
    ok = online(cluster, "192.168.0.204", "upgrade", "-i", factory("c" * 64, "v1.12.5"))
    assert ok.returncode == 0
    assert time.monotonic() - start >= 0.6
    late = online(cluster, "192.168.0.204", "upgrade", "-i", factory("c" * 64, "v1.12.6"),
                  "--timeout", "200ms")
    assert late.returncode == 1
    assert "context deadline exceeded" in late.stderr


@pytest.mark.slow
def test_parallel_worker_upgrades_overlap_and_all_land(standin: Standin, cluster: Path) -> None:
    workers = ["192.168.0.204", "192.168.0.205", "192.168.0.206", "192.168.0.211"]
    standin.pitower(upgrade_seconds=0.8)
    results: dict[str, int] = {}

    def run(ip: str) -> None:
        results[ip] = online(cluster, ip, "upgrade", "-i", factory("d" * 64, "v1.12.5"),
                             program=True).returncode

    threads = [threading.Thread(target=run, args=(ip,)) for ip in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == dict.fromkeys(workers, 0)
    assert {standin.node(ip)["talos_version"] for ip in workers} == {"v1.12.5"}
    spans = [(e["time"], e["end"]) for e in standin.log() if e["argv"][0] == "upgrade"]
    assert max(start for start, _ in spans) < min(end for _, end in spans)


@pytest.mark.slow
def test_a_control_plane_upgrade_waits_for_healthy_etcd_peers(
    standin: Standin, cluster: Path
) -> None:
    standin.pitower(worker_01={"upgrade_seconds": 1.5, "bootstrapped": True})
    image = factory("e" * 64, "v1.12.5")
    first = subprocess.Popen(["talosctl", "upgrade", "-i", image, "--talosconfig",
                              str(cluster), "-n", CP1, "-e", CP1], stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 10  # until worker-01 has taken the upgrade, however slow
    while not standin.node(CP1).get("upgrades") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert standin.node(CP1)["upgrades"] == [image]
    second = online(cluster, "192.168.0.202", "upgrade", "-i", image)
    forced = online(cluster, "192.168.0.203", "upgrade", "-i", image, "--force")
    assert first.wait(timeout=30) == 0
    assert second.returncode == 1
    member = f"{int.from_bytes(hashlib.sha256(f'etcd:{CP1}'.encode()).digest()[:8], 'big'):016x}"
    assert f'"192.168.0.202": rpc error: code = Unknown desc = error validating etcd for ' \
        f"upgrade: etcd member {member} is not healthy" in second.stderr
    assert forced.returncode == 0


def test_upgrade_of_an_unreachable_node_fails(standin: Standin, cluster: Path) -> None:
    standin.pitower(worker_05={"reachable": False})
    result = online(cluster, "192.168.0.205", "upgrade", "-i", factory("c" * 64, "v1.12.5"))
    assert result.returncode == 1
    assert "dial tcp 192.168.0.205:50000" in result.stderr


def test_upgrade_k8s_moves_every_node_and_dry_run_changes_nothing(
    standin: Standin, cluster: Path
) -> None:
    standin.pitower(bootstrapped=True)
    dry = online(cluster, CP1, "upgrade-k8s", "--to", "1.35.1", "--dry-run")
    assert dry.returncode == 0
    assert " > skipped in dry-run\n" in dry.stdout
    assert {n["kubernetes_version"] for n in standin.state()["nodes"].values()} == {"1.35.0"}
    real = online(cluster, CP1, "upgrade-k8s", "--to", "v1.35.1")
    assert real.returncode == 0, real.stderr
    assert real.stdout.startswith("automatically detected the lowest Kubernetes version "
                                  "1.35.0\n")
    assert {n["kubernetes_version"] for n in standin.state()["nodes"].values()} == {"1.35.1"}


# ---------------------------------------------------------------------------------------
# bootstrap, kubeconfig, reboot, reset


def test_bootstrap_twice_fails_with_already_exists(standin: Standin, cluster: Path) -> None:
    first = online(cluster, CP1, "bootstrap")
    second = online(cluster, CP1, "bootstrap")
    assert (first.returncode, first.stdout, first.stderr) == (0, "", "")
    assert standin.node(CP1)["bootstrapped"] is True
    assert second.returncode == 1
    assert second.stderr == (
        "error executing bootstrap: 1 error occurred:\n"
        "\t* 192.168.0.201: rpc error: code = AlreadyExists desc = etcd data directory is "
        "not empty\n\n\n")
    worker = online(cluster, "192.168.0.204", "bootstrap")
    assert "bootstrap can only be performed on a control plane node" in worker.stderr


def test_kubeconfig_is_written_private_and_not_overwritten(
    standin: Standin, cluster: Path, tmp_path: Path
) -> None:
    target = tmp_path / "kube" / "config"
    first = online(cluster, CP1, "kubeconfig", str(target), "--merge=false")
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    config = yaml.safe_load(target.read_text())
    assert config["current-context"] == "admin@pitower"
    assert config["clusters"][0]["cluster"]["server"] == "https://192.168.0.200:6443"
    again = online(cluster, CP1, "kubeconfig", str(target), "--merge=false")
    assert again.returncode == 1
    assert again.stderr == ('kubeconfig file already exists, use --force to overwrite: '
                            f'"{target}"\n')
    assert online(cluster, CP1, "kubeconfig", str(target), "-f", "-m=false").returncode == 0
    merged = online(cluster, CP1, "kubeconfig", str(target))
    assert merged.stdout == ('renamed cluster "pitower" -> "pitower-1"\n'
                             'renamed auth info "admin@pitower" -> "admin@pitower-1"\n'
                             'renamed context "admin@pitower" -> "admin@pitower-1"\n')
    to_stdout = online(cluster, CP1, "kubeconfig", "-")
    assert yaml.safe_load(to_stdout.stdout)["kind"] == "Config"


def test_reboot_counts_a_boot_and_rejects_unknown_modes(standin: Standin, cluster: Path) -> None:
    result = online(cluster, "192.168.0.212", "reboot")
    assert result.returncode == 0
    assert standin.node("192.168.0.212")["boots"] == 2
    bad = online(cluster, "192.168.0.212", "reboot", "--mode", "gentle")
    assert (bad.returncode, bad.stderr) == (1, 'invalid reboot mode: "gentle"\n')


def test_reset_wipes_what_it_is_told_and_records_it(standin: Standin, cluster: Path) -> None:
    standin.pitower(bootstrapped=True)
    partial = online(cluster, "192.168.0.203", "reset", "--graceful=false", "--reboot",
                     "--system-labels-to-wipe", "EPHEMERAL", "--system-labels-to-wipe", "META")
    assert partial.returncode == 0, partial.stderr
    node = standin.node("192.168.0.203")
    assert node["resets"] == [{"labels": ["EPHEMERAL", "META"], "graceful": False,
                               "reboot": True, "user_disks": []}]
    assert node["bootstrapped"] is False
    full = online(cluster, "192.168.0.212", "reset", "--reboot")
    assert full.returncode == 0
    assert standin.node("192.168.0.212")["maintenance"] is True
    off = online(cluster, "192.168.0.213", "reset", "--wait=false")
    assert off.returncode == 0
    assert standin.node("192.168.0.213")["reachable"] is False


# ---------------------------------------------------------------------------------------
# health, version, get, image list, usage, config


def ips(role: str) -> str:
    return ",".join(ip for _, r, ip in PITOWER_NODES if (r == "controlplane") == (
        role == "controlplane"))


def test_health_reports_progress_on_stderr(standin: Standin, cluster: Path) -> None:
    standin.pitower(bootstrapped=True)
    result = online(cluster, CP1, "health", "--control-plane-nodes", ips("controlplane"),
                    "--worker-nodes", ips("worker"), "--wait-timeout", "1m")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith('discovered nodes: ["192.168.0.201" '
                                    '"192.168.0.202" "192.168.0.203" "192.168.0.204" ')
    assert ("\nwaiting for etcd to be healthy: ...\n"
            "waiting for etcd to be healthy: OK\n") in result.stderr
    assert result.stderr.endswith("waiting for all k8s nodes to report schedulable: OK\n")


def test_health_fails_for_an_unreachable_or_unlisted_node(standin: Standin, cluster: Path) -> None:
    standin.pitower(bootstrapped=True, worker_pi_03={"reachable": False})
    down = online(cluster, CP1, "health", "--control-plane-nodes", ips("controlplane"),
                  "--worker-nodes", ips("worker"))
    assert down.returncode == 1
    assert "waiting for apid to be ready: 1 error occurred:\n\t* 192.168.0.213:" in down.stderr
    standin.pitower(bootstrapped=True)
    unlisted = online(cluster, CP1, "health", "--control-plane-nodes", ips("controlplane"),
                      "--worker-nodes", "192.168.0.204")
    assert unlisted.returncode == 1
    assert "unexpected nodes with IPs" in unlisted.stderr
    fresh = online(cluster, CP1, "health", "--control-plane-nodes", ips("controlplane"))
    standin.pitower()
    fresh = online(cluster, CP1, "health")
    assert fresh.returncode == 1
    assert "waiting for etcd to be healthy: etcd isn't healthy" in fresh.stderr


def test_version_prints_a_server_block_per_node(standin: Standin, cluster: Path) -> None:
    standin.pitower(worker_02={"talos_version": "v1.12.3"})
    result = talosctl("version", "--short", "--talosconfig", str(cluster), "-e", CP1, "-n",
                      "192.168.0.201,192.168.0.202")
    assert result.returncode == 0
    assert result.stdout.startswith("Client:\nTalos v1.12.4\nServer:\n\tNODE:        "
                                    "192.168.0.201\n\tTag:         v1.12.4\n")
    assert "\tNODE:        192.168.0.202\n\tTag:         v1.12.3\n" in result.stdout


def test_get_speaks_table_and_yaml_and_refuses_other_formats(cluster: Path) -> None:
    table = online(cluster, CP1, "get", "machinestatus")
    assert table.stdout.splitlines()[0].split() == [
        "NODE", "NAMESPACE", "TYPE", "ID", "VERSION", "STAGE", "READY"]
    assert table.stdout.splitlines()[1].split()[-2:] == ["running", "true"]
    documents = online(cluster, CP1, "get", "members", "-o", "yaml").stdout
    assert documents.count("\n---\n") == len(PITOWER_NODES) - 1
    first = next(yaml.safe_load_all(documents))
    assert list(first) == ["node", "metadata", "spec"]
    assert list(first["metadata"])[:4] == ["namespace", "type", "id", "version"]
    bad = online(cluster, CP1, "get", "members", "-o", "xml")
    assert (bad.returncode, bad.stderr) == (1, 'output format "xml" is not supported\n')


def test_get_warns_when_a_node_is_older_than_the_client(standin: Standin, cluster: Path) -> None:
    standin.pitower(worker_04={"talos_version": "v1.12.1"})
    result = online(cluster, "192.168.0.204", "get", "machinestatus")
    assert result.returncode == 0
    # talosctl prints semver forms (no "v"), all older nodes on one line.
    assert result.stderr == ("WARNING: 192.168.0.204: server version 1.12.1 is older than "
                             "client version 1.12.4\n")


def test_image_list_humanizes_sizes(standin: Standin, cluster: Path) -> None:
    images = [{"name": "docker.io/library/nginx:1.27", "digest": "sha256:" + "1" * 64,
               "size": 72_400_000, "created": "2026-03-01T00:00:00Z"},
              {"name": "registry.k8s.io/etcd:v3.6.5", "digest": "sha256:" + "2" * 64,
               "size": 8_123, "created": "2026-03-01T00:00:00Z", "namespace": "system"}]
    standin.pitower(worker_04={"images": images})
    cri = online(cluster, "192.168.0.204", "image", "list")
    system = online(cluster, "192.168.0.204", "image", "ls", "--namespace", "system")
    assert cri.stdout.splitlines()[0].split() == ["NODE", "IMAGE", "DIGEST", "SIZE", "CREATED"]
    assert "   72 MB   2026-03-01T00:00:00Z" in cri.stdout
    assert "etcd" not in cri.stdout
    assert "   8.1 kB   " in system.stdout


def test_usage_reports_the_bytes_in_the_state(standin: Standin, cluster: Path) -> None:
    standin.pitower(worker_04={"usage": {"/var/lib/containerd": 5_000_000_000}})
    result = online(cluster, "192.168.0.204", "usage", "/var/lib/containerd", "--depth", "0")
    assert result.returncode == 0
    assert result.stdout.splitlines()[1].split() == ["192.168.0.204", "5000000000", "."]
    missing = online(cluster, "192.168.0.204", "usage", "/nope")
    assert missing.returncode == 1
    assert "no such file or directory" in missing.stderr


def test_config_endpoint_node_and_merge_edit_the_talosconfig(
    standin: Standin, cluster: Path, tmp_path: Path
) -> None:
    assert talosctl("--talosconfig", str(cluster), "config", "endpoint", CP1).returncode == 0
    assert talosctl("config", "node", CP1, "192.168.0.202",
                    "--talosconfig", str(cluster)).returncode == 0
    context = yaml.safe_load(cluster.read_text())["contexts"]["pitower"]
    assert (context["endpoints"], context["nodes"]) == ([CP1], [CP1, "192.168.0.202"])
    assert talosctl("version", "--talosconfig", str(cluster)).returncode == 0
    merged = tmp_path / "merged"
    assert talosctl("config", "merge", str(cluster), "--talosconfig", str(merged)
                    ).returncode == 0
    # v1.12 reports renames on stderr (talosctl's config merge; stdout stays empty).
    again = talosctl("config", "merge", str(cluster), "--talosconfig", str(merged))
    assert (again.stdout, again.stderr) == (
        "", 'renamed talosconfig context "pitower" -> "pitower-1"\n')
    assert sorted(yaml.safe_load(merged.read_text())["contexts"]) == ["pitower", "pitower-1"]


# ---------------------------------------------------------------------------------------
# State, log and latency


def test_global_latency_slows_every_call_to_a_node(standin: Standin, cluster: Path) -> None:
    standin.pitower(latency=0.4)
    start = time.monotonic()
    assert online(cluster, CP1, "get", "machinestatus").returncode == 0
    assert time.monotonic() - start >= 0.4
    # An offline command does not pay it: with an hour of latency it still returns.
    standin.pitower(latency=3600.0)
    offline = subprocess.run(["talosctl", "version", "--client"], capture_output=True,
                             text=True, timeout=120)
    assert offline.returncode == 0


def test_the_log_records_the_talosconfig_environment(standin: Standin, cluster: Path) -> None:
    talosctl("version", "--client", env={"TALOSCONFIG": "/somewhere/talosconfig"})
    entry = standin.log()[-1]
    assert entry["argv"] == ["version", "--client"]
    assert entry["env_talosconfig"] == "/somewhere/talosconfig"


@pytest.mark.parametrize("program", [True, False], ids=["programs", "threads"])
def test_parallel_state_changes_are_not_lost(
    standin: Standin, cluster: Path, program: bool
) -> None:
    def reboot() -> None:
        online(cluster, "192.168.0.204", "reboot", "--wait=false", program=program)

    threads = [threading.Thread(target=reboot) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert standin.node("192.168.0.204")["boots"] == 9


def test_the_cluster_vip_answers_while_a_control_plane_does(
    standin: Standin, cluster: Path
) -> None:
    vip = "192.168.0.200"
    through_vip = talosctl("get", "nodename", "--talosconfig", str(cluster), "-e", vip, "-n",
                           "192.168.0.204", "-o", "json")
    assert through_vip.returncode == 0, through_vip.stderr
    standin.pitower(worker_01={"reachable": False}, worker_02={"reachable": False},
                    worker_03={"reachable": False})
    down = talosctl("get", "nodename", "--talosconfig", str(cluster), "-e", vip, "-n",
                    "192.168.0.204")
    assert down.returncode == 1
    assert "dial tcp 192.168.0.200:50000" in down.stderr


def test_validate_refuses_a_yaml_11_boolean_in_hostname_auto(generated: Path) -> None:
    text = (generated / "worker.yaml").read_text().replace("auto: stable", "auto: false")
    broken = generated / "false.yaml"
    broken.write_text(text)
    result = talosctl("validate", "-c", str(broken), "-m", "metal")
    assert result.returncode == 1
    assert "false does not belong to AutoHostnameKind values" in result.stderr


def test_a_talosconfig_variable_naming_a_missing_file_falls_back_silently(
    standin: Standin, cluster: Path, tmp_path: Path
) -> None:
    talosctl("--talosconfig", str(cluster), "config", "endpoint", CP1)
    talosctl("--talosconfig", str(cluster), "config", "node", CP1)
    fallback = Path(os.environ["TALOS_HOME"]) / "config"
    fallback.parent.mkdir(parents=True)
    fallback.write_text(cluster.read_text())
    result = talosctl("version", env={"TALOSCONFIG": str(tmp_path / "missing")})
    assert result.returncode == 0, result.stderr
    assert "\tNODE:        192.168.0.201\n" in result.stdout
    assert not (tmp_path / "missing").exists()


# ---------------------------------------------------------------------------------------
# Generated configuration against the reference's real v1.12 output

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "talos" / (
    "talosctl-cli.md")
SECRET_KEYS = {"token", "crt", "key", "id", "secret", "secretboxEncryptionSecret"}


def reference_controlplane() -> list[Any]:
    if not REFERENCE.exists():
        pytest.skip("talosctl reference not available")
    text = REFERENCE.read_text()
    section = text.split("### Exact generated controlplane.yaml (no comments)", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    return list(yaml.safe_load_all(block))


def same_shape(ours: Any, theirs: Any, path: str = "") -> None:
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), path
        assert list(ours) == list(theirs), path
        for key in theirs:
            if key not in SECRET_KEYS:
                same_shape(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            same_shape(a, b, f"{path}[{i}]")
    else:
        assert ours == theirs, path


def test_gen_config_matches_the_real_v112_generator_output(standin: Standin) -> None:
    theirs = reference_controlplane()
    result = talosctl("gen", "config", "demo", "https://10.5.0.2:6443", "-t", "controlplane",
                      "-o", "-", "--with-docs=false", "--with-examples=false",
                      "--kubernetes-version", "1.35.4",
                      "--install-image", "ghcr.io/siderolabs/installer:v1.12.11")
    assert result.returncode == 0, result.stderr
    ours = list(yaml.safe_load_all(result.stdout))
    same_shape(ours, theirs)
    assert "\n    kubelet:\n        image: ghcr.io/siderolabs/kubelet:v1.35.4\n" in (
        result.stdout)
    assert result.stdout.endswith("---\napiVersion: v1alpha1\nkind: HostnameConfig\n"
                                  "auto: stable\n")


def test_help_goes_to_stdout_and_exits_zero(standin: Standin) -> None:
    result = talosctl("upgrade", "--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert "  -i, --image string" in result.stdout
    assert "--preserve" not in result.stdout
    assert "      --talosconfig string" in result.stdout


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m0s", 1800.0), ("1m", 60.0), ("1h30m", 5400.0), ("200ms", 0.2), ("0", 0.0),
    ("1.5s", 1.5),
])
def test_durations_parse_as_go_parses_them(text: str, seconds: float) -> None:
    from standin.flags import parse_duration

    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("size", "shown"), [
    (5, "5 B"), (999, "999 B"), (8_123, "8.1 kB"), (27_372_145, "27 MB"),
    (1_234_567_890, "1.2 GB"), (10_000, "10 kB"),
])
def test_sizes_are_humanized_in_si_units(size: int, shown: str) -> None:
    from standin.resources import humanize_bytes

    assert humanize_bytes(size) == shown


def test_a_maintenance_node_answers_only_insecure_calls_with_its_stage(
    standin: Standin, cluster: Path
) -> None:
    standin.pitower(worker_04={"maintenance": True})
    result = talosctl("get", "machinestatus", "--insecure", "-n", "192.168.0.204", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert stream(result.stdout)[0]["spec"]["stage"] == "maintenance"
    members = stream(online(cluster, CP1, "get", "members", "-o", "json").stdout)
    assert "worker-04" not in [m["spec"]["hostname"] for m in members]


def test_upgrade_reads_the_schematic_from_the_image_reference(
    standin: Standin, cluster: Path
) -> None:
    stock = online(cluster, "192.168.0.211", "upgrade", "-i",
                   "ghcr.io/siderolabs/installer:v1.12.5")
    assert stock.returncode == 0, stock.stderr
    assert standin.node("192.168.0.211")["schematic"] == (
        "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba")
    untagged = online(cluster, "192.168.0.212", "upgrade", "-i", "factory.talos.dev/installer")
    assert untagged.returncode == 1
    assert 'error validating installer image "factory.talos.dev/installer"' in untagged.stderr
    assert standin.node("192.168.0.212")["talos_version"] == "v1.12.4"


# ---------------------------------------------------------------------------------------
# Audit against the CLI reference: aliases, error texts, output order


def test_machineconfig_gen_is_gen_config_without_any_flag(
    standin: Standin, tmp_path: Path
) -> None:
    made = talosctl("mc", "gen", "demo", "https://10.5.0.2:6443", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stderr == ("generating PKI and tokens\n"
                           f"Created {tmp_path / 'controlplane.yaml'}\n"
                           f"Created {tmp_path / 'worker.yaml'}\n"
                           f"Created {tmp_path / 'talosconfig'}\n")
    config = list(yaml.safe_load_all((tmp_path / "controlplane.yaml").read_text()))
    assert config[0]["machine"]["install"]["disk"] == "/dev/sda"
    assert config[-1] == {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "stable"}
    again = talosctl("machineconfig", "gen", "demo", "https://10.5.0.2:6443", cwd=tmp_path)
    assert again.returncode == 1
    assert f'file "{tmp_path / "controlplane.yaml"}" already exists' in again.stderr
    for flag in ("--force", "-o", "--with-secrets"):
        refused = talosctl("mc", "gen", "demo", "https://10.5.0.2:6443", flag, "x",
                           cwd=tmp_path)
        assert refused.returncode == 1
        assert refused.stderr.startswith(("unknown flag: " + flag,
                                          f"unknown shorthand flag: '{flag[1:]}'"))
        assert "talosctl machineconfig gen <cluster name> <cluster endpoint> [flags]" in (
            refused.stderr)


def test_gen_config_option_errors_read_as_talosctls(standin: Standin, tmp_path: Path) -> None:
    def gen(*args: str) -> subprocess.CompletedProcess[str]:
        return talosctl("gen", "config", "c", "https://10.0.0.1:6443", *args, cwd=tmp_path)

    cases = {
        ("--version", "v2"): 'unknown config version: "v2"\n',
        ("-t", "controlplane,bogus", "-o", "x"): (
            '1 error occurred:\n\t* invalid output type: "bogus"\n\n\n'),
        ("--output-dir", "a", "-o", "b"): "can't use both output-dir and output\n",
        ("--registry-mirror", "docker.io"): 'invalid registry mirror spec: "docker.io"\n',
        ("--config-patch", "@missing.yaml"): (
            "error parsing config JSON patch: open missing.yaml: no such file or directory\n"),
    }
    for args, stderr in cases.items():
        result = gen(*args)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", stderr), args
    assert [p.name for p in tmp_path.iterdir()] == ["standin"]  # nothing written


def test_apply_takes_the_config_word_only_through_the_apply_alias(
    cluster: Path, generated: Path
) -> None:
    config = str(generated / "controlplane.yaml")
    for word in ("config", "machineconfig", "MachineConfig"):
        ok = online(cluster, CP1, "apply", word, "-f", config, "--dry-run")
        assert ok.returncode == 0, ok.stderr
        assert ok.stderr.startswith("Dry run summary:\n")
    direct = online(cluster, CP1, "apply-config", "config", "-f", config)
    assert (direct.returncode, direct.stderr) == (1, "expected no positional arguments\n")
    assert direct.stdout.startswith("Apply a new configuration to a node\n\nUsage:\n")
    other = online(cluster, CP1, "apply", "cfg", "-f", config)
    assert (other.returncode, other.stderr) == (1, "unknown positional argument cfg\n")
    two = online(cluster, CP1, "apply", "config", "config", "-f", config)
    assert two.returncode == 1
    assert two.stderr.startswith("accepts at most 1 arg(s), received 2\n\nUsage:\n")
    missing = online(cluster, CP1, "apply-config", "-f", "nope.yaml")
    assert (missing.returncode, missing.stderr) == (
        1, 'failed to read configuration from "nope.yaml": open nope.yaml: '
           "no such file or directory\n")


def test_enum_flags_refuse_other_values_while_parsing_and_list_their_options(
    cluster: Path,
) -> None:
    mode = online(cluster, CP1, "apply-config", "-f", "x", "--mode", "later")
    assert mode.returncode == 1
    assert mode.stderr.startswith(
        'invalid argument "later" for "-m, --mode" flag: possible options are: auto, '
        "no-reboot, reboot, staged, try\n\nUsage:\n")
    wipe = online(cluster, CP1, "reset", "--wipe-mode", "everything")
    assert wipe.returncode == 1
    assert wipe.stderr.startswith(
        'invalid argument "everything" for "--wipe-mode" flag: possible options are: all, '
        "system-disk, user-disks\n\nUsage:\n")
    assert "--wipe-mode all, system-disk, user-disks   disk reset mode (default all)" in (
        talosctl("reset", "--help").stdout)


def test_upgrade_reboot_mode_is_case_insensitive_and_named_bare_when_wrong(
    standin: Standin, cluster: Path
) -> None:
    image = "ghcr.io/siderolabs/installer:v1.12.5"
    ok = online(cluster, "192.168.0.211", "upgrade", "-i", image, "-m", "PowerCycle",
                "--wait=false")
    assert ok.returncode == 0, ok.stderr
    bad = online(cluster, "192.168.0.212", "upgrade", "-i", image, "-m", "kexec")
    assert (bad.returncode, bad.stderr) == (1, "invalid reboot mode: kexec\n")
    debug = online(cluster, "192.168.0.212", "upgrade", "-i", image, "--insecure",
                   "--wait=false", "--debug")
    assert (debug.returncode, debug.stderr) == (
        1, "cannot use --wait and --insecure together\n")


def test_version_prints_the_server_heading_before_connecting(
    standin: Standin, cluster: Path
) -> None:
    down = talosctl("version", "--short", "--talosconfig", str(cluster), "-e", CP1, "-n",
                    "10.9.9.9")
    assert down.returncode == 1
    assert down.stdout == "Client:\nTalos v1.12.4\nServer:\n"
    assert down.stderr.startswith("error getting version: 1 error occurred:\n\t* 10.9.9.9: ")
    empty = cluster.with_name("empty-talosconfig")
    failed = talosctl("version", "--talosconfig", str(empty), "-n", CP1)
    assert failed.returncode == 1
    assert failed.stdout.endswith("\tOS/Arch:     linux/amd64\nServer:\n")


def test_version_warns_about_nodes_that_fail_while_others_answer(
    standin: Standin, cluster: Path
) -> None:
    result = talosctl("version", "--talosconfig", str(cluster), "-e", CP1, "-n",
                      f"{CP1},10.9.9.9")
    assert result.returncode == 0, result.stderr
    assert f"\tNODE:        {CP1}\n" in result.stdout
    assert "10.9.9.9" not in result.stdout
    assert result.stderr.startswith("WARNING: 1 error occurred:\n\t* 10.9.9.9: rpc error: ")
    json_only = talosctl("version", "--json", "--client", "--talosconfig", str(cluster), "-e",
                         CP1, "-n", CP1)
    assert json_only.returncode == 0, json_only.stderr
    assert "Client:" not in json_only.stdout
    assert stream(json_only.stdout)[0]["metadata"] == {"hostname": CP1}


def test_validate_reads_the_config_before_it_looks_at_the_mode(
    standin: Standin, tmp_path: Path
) -> None:
    missing = talosctl("validate", "-c", str(tmp_path / "none.yaml"), "-m", "bogus")
    assert (missing.returncode, missing.stderr) == (
        1, f"open {tmp_path / 'none.yaml'}: no such file or directory\n")
    unnamed = talosctl("validate", "-m", "metal")
    assert (unnamed.returncode, unnamed.stderr) == (1, "open : no such file or directory\n")
    (tmp_path / "empty.yaml").write_text("")
    empty = talosctl("validate", "-c", str(tmp_path / "empty.yaml"), "-m", "metal")
    assert (empty.returncode, empty.stderr) == (1, "config not found\n")


def test_get_over_the_maintenance_api_names_no_node(standin: Standin) -> None:
    standin.pitower(worker_04={"maintenance": True})
    args = ("get", "machinestatus", "--insecure", "-n", "192.168.0.204")
    as_json = talosctl(*args, "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert stream(as_json.stdout)[0]["node"] == ""
    as_yaml = talosctl(*args, "-o", "yaml")
    assert as_yaml.stdout.startswith("node: \nmetadata:\n    namespace: runtime\n")
    table = talosctl(*args).stdout.splitlines()
    assert table[1].startswith(" " * len("NODE   ") + "runtime")
    assert table[1].split()[:3] == ["runtime", "MachineStatus", "machine"]


def test_get_jsonpath_prints_each_result_on_a_line_the_go_way(cluster: Path) -> None:
    def path(expr: str, kind: str = "members") -> subprocess.CompletedProcess[str]:
        return online(cluster, CP1, "get", kind, "-o", f"jsonpath={expr}")

    first = path("{.spec.addresses[0]}")
    assert first.stdout.splitlines()[:2] == ["192.168.0.201", "192.168.0.202"]
    assert path("{.spec.status.ready}", "machinestatus").stdout == "true\n"
    assert path("{.metadata.version}", "machinestatus").stdout == "5\n"
    assert path("{.spec.controlPlane}").stdout.startswith('{\n    "port": 6443\n}\n')
    assert path("{.spec.addresses}").stdout.startswith('[\n    "192.168.0.201"\n]\n')
    missing = path("{.spec.nope}", "machinestatus")
    assert missing.returncode == 1
    assert "nope is not found" in missing.stderr
    broken = path("{.spec", "machinestatus")
    assert (broken.returncode, broken.stderr) == (1, "error parsing jsonpath: unclosed action\n")


def test_upgrade_ack_table_pads_rows_not_the_header_and_warns_for_failed_nodes(
    standin: Standin, cluster: Path
) -> None:
    result = talosctl("upgrade", "--talosconfig", str(cluster), "-e", CP1, "-n",
                      "192.168.0.204,10.1.1.1", "-i", "ghcr.io/siderolabs/installer:v1.12.5",
                      "--wait=false")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header == "NODE            ACK                        STARTED"
    assert row.startswith("192.168.0.204   Upgrade request received   ") and row.endswith("   ")
    assert result.stderr.startswith("WARNING: 1 error occurred:\n\t* 10.1.1.1: rpc error: ")
    none = talosctl("upgrade", "--talosconfig", str(cluster), "-e", CP1, "-n", "10.1.1.1",
                    "-i", "ghcr.io/siderolabs/installer:v1.12.5", "--wait=false")
    assert (none.returncode, none.stdout) == (1, "")
    assert none.stderr.startswith("error performing upgrade: 1 error occurred:\n")


def test_gen_config_names_a_single_output_file_as_given(standin: Standin, tmp_path: Path) -> None:
    first = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "talosconfig", "-o",
                     "./tc", cwd=tmp_path)
    assert first.stderr == "generating PKI and tokens\nCreated ./tc\n"
    again = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "talosconfig", "-o",
                     "./tc", cwd=tmp_path)
    assert again.stderr.endswith('file "./tc" already exists, use --force to overwrite\n')
    spread = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-o", "./out/",
                      cwd=tmp_path)
    assert "Created out/controlplane.yaml\n" in spread.stderr


def test_talos_version_contracts_parse_as_talos_does(standin: Standin, tmp_path: Path) -> None:
    bad = talosctl("gen", "secrets", "--talos-version", "garbage", "-o", "-")
    assert (bad.returncode, bad.stderr) == (
        1, 'invalid talos-version: error parsing version "vgarbage"\n')
    suffixed = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "worker", "-o",
                        "-", "--talos-version", "v1.12-rc")
    assert suffixed.stderr.endswith('error parsing version "v1.12-rc"\n')
    bare = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "worker", "-o", "-",
                    "--talos-version", "1.11.3")
    assert bare.returncode == 0, bare.stderr
    assert len(list(yaml.safe_load_all(bare.stdout))) == 1


def test_gen_secrets_sources_fail_with_talosctls_words(standin: Standin, tmp_path: Path) -> None:
    config = talosctl("gen", "secrets", "--from-controlplane-config", "nope.yaml",
                      cwd=tmp_path)
    assert (config.returncode, config.stderr) == (
        1, "failed to load controlplane config: open nope.yaml: no such file or directory\n")
    pki = tmp_path / "pki"
    missing = talosctl("gen", "secrets", "-p", str(pki), cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (
        1, f"failed to create secrets bundle: open {pki / 'ca.crt'}: no such file or "
           "directory\n")
    (pki / "etcd").mkdir(parents=True)
    for name in ("ca.crt", "ca.key", "etcd/ca.crt", "etcd/ca.key", "front-proxy-ca.crt",
                 "front-proxy-ca.key", "sa.key"):
        (pki / name).write_text(f"PEM {name}\n")
    made = talosctl("gen", "secrets", "-p", str(pki), "-t", "abcdef.0123456789abcdef", "-o",
                    "-")
    assert made.returncode == 0, made.stderr
    bundle = yaml.safe_load(made.stdout)
    assert bundle["secrets"]["bootstraptoken"] == "abcdef.0123456789abcdef"
    assert base64.b64decode(bundle["certs"]["k8s"]["crt"]) == b"PEM ca.crt\n"
    assert base64.b64decode(bundle["certs"]["k8sserviceaccount"]["key"]) == b"PEM sa.key\n"


def test_kubeconfig_settles_its_path_before_downloading(
    standin: Standin, cluster: Path, tmp_path: Path
) -> None:
    (tmp_path / "kubeconfig").write_text("existing\n")
    refused = talosctl("kubeconfig", str(tmp_path), "--merge=false", "--talosconfig",
                       str(cluster), "-e", CP1, "-n", "192.168.0.204")
    assert (refused.returncode, refused.stderr) == (
        1, f'kubeconfig file already exists, use --force to overwrite: '
           f'"{tmp_path / "kubeconfig"}"\n')
    worker = talosctl("kubeconfig", str(tmp_path / "a" / "b" / "kc"), "--talosconfig",
                      str(cluster), "-e", CP1, "-n", "192.168.0.204")
    assert worker.returncode == 1
    assert worker.stderr.startswith("error copying: ")
    assert (tmp_path / "a" / "b").is_dir() and not (tmp_path / "a" / "b" / "kc").exists()


def test_config_subcommands_are_talosctls_with_their_argument_rules(
    standin: Standin, cluster: Path, tmp_path: Path
) -> None:
    def config(*args: str) -> subprocess.CompletedProcess[str]:
        return talosctl("config", *args, "--talosconfig", str(cluster), cwd=tmp_path)

    bare = config("endpoint")
    assert bare.returncode == 1
    assert bare.stderr.startswith("requires at least 1 arg(s), only received 0\n")
    assert config("endpoint", f" {CP1} ").returncode == 0
    assert config("nodes", CP1, "192.168.0.202", "192.168.0.203", "192.168.0.204"
                  ).returncode == 0
    (tmp_path / "crt").write_text("crt")
    (tmp_path / "key").write_text("key")
    half = config("add", "other", "--crt", "crt")
    assert (half.returncode, half.stderr.splitlines()[0]) == (
        1, "if either the 'crt' or 'key' flag is specified, both are required")
    assert config("add", "other", "--crt", "crt", "--key", "key").returncode == 0
    assert config("add", "another").returncode == 0
    listed = config("contexts").stdout.splitlines()
    assert [line.split()[0] if line.split() else "" for line in listed] == [
        "CURRENT", "another", "other", "*"]
    assert listed[3].endswith(f"{CP1}   {CP1},192.168.0.202,192.168.0.203...")
    removed = config("remove", "*other", "-y")
    assert removed.stderr == ('removing context "another"\nremoving context "other"\n')
    current = config("remove", "pitower", "-y")
    assert current.stderr.startswith('skipping removal of current context "pitower"')
    assert sorted(yaml.safe_load(cluster.read_text())["contexts"]) == ["pitower"]
    none = config("remove", "nothing*", "-y")
    assert (none.returncode, none.stderr) == (1, 'no contexts matched "nothing*"\n')


def test_config_info_describes_the_current_context(standin: Standin, cluster: Path) -> None:
    talosctl("config", "endpoint", CP1, "--talosconfig", str(cluster))
    text = talosctl("config", "info", "--talosconfig", str(cluster))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[:4] == ["Current context:     pitower", "Nodes:               not defined",
                         f"Endpoints:           {CP1}", "Roles:               os:admin"]
    assert lines[4].startswith("Certificate expires: 1 year from now (")
    as_json = json.loads(talosctl("config", "info", "-o", "json", "--talosconfig",
                                  str(cluster)).stdout)
    assert (as_json["context"], as_json["nodes"], as_json["endpoints"]) == (
        "pitower", None, [CP1])
    bad = talosctl("config", "info", "-o", "xml", "--talosconfig", str(cluster))
    assert (bad.returncode, bad.stderr) == (1, 'unknown output format: "xml"\n')


def test_config_new_asks_one_node_for_a_fresh_talosconfig(
    standin: Standin, cluster: Path, tmp_path: Path
) -> None:
    made = online(cluster, CP1, "config", "new", str(tmp_path / "new"), "--roles", "os:reader")
    assert made.returncode == 0, made.stderr
    fresh = yaml.safe_load((tmp_path / "new").read_text())
    assert fresh["contexts"][fresh["context"]]["endpoints"] == [CP1]
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o600
    again = online(cluster, CP1, "config", "new", str(tmp_path / "new"))
    assert (again.returncode, again.stderr) == (
        1, f'talosconfig file already exists: "{tmp_path / "new"}"\n')
    roles = online(cluster, CP1, "config", "new", str(tmp_path / "x"), "--roles", "os:god")
    assert (roles.returncode, roles.stderr) == (1, "unknown roles: os:god\n")
    assert "--crt-ttl duration   certificate TTL (default 8760h0m0s)" in talosctl(
        "config", "new", "--help").stdout


def test_help_lists_subcommands_sorted_and_flags_sorted(standin: Standin) -> None:
    group = talosctl("config", "--help").stdout
    names = [line.split()[0] for line in
             group.split("Available Commands:\n")[1].split("\n\n")[0].splitlines()]
    assert names == sorted(names)
    assert "  add         Add a new context\n" in group
    flags = talosctl("get", "--help").stdout.split("Flags:\n")[1].splitlines()
    longs = [line.split("--")[1].split()[0] for line in flags if "--" in line]
    assert longs == sorted(longs)


def test_bootstrap_from_a_snapshot_reports_it_on_stdout(
    standin: Standin, cluster: Path, tmp_path: Path
) -> None:
    (tmp_path / "db").write_bytes(b"snapshot\n")
    result = online(cluster, CP1, "bootstrap", "--recover-from", str(tmp_path / "db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f'recovering from snapshot "{tmp_path / "db"}": hash ')
    assert result.stdout.endswith(", revision 1, total keys 1, total size 9\n")


def test_an_unreachable_endpoint_fails_the_first_call_under_the_commands_prefix(
    standin: Standin, cluster: Path
) -> None:
    dial = ('rpc error: code = Unavailable desc = connection error: desc = "transport: Error '
            'while dialing: dial tcp 10.9.9.9:50000: connect: no route to host"\n')
    for args, prefix in ((("get", "members"), "error getting resources"),
                         (("image", "ls"), "error listing images"),
                         (("reboot", "--wait=false"), "error executing reboot"),
                         (("bootstrap",), "error executing bootstrap")):
        result = talosctl(*args, "--talosconfig", str(cluster), "-e", "10.9.9.9", "-n", CP1)
        assert (result.returncode, result.stdout, result.stderr) == (1, "", f"{prefix}: {dial}")
    # With --wait the tracker runs the action: it reports the failure as the node's line.
    tracked = talosctl("reboot", "--talosconfig", str(cluster), "-e", "10.9.9.9", "-n", CP1)
    assert (tracked.returncode, tracked.stdout) == (1, "")
    assert tracked.stderr.endswith(f'"{CP1}": {dial}')
    insecure = talosctl("apply-config", "--insecure", "-n", "10.9.9.9", "-f", str(cluster))
    assert insecure.stderr == f"error applying new configuration: {dial}"


def test_the_version_check_names_every_older_node_on_one_line(
    standin: Standin, cluster: Path
) -> None:
    standin.pitower(worker_04={"talos_version": "v1.12.1"},
                    worker_05={"talos_version": "v1.11.6"})
    result = talosctl("reboot", "--wait=false", "--talosconfig", str(cluster), "-e", CP1,
                      "-n", "192.168.0.204,192.168.0.205,192.168.0.206")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "WARNING: 192.168.0.204: server version 1.12.1 is older than client version 1.12.4, "
        "192.168.0.205: server version 1.11.6 is older than client version 1.12.4\n")


def test_help_names_a_command_or_says_the_topic_is_unknown(standin: Standin) -> None:
    known = talosctl("help", "gen", "config")
    assert known.returncode == 0
    assert "talosctl gen config <cluster name> <cluster endpoint> [flags]" in known.stdout
    unknown = talosctl("help", "frobnicate")
    assert (unknown.returncode, unknown.stdout) == (0, "")
    assert unknown.stderr.startswith("Unknown help topic [`frobnicate`]\nUsage:\n")


def test_image_pull_adds_the_image_where_image_list_sees_it(
    standin: Standin, cluster: Path
) -> None:
    node = "192.168.0.204"
    pulled = online(cluster, node, "image", "pull", "docker.io/library/nginx:1.27")
    assert (pulled.returncode, pulled.stdout, pulled.stderr) == (0, "", "")
    listed = online(cluster, node, "images", "ls").stdout
    assert "docker.io/library/nginx:1.27" in listed
    assert "registry.k8s.io/pause:3.10" in listed  # the images it had are still there
    system = online(cluster, node, "image", "list", "--namespace", "system").stdout
    assert "nginx" not in system
    bad = online(cluster, node, "image", "pull", "Not A Ref")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error pulling image: 1 error occurred:\n\t* 192.168.0.204: ")


def test_insecure_calls_dial_the_nodes_and_need_them(standin: Standin, tmp_path: Path) -> None:
    missing = talosctl("get", "machinestatus", "--insecure", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (1, "failed to determine endpoints\n")
    assert not (tmp_path / "standin" / "talos-home" / "config").exists()  # config not read


def test_maintenance_calls_report_errors_without_a_node_prefix(standin: Standin) -> None:
    standin.pitower(worker_04={"maintenance": True}, worker_05={"maintenance": True},
                    worker_06={"maintenance": True})
    staged = talosctl("apply-config", "--insecure", "-n", "192.168.0.204", "-f",
                      str(Path(__file__)), "--mode", "staged")
    assert (staged.returncode, staged.stderr) == (
        1, "error applying new configuration: rpc error: code = Unimplemented desc = apply "
           "configuration --mode='staged' is not supported in maintenance mode\n")
    upgraded = talosctl("upgrade", "--insecure", "--wait=false", "-n", "192.168.0.205", "-i",
                        "ghcr.io/siderolabs/installer:v1.12.5")
    assert upgraded.returncode == 0, upgraded.stderr
    assert standin.node("192.168.0.205")["talos_version"] == "v1.12.5"
    wiped = talosctl("reset", "--insecure", "--wait=false", "-n", "192.168.0.206")
    assert wiped.returncode == 0, wiped.stderr
    running = talosctl("reset", "--insecure", "--wait=false", "-n", CP1)
    assert (running.returncode, running.stderr) == (
        1, 'error executing reset: rpc error: code = Unavailable desc = connection error: '
           'desc = "transport: authentication handshake failed: remote error: tls: '
           'certificate required"\n')


def test_apply_of_bytes_that_are_no_config_is_the_nodes_refusal_not_a_crash(
    cluster: Path, tmp_path: Path
) -> None:
    (tmp_path / "junk.yaml").write_text("key: [unclosed\n")
    result = online(cluster, CP1, "apply-config", "-f", str(tmp_path / "junk.yaml"))
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error applying new configuration: 1 error occurred:\n\t* {CP1}: rpc error: code = "
        "InvalidArgument desc = ")
    assert "failed to parse config" not in result.stderr  # the node returns the loader's error
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [
    ("machineconfig", "patch", "{bad}", "-p", "{{}}"),
    ("gen", "secrets", "--from-controlplane-config", "{bad}", "-o", "-"),
    ("gen", "secrets", "-o", "{tmp}/missing/dir/secrets.yaml"),
    ("validate", "-c", "{bad}", "-m", "metal"),
    ("config", "contexts", "--talosconfig", "{list}"),
    ("version", "--talosconfig", "{list}", "-n", CP1),
    ("kubeconfig", "/dev/null/x", "--talosconfig", "{talosconfig}", "-e", CP1, "-n", CP1),
])
def test_malformed_inputs_fail_in_one_line_of_talosctl_not_a_traceback(
    cluster: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "bad.yaml").write_text("a: [\n")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    names = {"bad": tmp_path / "bad.yaml", "list": tmp_path / "list.yaml", "tmp": tmp_path,
             "talosconfig": cluster}
    result = talosctl(*[arg.format(**names) for arg in args])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip(), "an error is reported"


def test_root_help_groups_commands_as_talosctl_does(standin: Standin) -> None:
    text = talosctl("--help").stdout
    talos = text.split("Manage running Talos clusters:\n")[1].split("\n\n")[0]
    offline = text.split("Commands to generate and manage machine configuration offline:\n"
                         )[1].split("\n\n")[0]
    assert {line.split()[0] for line in talos.splitlines()} >= {
        "apply-config", "bootstrap", "config", "get", "health", "image", "kubeconfig",
        "reboot", "reset", "upgrade", "upgrade-k8s", "version"}
    assert [line.split()[0] for line in offline.splitlines()] == [
        "gen", "machineconfig", "validate"]


def test_force_rewrites_a_file_but_keeps_its_mode(standin: Standin, tmp_path: Path) -> None:
    target = tmp_path / "controlplane.yaml"
    target.write_text("old\n")
    target.chmod(0o600)
    result = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-t", "controlplane",
                      "-o", str(target), "--force")
    assert result.returncode == 0, result.stderr
    assert target.read_text() != "old\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # os.WriteFile keeps the mode
    patched = tmp_path / "deep" / "patched.yaml"
    made = talosctl("mc", "patch", str(target), "-p", '{"machine": {"env": {"A": "b"}}}',
                    "-o", str(patched))
    assert (made.returncode, made.stdout, made.stderr) == (0, "", "")
    assert stat.S_IMODE(patched.stat().st_mode) == 0o644


def test_json_patches_apply_to_single_document_configs_in_ghodss_style(
    standin: Standin, tmp_path: Path
) -> None:
    old = tmp_path / "v111.yaml"
    made = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "--talos-version", "v1.11",
                    "-t", "controlplane", "-o", str(old))
    assert made.returncode == 0, made.stderr
    ops = ('[{"op": "replace", "path": "/cluster/clusterName", "value": "test"},'
           ' {"op": "add", "path": "/machine/certSANs/-", "value": "x.example"}]')
    patched = talosctl("mc", "patch", str(old), "-p", ops)
    assert patched.returncode == 0, patched.stderr
    assert patched.stdout.startswith("cluster:\n  aggregatorCA:\n")  # sorted, 2-space
    config = yaml.safe_load(patched.stdout)
    assert config["cluster"]["clusterName"] == "test"
    assert config["machine"]["certSANs"][-1] == "x.example"
    missing = talosctl("mc", "patch", str(old), "-p", '[{"op": "remove", "path": "/nope"}]')
    assert missing.returncode == 1
    assert "/nope" in missing.stderr
    at_generation = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "--talos-version",
                             "v1.11", "-t", "worker", "-o", "-", "--config-patch",
                             '[{"op": "add", "path": "/machine/env", "value": {"A": "b"}}]')
    assert at_generation.returncode == 0, at_generation.stderr
    assert yaml.safe_load(at_generation.stdout)["machine"]["env"] == {"A": "b"}
