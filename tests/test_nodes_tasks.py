"""Node tasks: bootstrap, kubeconfig, reboot, reset against a fake; every task of the area
run as `inv` against the talosctl stand-in."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import inprocess
import pytest
import yaml
from conftest import Standin
from sopskit import decrypt, pitower_project, project_env

from talos.core.cluster import Cluster, load_cluster_file
from talos.errors import CommandError, UsageError
from talos.ops.nodeops import (
    bootstrap,
    check_wipe,
    describe_reset,
    reboot_in_turn,
    reset,
    write_kubeconfig,
)
from talos.ops.targets import Target

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return load_cluster_file(REPO / "cluster.yaml")


def target(cluster: Cluster, name: str) -> Target:
    node = cluster.node(name)
    return Target(node, node.ip or "192.168.0.205")


@dataclass
class FakeTalosctl:
    bootstrapped: bool = False
    fail_reboot: set[str] = field(default_factory=set)
    calls: list[tuple[object, ...]] = field(default_factory=list)

    def bootstrap(self, node: str) -> bool:
        self.calls.append(("bootstrap", node))
        done, self.bootstrapped = self.bootstrapped, True
        return not done

    def kubeconfig(self, node: str, path: Path, *, merge: bool = False) -> None:
        self.calls.append(("kubeconfig", node, path))

    def reboot(self, node: str, *, wait: bool = True, timeout: str | None = None) -> None:
        self.calls.append(("reboot", node, wait, timeout))
        if node in self.fail_reboot:
            raise CommandError(f"talosctl reboot failed on {node}", exit_code=1)

    def reset(self, node: str, *, wipe: Sequence[str] = ("EPHEMERAL", "META"),
              graceful: bool = False, reboot: bool = True) -> None:
        self.calls.append(("reset", node, tuple(wipe), graceful, reboot))


def test_bootstrap_twice_is_a_success_the_second_time_saying_so(cluster: Cluster) -> None:
    fake = FakeTalosctl()
    first = target(cluster, "worker-01")
    assert bootstrap(first, fake) == "worker-01 (192.168.0.201): bootstrapped etcd"
    assert bootstrap(first, fake) == (
        "worker-01 (192.168.0.201): already bootstrapped; nothing to do"
    )


def test_bootstrap_refuses_a_worker(cluster: Cluster) -> None:
    fake = FakeTalosctl()
    with pytest.raises(UsageError, match=r"worker-04 .* is a worker"):
        bootstrap(target(cluster, "worker-04"), fake)
    assert fake.calls == []


def test_the_kubeconfig_is_fetched_from_the_node_into_the_path(
    cluster: Cluster, tmp_path: Path
) -> None:
    fake = FakeTalosctl()
    said = write_kubeconfig(target(cluster, "worker-02"), fake, tmp_path / "kubeconfig")
    assert fake.calls == [("kubeconfig", "192.168.0.202", tmp_path / "kubeconfig")]
    assert said.endswith(f"written to {tmp_path / 'kubeconfig'}")


def test_reboot_goes_one_node_at_a_time_control_planes_first_waiting_for_each(
    cluster: Cluster,
) -> None:
    fake = FakeTalosctl()
    targets = [target(cluster, n) for n in ("worker-04", "worker-02", "worker-01")]
    rollout = reboot_in_turn(targets, fake, timeout="10m")
    assert rollout.ok
    assert fake.calls == [
        ("reboot", "192.168.0.202", True, "10m"),
        ("reboot", "192.168.0.201", True, "10m"),
        ("reboot", "192.168.0.204", True, "10m"),
    ]


def test_a_node_that_does_not_come_back_stops_the_reboots(cluster: Cluster) -> None:
    fake = FakeTalosctl(fail_reboot={"192.168.0.202"})
    targets = [target(cluster, n) for n in ("worker-01", "worker-02", "worker-03")]
    rollout = reboot_in_turn(targets, fake)
    assert [call[1] for call in fake.calls] == ["192.168.0.201", "192.168.0.202"]
    assert [t.node.name for t in rollout.not_attempted] == ["worker-03"]


def test_reset_wipes_ephemeral_and_meta_by_default(cluster: Cluster) -> None:
    fake = FakeTalosctl()
    labels = check_wipe([])
    reset(target(cluster, "worker-03"), fake, wipe=labels, graceful=False, reboot=True)
    assert fake.calls == [("reset", "192.168.0.203", ("EPHEMERAL", "META"), False, True)]


def test_wipe_labels_are_checked_and_upper_cased() -> None:
    assert check_wipe(["state", "STATE", "ephemeral"]) == ("STATE", "EPHEMERAL")
    with pytest.raises(UsageError, match="--wipe BOOT: not a system volume label"):
        check_wipe(["BOOT"])


def test_the_reset_description_says_what_is_wiped_and_what_follows(cluster: Cluster) -> None:
    text = describe_reset(target(cluster, "worker-04"), wipe=("EPHEMERAL", "META"),
                          graceful=False, reboot=False)
    assert text == ("reset worker-04 (192.168.0.204): wipe EPHEMERAL, META without draining "
                    "(not graceful), then power off")


def test_resetting_a_control_plane_abruptly_says_its_etcd_member_stays(
    cluster: Cluster,
) -> None:
    abrupt = describe_reset(target(cluster, "worker-03"), wipe=("EPHEMERAL",), graceful=False,
                            reboot=True)
    assert abrupt.endswith("until removed with talosctl etcd remove-member worker-03)")
    graceful = describe_reset(target(cluster, "worker-03"), wipe=("EPHEMERAL",),
                              graceful=True, reboot=True)
    assert "etcd member" not in graceful


# -- end to end: `inv` against the talosctl stand-in --------------------------------------

INV = [sys.executable, "-c", "from invoke.main import program; program.run()"]
TALOSCTL = REPO / "tests" / "bin" / "talosctl"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pitower cluster with fresh secrets and its configs generated (once per module)."""
    root = pitower_project(tmp_path_factory.mktemp("nodes"))
    home = root.parent / "standin-genconfig"
    home.mkdir()
    (home / "state.json").write_text(json.dumps({"nodes": {}, "latency": 0.0}))
    env = {
        **os.environ, **project_env(root), "TALOSCTL": str(TALOSCTL),
        "TALOSCTL_STANDIN_STATE": str(home / "state.json"),
        "TALOSCTL_STANDIN_LOG": str(home / "calls.jsonl"), "TALOS_HOME": str(home),
    }
    with pytest.MonkeyPatch.context() as patch:
        inprocess.patch_runner(patch)
        result = inprocess.inv(["--search-root", str(REPO), "genconfig"], cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    return root


def inv(project: Path, *args: str, stdin: str = "", program: bool = False
        ) -> subprocess.CompletedProcess[str]:
    """`inv ARGS` in the project, talking to the stand-in the `standin` fixture set up: in
    this process (the stand-in too), or with ``program`` as the programs themselves."""
    env = {**os.environ, **project_env(project)}
    if not program:
        return inprocess.inv(["--search-root", str(REPO), *args], cwd=project, env=env,
                             input=stdin)
    return subprocess.run([*INV, "--search-root", str(REPO), *args], cwd=project, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


def as_sent(argv: list[str]) -> list[str]:
    """``argv`` with a config that apply pinned at plan time (a private copy, gone by now)
    named ``PINNED/<node>.yaml``."""
    if "--file" not in argv:
        return argv
    at = argv.index("--file") + 1
    path = Path(argv[at])
    if not path.parent.name.startswith("talos-apply-"):
        return argv
    assert not path.exists()  # removed once the run ended
    return [*argv[:at], f"PINNED/{path.name}", *argv[at + 1:]]


def node_calls(standin: Standin) -> list[list[str]]:
    """Calls made to nodes (the client's own `version --client` left out)."""
    return [as_sent(argv) for argv in standin.calls() if argv[:2] != ["version", "--client"]]


def online(project: Path, command: str, ip: str) -> list[str]:
    talosconfig = str(project / "clusterconfig" / "talosconfig")
    return [*command.split(), "--talosconfig", talosconfig, "--nodes", ip, "--endpoints", ip]


def applied(project: Path, name: str, ip: str, *extra: str, pinned: bool = True
            ) -> list[str]:
    config = f"PINNED/{name}.yaml" if pinned else str(project / "clusterconfig" / f"{name}.yaml")
    return [*online(project, "apply-config", ip), "--file", config, "--mode", "auto", *extra]


CP = {"worker-01": "192.168.0.201", "worker-02": "192.168.0.202", "worker-03": "192.168.0.203"}


def test_inv_apply_node_worker_03_applies_its_config_to_its_address_only(
    standin: Standin, project: Path
) -> None:
    standin.pitower(bootstrapped=True)
    result = inv(project, "apply", "--node", "worker-03", "--yes", program=True)
    assert result.returncode == 0, result.stderr
    calls = node_calls(standin)
    assert [argv for argv in calls if argv[0] == "apply-config"] == [
        applied(project, "worker-03", "192.168.0.203", "--dry-run"),  # anything to do?
        applied(project, "worker-03", "192.168.0.203"),
    ]
    # a control plane: etcd checked and snapshotted between the plan and the change
    commands = [" ".join(argv[:2]) for argv in calls]
    assert commands.index("etcd status") < commands.index("etcd snapshot") < len(calls) - 1
    assert "worker-03: Applied configuration without a reboot" in result.stdout
    assert standin.node("192.168.0.203")["config"] is not None


def test_apply_role_controlplane_goes_through_the_control_planes_in_order(
    standin: Standin, project: Path
) -> None:
    standin.pitower(bootstrapped=True)
    result = inv(project, "apply", "--role", "controlplane", "--mode", "no-reboot", "--yes")
    assert result.returncode == 0, result.stderr
    assert [argv for argv in node_calls(standin) if argv[0] == "apply-config"] == [
        [*applied(project, name, ip)[:-1], "no-reboot", *dry_run]
        for dry_run in (["--dry-run"], []) for name, ip in CP.items()
    ]


def test_a_node_without_ip_is_found_through_the_members_by_hostname(
    standin: Standin, project: Path
) -> None:
    standin.pitower()
    result = inv(project, "apply", "--node", "worker-05", "--yes")
    assert result.returncode == 0, result.stderr
    assert node_calls(standin) == [
        [*online(project, "get members", "192.168.0.201"), "--output", "json"],
        applied(project, "worker-05", "192.168.0.205", "--dry-run"),
        applied(project, "worker-05", "192.168.0.205"),
    ]


def test_a_node_nobody_knows_is_a_one_line_error_before_anything_is_applied(
    standin: Standin, project: Path
) -> None:
    state = standin.pitower()
    del state["nodes"]["192.168.0.206"]
    standin.set_state(state)
    result = inv(project, "apply", "--node", "worker-04", "--node", "worker-06")
    assert result.returncode == 1
    assert "worker-06 has no IP" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not any(argv[0] == "apply-config" for argv in node_calls(standin))


def test_a_node_that_cannot_be_compared_stops_the_apply_before_any_change(
    standin: Standin, project: Path
) -> None:
    standin.pitower(worker_02={"reachable": False}, bootstrapped=True)
    result = inv(project, "apply", "--yes")
    assert result.returncode == 1
    assert all("--dry-run" in argv for argv in node_calls(standin) if argv[0] == "apply-config")
    rows = {line.split()[0]: line.split()[2] for line in result.stdout.splitlines()
            if line.startswith("worker-") and "192.168" in line}
    assert rows["worker-01"] == "changes" and rows["worker-02"] == "ERROR"
    assert "cannot plan the apply" in result.stderr and "worker-02" in result.stderr


@pytest.mark.slow
def test_diff_exits_2_when_a_node_would_change_and_0_once_applied(
    standin: Standin, project: Path
) -> None:
    standin.pitower()
    before = inv(project, "diff", "--node", "worker-03", program=True)
    assert before.returncode == 2, before.stderr
    assert node_calls(standin) == [applied(project, "worker-03", "192.168.0.203", "--dry-run",
                                           pinned=False)]
    assert "1 of 1 node(s) would change: worker-03" in before.stderr
    state = standin.state()
    state["nodes"]["192.168.0.201"]["bootstrapped"] = True
    standin.set_state(state)
    assert inv(project, "apply", "--node", "worker-03", "--yes").returncode == 0
    after = inv(project, "diff", "--node", "worker-03")
    assert after.returncode == 0, after.stderr
    assert "no changes on 1 node(s)" in after.stdout


def test_diff_exits_1_when_a_node_cannot_be_compared(standin: Standin, project: Path) -> None:
    standin.pitower(worker_02={"reachable": False})
    result = inv(project, "diff", "--role", "controlplane")
    assert result.returncode == 1
    lines = {line.split()[0]: line.split()[2] for line in result.stdout.splitlines()
             if line.startswith("worker-0") and "192.168" in line}
    assert lines == {"worker-01": "changes", "worker-02": "ERROR", "worker-03": "changes"}


def test_no_secret_of_the_bundle_appears_in_the_diff(standin: Standin, project: Path) -> None:
    standin.pitower()
    result = inv(project, "diff", "--node", "worker-01", "--node", "worker-04")
    assert result.returncode == 2, result.stderr
    bundle = yaml.safe_load(decrypt(project / "secrets.sops.yaml", project / "age.key"))
    values = [v for v in strings(bundle) if len(v) >= 8]
    assert len(values) > 10
    shown = result.stdout + result.stderr
    assert "<redacted>" in shown
    assert "token:" in shown  # the diff is there, with its values hidden
    leaked = [v[:12] for v in values if v in shown]
    assert leaked == []


def foreign_config(config: str, bundle_text: str) -> str:
    """``config`` with its secrets swapped for those of another bundle, as a node applied
    from another checkout (or before a rotation) would hold it."""
    bundle = yaml.safe_load(bundle_text)
    documents = list(yaml.safe_load_all(config))
    main = next(d for d in documents if d.get("version") == "v1alpha1")
    certs, machine, cluster = bundle["certs"], main["machine"], main["cluster"]
    machine["token"] = bundle["trustdinfo"]["token"]
    machine["ca"] = {"crt": certs["os"]["crt"], "key": certs["os"]["key"]}
    cluster["id"], cluster["secret"] = bundle["cluster"]["id"], bundle["cluster"]["secret"]
    cluster["token"] = bundle["secrets"]["bootstraptoken"]
    cluster["secretboxEncryptionSecret"] = bundle["secrets"]["secretboxencryptionsecret"]
    cluster["ca"] = {"crt": certs["k8s"]["crt"], "key": certs["k8s"]["key"]}
    cluster["aggregatorCA"] = dict(certs["k8saggregator"])
    cluster["serviceAccount"] = {"key": certs["k8sserviceaccount"]["key"]}
    cluster["etcd"] = {**cluster.get("etcd", {}), "ca": dict(certs["etcd"])}
    return yaml.safe_dump_all(documents, sort_keys=False)


def test_a_diff_against_a_node_holding_another_bundles_secrets_prints_none_of_them(
    standin: Standin, project: Path
) -> None:
    from sopskit import secrets_bundle

    other = secrets_bundle()
    running = foreign_config((project / "clusterconfig" / "worker-01.yaml").read_text(), other)
    standin.pitower(worker_01={"config": running})
    result = inv(project, "diff", "--node", "worker-01")
    assert result.returncode == 2, result.stderr
    shown = result.stdout + result.stderr
    ours = yaml.safe_load(decrypt(project / "secrets.sops.yaml", project / "age.key"))
    theirs = yaml.safe_load(other)
    for pair in theirs["certs"].values():
        pair.pop("crt", None)  # certificates are public: only their keys are secret
    values = [v for v in strings(theirs) + strings(ours) if len(v) >= 8]
    assert len(values) > 15
    assert [v[:12] for v in values if v in shown] == []
    # Each secret still shows as changed: masked on both sides of the diff.
    for name in ("token", "secret", "id", "key", "secretboxEncryptionSecret"):
        assert re.search(rf"^-\s+{name}: <redacted>$", shown, re.M), name
        assert re.search(rf"^\+\s+{name}: <redacted>$", shown, re.M), name


def test_apply_masks_secrets_that_talosctl_quotes_in_its_error(
    standin: Standin, project: Path, tmp_path: Path
) -> None:
    from sopskit import secrets_bundle

    theirs = yaml.safe_load(secrets_bundle())
    ours = yaml.safe_load(decrypt(project / "secrets.sops.yaml", project / "age.key"))
    quoted = (f"machine:\n    token: {theirs['trustdinfo']['token']}\n"
              f"cluster:\n    secret: {theirs['cluster']['secret']}\n"
              f"rpc error: near {theirs['certs']['os']['key']} and {ours['cluster']['secret']}\n")
    # A talosctl whose apply (not its dry run) fails quoting config content; the rest
    # is the stand-in's.
    wrapper = tmp_path / "talosctl"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "if sys.argv[1:2] == ['apply-config'] and '--dry-run' not in sys.argv:\n"
        f"    sys.stderr.write('error applying new configuration: ' + {quoted!r})\n"
        "    sys.exit(1)\n"
        f"os.execv({str(TALOSCTL)!r}, [{str(TALOSCTL)!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    standin.pitower(bootstrapped=True)
    env = {**os.environ, **project_env(project), "TALOSCTL": str(wrapper)}
    result = subprocess.run([*INV, "--search-root", str(REPO), "apply", "--node", "worker-03",
                             "--yes"],
                            cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    shown = result.stdout + result.stderr
    assert "apply stopped at worker-03" in shown
    assert "rpc error: near <redacted> and <redacted>" in shown
    secrets = [theirs["trustdinfo"]["token"], theirs["cluster"]["secret"],
               theirs["certs"]["os"]["key"], ours["cluster"]["secret"]]
    assert [v[:12] for v in secrets if v in shown] == []


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def test_kubeconfig_into_a_users_file_keeps_their_other_clusters(
    standin: Standin, project: Path
) -> None:
    standin.pitower()
    users = project / "home-kube-config"
    users.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
        "clusters:\n- name: lab\n  cluster: {server: 'https://10.0.0.1:6443'}\n"
        "users:\n- name: lab\n  user: {token: abc}\n"
        "contexts:\n- name: lab\n  context: {cluster: lab, user: lab}\n"
    )
    done = inv(project, "kubeconfig", "--path", str(users))
    assert done.returncode == 0, done.stderr
    assert node_calls(standin)[-1] == [
        *online(project, "kubeconfig", "192.168.0.201"), "--force", str(users)
    ]
    merged = yaml.safe_load(users.read_text())
    contexts = {entry["name"] for entry in merged["contexts"]}
    assert "lab" in contexts
    assert any(name.endswith("@pitower") for name in contexts)
    assert "merged into" in done.stdout


def test_bootstrap_twice_succeeds_and_says_already_bootstrapped(
    standin: Standin, project: Path
) -> None:
    standin.pitower()
    first = inv(project, "bootstrap", program=True)
    assert first.returncode == 0, first.stderr
    kubeconfig = project / "clusterconfig" / "kubeconfig"
    assert node_calls(standin) == [
        online(project, "bootstrap", "192.168.0.201"),
        [*online(project, "kubeconfig", "192.168.0.201"), "--force", "--merge=false",
         str(kubeconfig)],
    ]
    assert kubeconfig.is_file()
    second = inv(project, "bootstrap")
    assert second.returncode == 0, second.stderr
    assert "worker-01 (192.168.0.201): already bootstrapped; nothing to do" in second.stdout
    assert standin.node("192.168.0.201")["bootstrapped"] is True


def test_kubeconfig_writes_where_asked(standin: Standin, project: Path, tmp_path: Path) -> None:
    standin.pitower(bootstrapped=True)
    target = tmp_path / "kube" / "config"
    target.parent.mkdir()
    result = inv(project, "kubeconfig", "--path", str(target), "--node", "worker-02",
                 program=True)
    assert result.returncode == 0, result.stderr
    assert node_calls(standin) == [
        [*online(project, "kubeconfig", "192.168.0.202"), "--force", str(target)],
    ]
    assert target.is_file()
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
def test_reboot_role_worker_reboots_each_worker_in_turn(
    standin: Standin, project: Path
) -> None:
    standin.pitower(reboot_seconds=0.2)
    result = inv(project, "reboot", "--role", "worker", "--yes")
    assert result.returncode == 0, result.stderr
    reboots = [argv for argv in node_calls(standin) if argv[0] == "reboot"]
    workers = ["192.168.0.204", "192.168.0.205", "192.168.0.206", "192.168.0.211",
               "192.168.0.212", "192.168.0.213"]
    assert reboots == [online(project, "reboot", ip) for ip in workers]
    log = [entry for entry in standin.log() if entry["argv"][0] == "reboot"]
    for entry in log:
        assert entry["end"] - entry["time"] >= 0.2  # waited for the node to come back
    for earlier, later in itertools.pairwise(log):
        assert earlier["end"] <= later["time"]  # and only then went on to the next


@pytest.mark.parametrize("task", ["reboot", "health"])
@pytest.mark.parametrize("timeout", ["soon", "10", "-5m", "0s"])
def test_a_timeout_that_is_not_a_duration_is_refused_before_any_call(
    standin: Standin, project: Path, task: str, timeout: str
) -> None:
    standin.pitower(bootstrapped=True)
    # one case per task through the inv program: health has no other
    result = inv(project, task, "--timeout", timeout, program=timeout == "soon")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"error: --timeout {timeout!r} is not a duration (e.g. 30s, 5m, 1h30m)")
    assert node_calls(standin) == []


def test_reset_wipes_ephemeral_and_meta_and_reboots_with_yes(
    standin: Standin, project: Path
) -> None:
    standin.pitower()
    result = inv(project, "reset", "--node", "worker-pi-02", "--yes")
    assert result.returncode == 0, result.stderr
    assert node_calls(standin) == [[
        *online(project, "reset", "192.168.0.212"), "--graceful=false", "--reboot=true",
        "--system-labels-to-wipe", "EPHEMERAL", "--system-labels-to-wipe", "META",
    ]]


def test_reset_options_reach_talosctl(standin: Standin, project: Path) -> None:
    standin.pitower()
    result = inv(project, "reset", "--node", "worker-04", "--yes", "--wipe", "state",
                 "--graceful", "--no-reboot")
    assert result.returncode == 0, result.stderr
    assert node_calls(standin) == [[
        *online(project, "reset", "192.168.0.204"), "--graceful=true", "--reboot=false",
        "--system-labels-to-wipe", "STATE",
    ]]


def test_reset_refuses_without_a_terminal_and_without_yes(
    standin: Standin, project: Path
) -> None:
    standin.pitower(bootstrapped=True)
    result = inv(project, "reset", "--node", "worker-03", stdin="worker-03\n", program=True)
    assert result.returncode == 1
    assert "refusing to reset worker-03" in result.stderr
    assert "--yes" in result.stderr
    assert not any(argv[0] == "reset" for argv in standin.calls())


@pytest.mark.parametrize(
    "args",
    [
        ("apply",),
        ("apply", "--node", "worker-05", "--mode", "reboot"),
        ("bootstrap",),
        ("kubeconfig",),
        ("reboot", "--role", "controlplane"),
        ("reset", "--node", "worker-03"),
        ("diff", "--node", "worker-03"),
    ],
)
def test_dry_runs_no_talosctl_command_that_changes_a_node(
    standin: Standin, project: Path, args: tuple[str, ...]
) -> None:
    standin.pitower()
    before = standin.state()
    result = inv(project, "--dry", *args)
    assert result.returncode == (2 if args[0] == "diff" else 0), result.stderr
    mutating = {"apply-config", "bootstrap", "kubeconfig", "reboot", "reset", "upgrade"}
    ran = [argv for argv in node_calls(standin) if argv[0] in mutating
           and "--dry-run" not in argv]
    assert ran == []
    assert standin.state() == before
    if args[0] == "diff":  # a diff only reads: it runs, and shows what would change
        assert [argv[0] for argv in node_calls(standin)] == ["apply-config"]
        assert "would change: worker-03" in result.stderr
        return
    assert "dry run" in result.stdout
    assert f"{TALOSCTL} {args[0].replace('apply', 'apply-config')} " in result.stdout


def test_apply_insecure_installs_a_node_in_maintenance_mode_without_talosconfig(
    standin: Standin, project: Path
) -> None:
    standin.pitower(worker_04={"maintenance": True})
    result = inv(project, "apply", "--node", "worker-04", "--insecure", "--yes")
    assert result.returncode == 0, result.stderr
    config = "PINNED/worker-04.yaml"
    assert node_calls(standin) == [
        ["apply-config", "--nodes", "192.168.0.204", "--insecure", "--file", config,
         "--mode", "auto"],
    ]
    assert standin.node("192.168.0.204")["maintenance"] is False


def test_a_mistyped_node_name_is_refused_with_the_closest_names(
    standin: Standin, project: Path
) -> None:
    standin.pitower()
    result = inv(project, "apply", "--node", "worker-3")
    assert result.returncode == 1
    assert "no node named 'worker-3'" in result.stderr
    assert "did you mean" in result.stderr and "worker-03" in result.stderr
    assert node_calls(standin) == []


@pytest.mark.slow
def test_apply_brings_the_config_up_to_date_first_and_only_when_it_changed(
    standin: Standin, tmp_path: Path
) -> None:
    standin.pitower()
    root = pitower_project(tmp_path)
    # a fresh clone: no configs and no talosconfig yet, and worker-05 to be found by members
    first = inv(root, "apply", "--node", "worker-04", "--node", "worker-05", "--yes")
    assert first.returncode == 0, first.stderr
    assert "configs out of date, regenerated: worker-04, worker-05" in first.stdout
    patch = root / "patches" / "nodes" / "worker-04.patch"
    patch.write_text(patch.read_text().replace("media-home", "media-lab"))
    second = inv(root, "apply", "--node", "worker-04", "--yes")
    assert second.returncode == 0, second.stderr
    assert "regenerated: worker-04" in second.stdout
    assert "media-lab" in standin.node("192.168.0.204")["config"]
    third = inv(root, "apply", "--node", "worker-04", "--yes")
    assert third.returncode == 0, third.stderr
    assert "regenerated" not in third.stdout


@pytest.mark.slow
def test_a_control_plane_that_reboots_is_back_before_the_next_is_applied(
    standin: Standin, project: Path
) -> None:
    standin.pitower(reboot_seconds=0.3, bootstrapped=True)
    result = inv(project, "apply", "--role", "controlplane", "--mode", "reboot", "--yes")
    assert result.returncode == 0, result.stderr
    calls = [(" ".join(argv[:2]) if argv[0] in ("etcd", "get") else argv[0],
              argv[argv.index("--nodes") + 1]) for argv in node_calls(standin)
             if "--dry-run" not in argv and argv[:2] != ["etcd", "members"]]
    runs = [call for i, call in enumerate(calls) if i == 0 or calls[i - 1] != call]
    everyone = ",".join(CP.values())
    # pre-flight and snapshot; then each apply is followed by polls of that node's machine
    # status until it is back, and by etcd's health before the next node
    assert runs[:2] == [("etcd status", everyone), ("etcd snapshot", CP["worker-01"])]
    assert runs[2:] == [step for ip in CP.values() for step in (
        ("apply-config", ip), ("get machinestatus", ip), ("etcd status", everyone))]
    assert result.stdout.count("back and ready") == 3


@pytest.mark.slow
def test_applying_again_leaves_nodes_alone_unless_forced(
    standin: Standin, project: Path
) -> None:
    standin.pitower(bootstrapped=True)
    assert inv(project, "apply", "--role", "controlplane", "--yes").returncode == 0
    first = len(standin.calls())
    again = inv(project, "apply", "--role", "controlplane", "--yes")
    assert again.returncode == 0, again.stderr
    assert all("--dry-run" in argv for argv in standin.calls()[first:]
               if argv[0] == "apply-config")
    assert again.stdout.count("nothing to change; not touched") == 3
    assert "worker-02: nothing to change; not touched" in again.stdout
    assert "Nothing to apply." in again.stdout
    dry = inv(project, "--dry", "apply", "--role", "controlplane")
    assert dry.returncode == 0, dry.stderr
    assert "worker-03: nothing to change; not touched" in dry.stdout
    second = len(standin.calls())
    forced = inv(project, "apply", "--node", "worker-02", "--force", "--yes")
    assert forced.returncode == 0, forced.stderr
    assert [as_sent(argv) for argv in standin.calls()[second:]
            if argv[0] == "apply-config"] == [
        applied(project, "worker-02", "192.168.0.202", "--dry-run"),
        applied(project, "worker-02", "192.168.0.202"),
    ]


# -- safety: pre-flight, confirmation, snapshot, gating -------------------------------------


def changes(standin: Standin, command: str) -> list[list[str]]:
    """Calls of ``command`` that change a node (dry runs left out)."""
    return [argv for argv in node_calls(standin) if argv[0] == command
            and "--dry-run" not in argv]


@pytest.mark.parametrize("args", [("reboot", "--role", "controlplane"),
                                  ("apply", "--role", "controlplane", "--mode", "reboot")])
def test_an_unreachable_control_plane_stops_reboot_and_apply_before_any_change(
    standin: Standin, project: Path, args: tuple[str, ...]
) -> None:
    standin.pitower(bootstrapped=True, worker_03={"reachable": False})
    if args[0] == "apply":  # a node that cannot be compared stops the plan itself
        standin.pitower(bootstrapped=True, worker_03={"etcd_running": False})
    result = inv(project, *args, "--yes")
    assert result.returncode == 1
    assert "pre-flight refused" in result.stderr and "worker-03" in result.stderr
    assert changes(standin, args[0].replace("apply", "apply-config")) == []
    assert not [argv for argv in node_calls(standin) if argv[:2] == ["etcd", "snapshot"]]


@pytest.mark.slow
def test_reboot_of_control_planes_snapshots_first_and_waits_for_etcd_between_them(
    standin: Standin, project: Path
) -> None:
    standin.pitower(bootstrapped=True, reboot_seconds=0.2)
    result = inv(project, "reboot", "--role", "controlplane", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    calls = [" ".join(argv[:2]) if argv[0] == "etcd" else argv[0]
             for argv in node_calls(standin) if argv[0] in ("etcd", "reboot")]
    assert calls == ["etcd status", "etcd members", "etcd snapshot",
                     *["reboot", "etcd status", "etcd members"] * 3]
    document = json.loads(result.stdout)
    assert set(document) == {"dry_run", "snapshot", "nodes"}
    assert [n["result"] for n in document["nodes"]] == ["rebooted"] * 3
    assert set(document["nodes"][0]) == {"node", "address", "result", "message"}
    snapshot = Path(document["snapshot"])
    assert snapshot.parent == project / "clusterconfig" / "backups"
    assert snapshot.stat().st_mode & 0o777 == 0o600
    assert "etcd snapshot from worker-01" in result.stderr


def test_apply_without_a_terminal_and_without_yes_changes_nothing(
    standin: Standin, project: Path
) -> None:
    standin.pitower(bootstrapped=True)
    result = inv(project, "apply", "--node", "worker-04")
    assert result.returncode == 1
    assert "no terminal to ask 'Apply to 1 node?' on, and no --yes" in result.stderr
    assert changes(standin, "apply-config") == []


def test_dry_apply_after_a_patch_edit_shows_the_change(
    standin: Standin, tmp_path: Path
) -> None:
    standin.pitower(bootstrapped=True)
    root = pitower_project(tmp_path)
    assert inv(root, "apply", "--node", "worker-04", "--yes").returncode == 0
    patch = root / "patches" / "nodes" / "worker-04.patch"
    patch.write_text(patch.read_text().replace("media-home", "media-lab"))
    dry = inv(root, "--dry", "apply", "--node", "worker-04", "--json")
    assert dry.returncode == 0, dry.stderr
    assert "+" in dry.stderr and "media-lab" in dry.stderr  # the diff, on stderr with --json
    document = json.loads(dry.stdout)
    assert document["dry_run"] is True
    assert document["plan"] == [{"node": "worker-04", "address": "192.168.0.204",
                                 "changes": True, "reboot": False, "error": None}]
    assert "media-lab" not in standin.node("192.168.0.204")["config"]

@pytest.mark.parametrize("mode", ["auto", "no-reboot"])
def test_a_node_that_explains_its_reboot_with_a_diff_shows_none_of_its_secrets(
    standin: Standin, project: Path, mode: str,
) -> None:
    """A node holding another bundle's token cannot take ours without a reboot: talosctl
    says so with a diff of both tokens (auto: in its message; no-reboot: in its error)."""
    from sopskit import secrets_bundle

    other = secrets_bundle()
    running = foreign_config((project / "clusterconfig" / "worker-01.yaml").read_text(), other)
    standin.pitower(bootstrapped=True, worker_01={"config": running})
    result = inv(project, "apply", "--node", "worker-01", "--mode", mode, "--yes")
    assert result.returncode == (0 if mode == "auto" else 1), result.stderr
    shown = result.stdout + result.stderr
    assert "can't be applied in immediate mode" in shown
    ours = yaml.safe_load(decrypt(project / "secrets.sops.yaml", project / "age.key"))
    theirs = yaml.safe_load(other)
    secrets = [theirs["trustdinfo"]["token"], ours["trustdinfo"]["token"],
               theirs["certs"]["os"]["key"], ours["certs"]["os"]["key"]]
    assert [v[:12] for v in secrets if v in shown] == []
    assert "diff:" not in shown


def test_ctrl_c_during_a_reboot_names_the_node_in_flight_and_exits_130(
    standin: Standin, project: Path
) -> None:
    import signal
    import time

    standin.pitower(bootstrapped=True, reboot_seconds=2.0)
    env = {**os.environ, **project_env(project)}
    process = subprocess.Popen([*INV, "--search-root", str(REPO), "reboot", "--role",
                                "worker", "--yes"], cwd=project, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(node.get("pending") for node in standin.state()["nodes"].values()):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    assert "reboot stopped at worker-04: interrupted (Ctrl-C)" in err
    assert "in flight: worker-04" in err
    assert "worker-05" in out and "not attempted" in out  # the table of what was done
    assert [argv[argv.index("--nodes") + 1] for argv in changes(standin, "reboot")] == [
        "192.168.0.204"]


def test_apply_json_is_the_plan_and_each_nodes_outcome(
    standin: Standin, project: Path
) -> None:
    standin.pitower(bootstrapped=True)
    result = inv(project, "apply", "--node", "worker-04", "--node", "worker-03", "--yes",
                 "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"plan", "dry_run", "snapshot", "nodes"}
    assert document["dry_run"] is False
    assert [entry["node"] for entry in document["plan"]] == ["worker-03", "worker-04"]
    assert set(document["plan"][0]) == {"node", "address", "changes", "reboot", "error"}
    assert [(n["node"], n["result"]) for n in document["nodes"]] == [
        ("worker-03", "applied"), ("worker-04", "applied")]
    assert set(document["nodes"][0]) == {"node", "address", "result", "message"}
    assert document["snapshot"].startswith(str(project / "clusterconfig" / "backups"))
    assert "apply, one node at a time" in result.stderr  # prose is on stderr


# -- what was shown is what is applied ------------------------------------------------------


def in_project(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in project_env(root).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TALOS_TASKS_TALOSCONFIG", raising=False)
    monkeypatch.chdir(root)


def test_a_config_regenerated_after_the_plan_is_not_what_gets_applied(
    standin: Standin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from invoke.context import Context

    from talos.ops.safety import Guard
    from talos.tasks.apply import apply

    standin.pitower(bootstrapped=True)
    root = pitower_project(tmp_path)
    in_project(root, monkeypatch)
    config = root / "clusterconfig" / "worker-04.yaml"

    def confirm(guard: Guard, question: str, *, yes: bool, stdin: object = None) -> None:
        # while the plan is read, the node's file is rewritten (a genconfig elsewhere)
        config.write_text(config.read_text().replace("media-home", "media-edited"))

    monkeypatch.setattr(Guard, "confirm", confirm)
    apply(Context(), node=["worker-04"])
    held = standin.node("192.168.0.204")["config"]
    assert "media-home" in held and "media-edited" not in held
    files = [Path(argv[argv.index("--file") + 1]) for argv in standin.calls()
             if argv[0] == "apply-config"]
    assert len(files) == 2 and files[0] == files[1] and files[0].name == "worker-04.yaml"
    assert files[0].parent != config.parent and not files[0].parent.exists()


def test_the_plan_names_each_configs_digest(
    standin: Standin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import hashlib

    from invoke.context import Context

    from talos.tasks.apply import apply

    standin.pitower(bootstrapped=True)
    root = pitower_project(tmp_path)
    in_project(root, monkeypatch)
    apply(Context(), node=["worker-04"], yes=True)
    digest = hashlib.sha256((root / "clusterconfig" / "worker-04.yaml").read_bytes())
    first = capsys.readouterr().out
    assert f"clusterconfig/worker-04.yaml (sha256 {digest.hexdigest()[:12]}), mode auto" in first


def test_genconfig_refuses_while_a_rollout_holds_the_lock_naming_it(
    standin: Standin, project: Path
) -> None:
    from talos.adapters.lock import rollout_lock

    patch = project / "patches" / "nodes" / "worker-04.patch"
    before = (project / "clusterconfig" / "worker-04.yaml").read_text()
    original = patch.read_text()
    patch.write_text(original.replace("media-home", "media-lab"))
    try:
        with rollout_lock(project / "clusterconfig", "apply"):
            for args in (("genconfig",), ("diff", "--node", "worker-04")):
                result = inv(project, *args)
                assert result.returncode == 1, result.stderr
                assert (f"refused: a rollout from this working copy is running: inv apply "
                        f"(pid {os.getpid()} on") in result.stderr
        assert (project / "clusterconfig" / "worker-04.yaml").read_text() == before
    finally:
        patch.write_text(original)


def test_the_plan_says_even_if_unchanged_only_when_force_was_given(
    standin: Standin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from invoke.context import Context

    from talos.tasks.apply import apply

    standin.pitower(bootstrapped=True)
    in_project(pitower_project(tmp_path), monkeypatch)
    apply(Context(), node=["worker-04"], yes=True)
    plain = capsys.readouterr().out
    assert "worker-04 (192.168.0.204): clusterconfig/worker-04.yaml" in plain
    assert "--force" not in plain
    apply(Context(), node=["worker-04"], yes=True, force=True)
    assert "mode auto, even if unchanged (--force)" in capsys.readouterr().out


def test_force_reapplies_and_only_skip_etcd_check_skips_the_pre_flight(
    standin: Standin, project: Path
) -> None:
    standin.pitower(bootstrapped=True, worker_02={"etcd_running": False})
    forced = inv(project, "apply", "--node", "worker-03", "--force", "--yes")
    assert forced.returncode == 1
    assert "pre-flight refused apply: worker-02" in forced.stderr
    assert "pass --skip-etcd-check to go on anyway" in forced.stderr
    assert changes(standin, "apply-config") == []
    skipped = inv(project, "apply", "--node", "worker-03", "--skip-etcd-check", "--yes")
    assert skipped.returncode == 0, skipped.stderr
    assert "--skip-etcd-check: skipping the etcd health" in skipped.stdout
    assert len(changes(standin, "apply-config")) == 1
    for task in ("apply", "reboot", "reset", "upgrade", "upgrade-k8s"):
        shown = inv(project, task, "--help").stdout
        assert any(line.split()[:1] == ["--skip-etcd-check"] for line in shown.splitlines())
        assert ", --skip-etcd-check" not in shown  # no short form
    assert "--force" not in inv(project, "reboot", "--help").stdout
