"""What real talosctl v1.12.4 does, stated against the stand-in's command line.

Each test names the Talos v1.12.4 source that makes its fact true
(``../shared/reference/talos/source-v1.12.4``). These tests are the contract of the
stand-in: a change that breaks one is a loss of fidelity, not a test to update.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Standin

CP1, CP2, CP3 = "192.168.0.201", "192.168.0.202", "192.168.0.203"
WORKER = "192.168.0.204"
IMMEDIATE_ERROR = "this config change can't be applied in immediate mode"


def talosctl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["talosctl", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, env=dict(os.environ))


def online(talosconfig: Path, node: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A call the way talos-tasks makes it: explicit talosconfig, node and endpoint."""
    return talosctl(*args, "--talosconfig", str(talosconfig), "--nodes", node,
                    "--endpoints", node)


@pytest.fixture
def generated(standin: Standin, tmp_path: Path) -> Path:
    """The pitower state, and `gen config` output for it; returns the output directory."""
    standin.pitower()
    out = tmp_path / "gen"
    result = talosctl("gen", "config", "pitower", "https://192.168.0.200:6443", "-o", str(out),
                      "--with-docs=false", "--with-examples=false")
    assert result.returncode == 0, result.stderr
    return out


def running_with(standin: Standin, generated: Path, node: str = CP1) -> str:
    """Make ``node`` run the generated control plane config; returns that config."""
    text = (generated / "controlplane.yaml").read_text()
    data = standin.state()
    data["nodes"][node]["config"] = text
    standin.set_state(data)
    return text


def changed(generated: Path, name: str, change: dict[str, Any]) -> Path:
    """The generated control plane config with ``change`` merged into its v1alpha1 document."""
    documents = list(yaml.safe_load_all((generated / "controlplane.yaml").read_text()))

    def merge(base: dict[str, Any], patch: dict[str, Any]) -> None:
        for key, value in patch.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    merge(documents[0], change)
    path = generated / name
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


# ---------------------------------------------------------------------------------------
# apply-config: which changes reboot, and what is printed
# Talos: internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_runtime.go:CanApplyImmediate
# Talos: internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go:ApplyConfiguration
# Talos: cmd/talosctl/pkg/talos/helpers/mode.go:PrintApplyResults


@pytest.mark.parametrize("change", [
    {"machine": {"kernel": {"modules": [{"name": "br_netfilter"}]}}},
    {"machine": {"install": {"image": "ghcr.io/siderolabs/installer:v1.12.5"}}},
    {"machine": {"network": {"nameservers": ["1.1.1.1"]}}},
    {"machine": {"sysctls": {"vm.max_map_count": "262144"}}},
    {"machine": {"nodeLabels": {"zone": "a"}}},
    {"machine": {"features": {"hostDNS": {"enabled": False}}}},
    {"cluster": {"clusterName": "renamed"}},
    {"debug": True},
], ids=["kernel", "install", "network", "sysctls", "nodeLabels", "features.hostDNS",
        "cluster", "debug"])
def test_auto_applies_the_immediate_fields_without_a_reboot(
    standin: Standin, generated: Path, change: dict[str, Any],
) -> None:
    running_with(standin, generated)
    config = changed(generated, "new.yaml", change)
    result = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config))
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "Applied configuration without a reboot\n"
    assert standin.node(CP1).get("boots", 1) == 1
    assert "pending" not in standin.node(CP1)


@pytest.mark.parametrize("change", [
    {"machine": {"env": {"HTTP_PROXY": "http://proxy:3128"}}},
    {"machine": {"files": [{"path": "/var/f", "content": "x", "op": "create"}]}},
    {"machine": {"token": "abcdef.0123456789abcdef"}},
    {"machine": {"features": {"diskQuotaSupport": False}}},
], ids=["env", "files", "token", "features.diskQuotaSupport"])
def test_auto_reboots_for_any_other_field_and_says_why_with_the_diff(
    standin: Standin, generated: Path, change: dict[str, Any],
) -> None:
    running_with(standin, generated)
    config = changed(generated, "new.yaml", change)
    result = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config))
    assert result.returncode == 0, result.stderr
    head, _, diff = result.stderr.partition("\n")
    assert head == f"Applied configuration with a reboot: {IMMEDIATE_ERROR}"
    assert diff.startswith("diff:\n--- a\n+++ b\n@@ ")
    assert result.stderr.endswith("\n")
    assert standin.node(CP1)["boots"] == 2


def test_the_reboot_diff_shows_only_the_fields_that_need_the_reboot(
    standin: Standin, generated: Path,
) -> None:
    running_with(standin, generated)
    config = changed(generated, "new.yaml", {"machine": {
        "env": {"HTTP_PROXY": "http://proxy:3128"},
        "kernel": {"modules": [{"name": "br_netfilter"}]},
    }})
    result = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config))
    assert result.returncode == 0, result.stderr
    assert "HTTP_PROXY" in result.stderr
    assert "br_netfilter" not in result.stderr


def test_only_the_v1alpha1_document_decides_the_reboot(standin: Standin, generated: Path) -> None:
    running_with(standin, generated)
    text = (generated / "controlplane.yaml").read_text().replace(
        "auto: stable", "auto: \"off\"\nhostname: cp-1")
    config = generated / "new.yaml"
    config.write_text(text)
    result = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config))
    assert result.stderr == "Applied configuration without a reboot\n"


@pytest.mark.parametrize("mode", ["no-reboot", "try"])
def test_no_reboot_and_try_refuse_a_change_that_needs_a_reboot_with_the_nodes_reason(
    standin: Standin, generated: Path, mode: str,
) -> None:
    running_with(standin, generated)
    config = changed(generated, "new.yaml", {"machine": {"env": {"A": "b"}}})
    result = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config),
                    "--mode", mode)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error applying new configuration: 1 error occurred:\n\t* {CP1}: rpc error: "
        f"code = InvalidArgument desc = {IMMEDIATE_ERROR}\ndiff:\n--- a\n")
    assert standin.node(CP1)["config"] == (generated / "controlplane.yaml").read_text()


def test_try_with_an_immediate_change_says_when_it_is_reverted(
    standin: Standin, generated: Path,
) -> None:
    running_with(standin, generated)
    config = changed(generated, "new.yaml", {"machine": {"kernel": {"modules": [
        {"name": "br_netfilter"}]}}})
    result = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config),
                    "--mode", "try", "--timeout", "2m")
    assert result.stderr == (
        "Applied configuration without a reboot\nThe config is applied in 'try' mode and "
        "will be automatically reverted back in 2m0s\n")


def test_the_dry_run_summary_has_no_reason_suffix_and_shows_the_whole_diff(
    standin: Standin, generated: Path,
) -> None:
    running_with(standin, generated)
    config = changed(generated, "new.yaml", {"machine": {
        "env": {"HTTP_PROXY": "http://proxy:3128"},
        "kernel": {"modules": [{"name": "br_netfilter"}]},
    }})
    result = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config),
                    "--dry-run")
    assert result.returncode == 0
    assert result.stderr.startswith(
        "Dry run summary:\nApplied configuration with a reboot (skipped in dry-run).\n"
        "Config diff:\n\n--- a\n+++ b\n")
    assert "HTTP_PROXY" in result.stderr and "br_netfilter" in result.stderr
    assert IMMEDIATE_ERROR not in result.stderr
    assert standin.node(CP1).get("boots", 1) == 1


def test_a_dry_run_without_changes_says_so(standin: Standin, generated: Path) -> None:
    running_with(standin, generated)
    result = online(generated / "talosconfig", CP1, "apply-config", "--file",
                    str(generated / "controlplane.yaml"), "--dry-run")
    assert result.stderr == ("Dry run summary:\nApplied configuration without a reboot "
                             "(skipped in dry-run).\nConfig diff:\n\nNo changes.\n")


def test_staged_and_reboot_modes_say_what_they_did(standin: Standin, generated: Path) -> None:
    running_with(standin, generated)
    config = changed(generated, "new.yaml", {"machine": {"env": {"A": "b"}}})
    staged = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config),
                    "--mode", "staged")
    assert staged.stderr == "Staged configuration to be applied after the next reboot\n"
    rebooted = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config),
                      "--mode", "reboot")
    assert rebooted.stderr == "Applied configuration with a reboot\n"


def test_a_node_refuses_an_invalid_config_with_the_containers_nested_error(
    standin: Standin, generated: Path,
) -> None:
    running_with(standin, generated)
    config = changed(generated, "new.yaml", {"machine": {"type": "gateway"}})
    result = online(generated / "talosconfig", CP1, "apply-config", "--file", str(config))
    assert result.returncode == 1
    assert result.stderr == (
        f"error applying new configuration: 1 error occurred:\n\t* {CP1}: rpc error: "
        "code = InvalidArgument desc = 1 error occurred:\n\t* v1alpha1.Config: 1 error "
        "occurred:\n\t* unknown machine type \"gateway\"\n\n\n\n\n\n\n")
    assert standin.node(CP1)["config"] == (generated / "controlplane.yaml").read_text()


# ---------------------------------------------------------------------------------------
# --mode values
# Talos: cmd/talosctl/pkg/talos/helpers/mode.go:Mode.Type (interactive is never listed)


def test_mode_errors_and_help_list_the_modes_without_interactive(generated: Path) -> None:
    result = online(generated / "talosconfig", CP1, "apply-config", "-f", "x", "--mode", "later")
    assert result.returncode == 1
    assert result.stderr.startswith(
        'invalid argument "later" for "-m, --mode" flag: possible options are: auto, '
        "no-reboot, reboot, staged, try\n")
    assert "-m, --mode auto, no-reboot, reboot, staged, try   apply config mode" in (
        talosctl("apply-config", "--help").stdout)


# ---------------------------------------------------------------------------------------
# validate: the container's nested errors, with document prefixes
# Talos: pkg/machinery/config/container/container.go:Validate
# Talos: cmd/talosctl/cmd/mgmt/validate.go


def test_validate_nests_the_v1alpha1_errors_under_the_document_name(generated: Path) -> None:
    config = changed(generated, "bad.yaml", {"machine": {"type": "gateway"},
                                             "cluster": {"controlPlane": {"endpoint": ""}}})
    result = talosctl("validate", "--config", str(config), "--mode", "metal")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "1 error occurred:\n\t* v1alpha1.Config: 2 errors occurred:\n"
        "\t* cluster controlplane endpoint is required\n"
        "\t* unknown machine type \"gateway\"\n\n\n\n\n")


def test_validate_prefixes_other_documents_errors_with_their_kind(generated: Path) -> None:
    text = (generated / "controlplane.yaml").read_text().replace("auto: stable", "auto: \"off\"")
    config = generated / "bad.yaml"
    config.write_text(text)
    result = talosctl("validate", "--config", str(config), "--mode", "metal")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "1 error occurred:"
    assert lines[1].startswith("\t* HostnameConfig: ")


def test_validate_strict_turns_warnings_into_v1alpha1_errors(generated: Path) -> None:
    config = changed(generated, "warn.yaml", {"machine": {"network": {"hostname": "cp-1"}}})
    text = config.read_text().replace("auto: stable", "hostname: cp-1\nauto: \"off\"")
    config.write_text(text.replace("HostnameConfig\nhostname: cp-1", "HostnameConfig"))
    plain = talosctl("validate", "--config", str(config), "--mode", "metal")
    strict = talosctl("validate", "--config", str(config), "--mode", "metal", "--strict")
    assert plain.stderr.startswith("WARNING: ")
    assert not strict.stderr.startswith("WARNING: ")
    assert "\t* v1alpha1.Config: 1 error occurred:\n\t* warning: " in strict.stderr


def test_validate_accepts_the_generated_configs(generated: Path) -> None:
    for name in ("controlplane.yaml", "worker.yaml"):
        path = generated / name
        result = talosctl("validate", "--config", str(path), "--mode", "metal")
        assert (result.returncode, result.stdout) == (0, f"{path} is valid for metal mode\n")


# ---------------------------------------------------------------------------------------
# upgrade pre-checks and the progress tracker
# Talos: internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go:Upgrade
# Talos: internal/pkg/etcd/etcd.go:ValidateForUpgrade (member IDs printed as %016x)
# Talos: cmd/talosctl/pkg/talos/action/tracker.go:Tracker.runReporter ("%q: %v\n")

IMAGE = "ghcr.io/siderolabs/installer:v1.12.5"


def member_ids(talosconfig: Path) -> dict[str, str]:
    """Hostname -> etcd member ID, as `etcd members` shows them."""
    listed = online(talosconfig, CP1, "etcd", "members")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    return {row[2]: row[1] for row in rows}


def test_upgrade_names_the_unhealthy_etcd_member_by_its_id_even_with_preserve(
    standin: Standin, generated: Path,
) -> None:
    standin.pitower(worker_01={"bootstrapped": True})
    talosconfig = generated / "talosconfig"
    member = member_ids(talosconfig)["worker-03"]
    assert len(member) == 16 and int(member, 16) >= 0
    data = standin.state()
    data["nodes"][CP3]["reachable"] = False
    standin.set_state(data)
    reason = (f"rpc error: code = Unknown desc = error validating etcd for upgrade: etcd member "
              f"{member} is not healthy; all members must be healthy to perform an upgrade: "
              "context deadline exceeded")
    waited = online(talosconfig, CP2, "upgrade", "--image", IMAGE, "--preserve")
    assert (waited.returncode, waited.stdout) == (1, "")
    assert waited.stderr.endswith(f'"{CP2}": {reason}\n')
    assert "FailedPrecondition" not in waited.stderr
    unwaited = online(talosconfig, CP2, "upgrade", "--image", IMAGE, "--wait=false")
    assert unwaited.returncode == 1
    assert unwaited.stderr == (f"error performing upgrade: 1 error occurred:\n\t* {CP2}: "
                               f"{reason}\n\n\n")
    assert "upgrades" not in standin.node(CP2)
    forced = online(talosconfig, CP2, "upgrade", "--image", IMAGE, "--force", "--wait=false")
    assert forced.returncode == 0, forced.stderr
    assert standin.node(CP2)["upgrades"] == [IMAGE]


def test_upgrade_refuses_a_two_member_etcd(standin: Standin, generated: Path) -> None:
    standin.pitower(worker_01={"bootstrapped": True}, worker_03={"role": "worker"})
    result = online(generated / "talosconfig", CP1, "upgrade", "--image", IMAGE)
    assert result.returncode == 1
    assert result.stderr.endswith(
        f'"{CP1}": rpc error: code = Unknown desc = error validating etcd for upgrade: etcd '
        "member count(2) is insufficient to maintain quorum if upgrade commences\n")


def test_a_worker_upgrades_without_asking_etcd(standin: Standin, generated: Path) -> None:
    standin.pitower(worker_01={"bootstrapped": True}, worker_02={"reachable": False})
    result = online(generated / "talosconfig", WORKER, "upgrade", "--image", IMAGE)
    assert result.returncode == 0, result.stderr
    assert standin.node(WORKER)["talos_version"] == "v1.12.5"


@pytest.mark.parametrize("command", [("upgrade", "--image", IMAGE), ("reboot",),
                                     ("reset", "--reboot")])
def test_with_wait_a_node_that_cannot_be_reached_is_the_trackers_last_line(
    standin: Standin, generated: Path, command: tuple[str, ...],
) -> None:
    standin.pitower(worker_05={"reachable": False})
    result = online(generated / "talosconfig", "192.168.0.205", *command)
    assert (result.returncode, result.stdout) == (1, "")
    last = result.stderr.splitlines()[-1]
    assert last.startswith('"192.168.0.205": rpc error: code = Unavailable desc = ')
    assert "error executing" not in result.stderr and "error performing" not in result.stderr


def test_an_upgrade_that_fails_on_the_node_is_reported_by_the_tracker(
    standin: Standin, generated: Path,
) -> None:
    standin.pitower(worker_04={"fail_upgrade": "failed to install bootloader"})
    result = online(generated / "talosconfig", WORKER, "upgrade", "--image", IMAGE)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.endswith(f'"{WORKER}": failed to install bootloader\n')
    assert result.stderr.count("failed to install bootloader") == 1
    assert standin.node(WORKER)["talos_version"] == "v1.12.4"


def test_the_tracker_follows_the_other_nodes_when_one_fails(
    standin: Standin, generated: Path,
) -> None:
    standin.pitower(worker_05={"reachable": False})
    result = talosctl("reboot", "--talosconfig", str(generated / "talosconfig"),
                      "--nodes", f"{WORKER},192.168.0.205", "--endpoints", WORKER)
    assert result.returncode == 1
    assert f'"{WORKER}": post check passed\n' in result.stderr
    assert standin.node(WORKER)["boots"] == 2


# ---------------------------------------------------------------------------------------
# health
# Talos: internal/app/machined/internal/server/v1alpha1/v1alpha1_cluster.go:HealthCheck
# Talos: cmd/talosctl/cmd/talos/health.go:healthOnServer


def test_health_always_prints_the_discovered_nodes_first(standin: Standin,
                                                          generated: Path) -> None:
    standin.pitower(bootstrapped=True)
    result = online(generated / "talosconfig", CP1, "health", "--control-plane-nodes",
                    f"{CP1},{CP2}", "--worker-nodes", WORKER, "--init-node", CP3)
    assert result.stderr.splitlines()[0] == (
        f'discovered nodes: ["{CP1}" "{CP2}" "{CP3}" "{WORKER}"]')


def test_a_failing_health_check_ends_with_the_deadline_and_nothing_invented(
    standin: Standin, generated: Path,
) -> None:
    standin.pitower()  # etcd never bootstrapped: the first check cannot pass
    result = online(generated / "talosconfig", CP1, "health", "--wait-timeout", "1s")
    assert result.returncode == 1
    assert result.stderr.startswith("discovered nodes: [")
    assert result.stderr.endswith(
        "rpc error: code = DeadlineExceeded desc = context deadline exceeded\n")
    assert "waited" not in result.stderr


# ---------------------------------------------------------------------------------------
# usage: NAME is relative to the requested path, "." for the path itself
# Talos: cmd/talosctl/cmd/talos/diskusage.go; v1alpha1_server.go:DiskUsage
# Talos: pkg/archiver/walker.go:Walker (filepath.Rel of the root is ".")


def test_usage_names_the_requested_path_dot_and_lists_it_after_its_folders(
    standin: Standin, generated: Path,
) -> None:
    standin.pitower(worker_04={"usage": {"/var/lib/etcd": 300, "/var/log": 20,
                                         "/var/lib/containerd": 1000}})
    talosconfig = generated / "talosconfig"
    alone = online(talosconfig, WORKER, "usage", "/var")
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.splitlines() == [
        "NODE            SIZE   NAME", f"{WORKER}   1320   ."]
    deeper = online(talosconfig, WORKER, "usage", "/var", "--depth", "1")
    assert [line.split()[1:] for line in deeper.stdout.splitlines()[1:]] == [
        ["1300", "lib"], ["20", "log"], ["1320", "."]]
    deepest = online(talosconfig, WORKER, "usage", "/var/", "--depth", "2")
    assert [line.split()[2] for line in deepest.stdout.splitlines()[1:]] == [
        "lib/containerd", "lib/etcd", "lib", "log", "."]


# ---------------------------------------------------------------------------------------
# talosconfig resolution
# Talos: pkg/machinery/client/client.go:New, GetEndpoints, resolveConfigContext
# Talos: pkg/machinery/client/connection.go:getConn


def test_an_unresolvable_context_leaves_no_endpoints_unless_e_is_given(
    standin: Standin, generated: Path,
) -> None:
    empty = generated / "empty-talosconfig"
    empty.write_text('context: ""\ncontexts: {}\n')
    without = talosctl("version", "--talosconfig", str(empty), "--nodes", CP1)
    assert without.returncode == 1
    assert without.stderr.endswith("failed to determine endpoints\n")
    with_e = talosctl("version", "--talosconfig", str(empty), "--nodes", CP1, "-e", CP1)
    assert with_e.stderr.endswith(
        "failed to create client connection: failed to resolve configuration context: "
        "talos config file is empty\n")
    other = talosctl("version", "--talosconfig", str(generated / "talosconfig"),
                     "--context", "nope", "--nodes", CP1, "-e", CP1)
    assert other.stderr.endswith('failed to resolve configuration context: context "nope" '
                                 "not found in config\n")
    no_endpoints = talosctl("version", "--talosconfig", str(generated / "talosconfig"),
                            "--nodes", CP1)
    assert no_endpoints.stderr.endswith("failed to determine endpoints\n")


# ---------------------------------------------------------------------------------------
# gen config defaults
# Talos: pkg/machinery/constants/constants.go DefaultKubernetesVersion (v1.12.4: 1.35.0)


def test_gen_config_defaults_to_kubernetes_1_35_0(standin: Standin) -> None:
    result = talosctl("gen", "config", "demo", "https://10.5.0.2:6443", "-t", "controlplane",
                      "-o", "-", "--with-docs=false", "--with-examples=false")
    assert result.returncode == 0, result.stderr
    assert "image: ghcr.io/siderolabs/kubelet:v1.35.0\n" in result.stdout
    assert "(default \"1.35.0\")" in talosctl("gen", "config", "--help").stdout


# ---------------------------------------------------------------------------------------
# image list
# Talos: cmd/talosctl/cmd/talos/image.go:imageListCmd (the tabwriter is flushed only on
# success; the namespace is checked once connected)


def test_image_list_prints_no_table_when_a_node_fails(standin: Standin, generated: Path) -> None:
    standin.pitower(worker_05={"reachable": False})
    result = talosctl("image", "list", "--talosconfig", str(generated / "talosconfig"),
                      "--nodes", f"{WORKER},192.168.0.205", "--endpoints", WORKER)
    assert (result.returncode, result.stdout) == (1, "")
    ok = online(generated / "talosconfig", WORKER, "image", "list")
    assert ok.stdout.startswith("NODE ")


def test_image_namespace_is_checked_after_connecting(standin: Standin, generated: Path) -> None:
    empty = generated / "empty-talosconfig"
    empty.write_text('context: ""\ncontexts: {}\n')
    result = talosctl("image", "list", "--namespace", "moon", "--talosconfig", str(empty),
                      "--nodes", CP1)
    assert result.stderr.endswith("failed to determine endpoints\n")
    standin.pitower()
    named = online(generated / "talosconfig", CP1, "image", "list", "--namespace", "moon")
    assert named.stderr == 'unsupported namespace "moon"\n'


# ---------------------------------------------------------------------------------------
# Every command the stand-in answers says where its behaviour comes from


def test_every_command_handler_cites_its_source_or_says_it_is_guessed() -> None:
    import importlib
    import re

    import standin.cli

    source = Path(standin.cli.__file__).read_text()
    handlers = set(re.findall(r'lazy\("(\w+)", "(\w+)"', source))
    assert len(handlers) >= 20
    silent = []
    for module, name in sorted(handlers):
        doc = getattr(importlib.import_module(f"standin.{module}"), name).__doc__ or ""
        if "Talos:" not in doc and "uessed" not in doc:
            silent.append(f"{module}.{name}")
    assert silent == []


# ---------------------------------------------------------------------------------------
# upgrade-k8s
# Talos: cmd/talosctl/cmd/talos/upgrade-k8s.go:upgradeKubernetes


def test_upgrade_k8s_wraps_a_failed_version_detection_without_a_colon(
    standin: Standin, generated: Path,
) -> None:
    standin.pitower()  # not bootstrapped: no Kubernetes API to ask
    detected = online(generated / "talosconfig", CP1, "upgrade-k8s", "--to", "1.35.1")
    assert detected.returncode == 1
    assert detected.stderr.startswith("error detecting the lowest Kubernetes version error ")
    given = online(generated / "talosconfig", CP1, "upgrade-k8s", "--from", "1.35.0",
                   "--to", "1.35.1")
    assert given.returncode == 1
    assert not given.stderr.startswith("error detecting")
    assert "error upgrading kubernetes" not in detected.stderr + given.stderr


# ---------------------------------------------------------------------------------------
# reset: the node's refusals
# Talos: internal/app/machined/internal/server/v1alpha1/v1alpha1_server.go:Reset
# Talos: cmd/talosctl/cmd/talos/reset.go:buildResetRequest (labels are sent as given)


@pytest.mark.parametrize(("flags", "reason"), [
    (("--wipe-mode", "system-disk", "--user-disks-to-wipe", "/dev/sdb"),
     "reset failed: invalid input, wipe mode SYSTEM_DISK doesn't support UserDisksToWipe "
     "parameter"),
    (("--wipe-mode", "user-disks", "--system-labels-to-wipe", "EPHEMERAL"),
     "reset failed: invalid input, wipe mode USER_DISKS doesn't support "
     "SystemPartitionsToWipe parameter"),
    (("--system-labels-to-wipe", "ephemeral"),
     'failed to get volume status with label "ephemeral": '),
])
def test_reset_requests_the_node_refuses(
    standin: Standin, generated: Path, flags: tuple[str, ...], reason: str,
) -> None:
    standin.pitower()
    result = online(generated / "talosconfig", WORKER, "reset", "--wait=false", *flags)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error executing reset: 1 error occurred:\n\t* {WORKER}: rpc error: code = Unknown "
        f"desc = {reason}")
    assert "resets" not in standin.node(WORKER)


def test_client_side_health_needs_no_node_and_has_no_discovered_line(
    standin: Standin, generated: Path,
) -> None:
    standin.pitower(bootstrapped=True)
    result = talosctl("health", "--server=false", "--talosconfig",
                      str(generated / "talosconfig"), "--endpoints", CP1,
                      "--control-plane-nodes", CP2, "--init-node", CP1, "--worker-nodes", WORKER,
                      "--wait-timeout", "1s")
    assert "nodes are not set" not in result.stderr
    assert "discovered nodes" not in result.stderr
    assert result.stderr.startswith("waiting for ")


def test_with_debug_the_tracker_names_the_failed_nodes_whose_console_logs_follow(
    standin: Standin, generated: Path,
) -> None:
    standin.pitower(worker_05={"reachable": False})
    result = talosctl("reboot", "--debug", "--talosconfig", str(generated / "talosconfig"),
                      "--nodes", f"192.168.0.205,{WORKER}", "--endpoints", WORKER)
    assert result.returncode == 1
    assert 'console logs for nodes ["192.168.0.205"]:\n' in result.stderr
