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
    for patch in (json_patch, f"@{tmp_path / 'empty.patch'}"):
        result = talosctl("gen", "config", "c", "https://10.0.0.1:6443", "-o", "-", "-t",
                          "controlplane", "--config-patch", patch)
        assert result.returncode == 1
        assert result.stderr == (
            "generating PKI and tokens\n"
            "failed to generate config bundle: error patching control plane configs: "
            "JSON6902 patches are not supported for multi-document machine configuration\n")


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
    assert "aggregatorCA" not in v1["cluster"]
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
    assert 'an install disk is required in "metal" mode' in metal.stderr
    assert metal.stderr.startswith("WARNING: ")
    cloud = talosctl("validate", "-c", str(bad), "-m", "cloud")
    assert "install disk" not in cloud.stderr
    assert talosctl("validate", "-c", str(bad), "-m", "moon").stderr == (
        'unknown runtime mode: "moon"\n')
