"""Commands that change nodes: apply-config, upgrade, upgrade-k8s, bootstrap, reboot,
reset. Reboots and upgrades take the node down for its injected time."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import machineconfig as mc
from . import process, state, yamlio
from .client import (
    NodeError,
    Session,
    connect,
    dig,
    go_list,
    ip_key,
    node_problem,
    per_node,
    tabulate,
    version_tuple,
    version_warning,
)
from .flags import CLIError, Parsed, format_duration
from .offline import err, out

VANILLA_SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"


# Talos: internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_runtime.go:CanApplyImmediate
# The parts of the v1alpha1 document a running node takes without a reboot (the YAML keys
# of the Go fields that function copies from the current config); a change anywhere else
# (machine.env, machine.files, machine.token, machine.type, persist, ...) needs one.
IMMEDIATE_TOP = ("debug", "cluster")
IMMEDIATE_MACHINE = ("ca", "acceptedCAs", "time", "certSANs", "install", "network", "sysfs",
                     "sysctls", "logging", "controlPlane", "kubelet", "kernel", "registries",
                     "pods", "seccompProfiles", "nodeAnnotations", "nodeLabels", "nodeTaints")
IMMEDIATE_FEATURES = ("kubernetesTalosAPIAccess", "kubePrism", "hostDNS", "imageCache",
                      "nodeAddressSortAlgorithm")


def _take(source: dict[str, Any], target: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in source:
            target[key] = copy.deepcopy(source[key])
        else:
            target.pop(key, None)


def immediate_error(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str | None:
    """None when the change applies without a reboot, else the node's reason.

    # Talos: v1alpha1_runtime.go:CanApplyImmediate
    Only the v1alpha1 documents are compared (other documents always apply immediately):
    the new one with every immediate part put back as it is now must equal the current
    one; the error carries the unified diff of the current document against that (so it
    shows only the changes that need the reboot). A node whose state records no config
    is taken to have the new one's non-immediate parts (guessed: a running node always
    has a config; the state may not record it).
    """
    current = mc.v1alpha1(old)
    if current is None:
        return None
    wanted = mc.v1alpha1(new)
    if wanted is None:
        return "new config is not v1alpha1"
    masked = copy.deepcopy(wanted)
    _take(current, masked, IMMEDIATE_TOP)
    machine_now, machine_new = current.get("machine"), masked.get("machine")
    if isinstance(machine_now, dict) and isinstance(machine_new, dict):
        _take(machine_now, machine_new, IMMEDIATE_MACHINE)
        features_now, features_new = machine_now.get("features"), machine_new.get("features")
        if isinstance(features_now, dict) and isinstance(features_new, dict):
            _take(features_now, features_new, IMMEDIATE_FEATURES)
    if masked == current:
        return None
    diff = unified_diff(yamlio.dump(current), yamlio.dump(masked)).rstrip("\n")
    return f"this config change can't be applied in immediate mode\ndiff:\n{diff}"


def plain(text: str | None) -> str:
    if not text:
        return ""
    try:
        return yamlio.dump_all(mc.parse(text))
    except Exception:
        return text


def unified_diff(old: str, new: str) -> str:
    """The unified diff of two YAML texts (guessed: the format of Talos's configdiff, which
    is not in the reference; headers ``--- a`` / ``+++ b``, three lines of context)."""
    import difflib

    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), "a", "b",
                                      n=3, lineterm=""))
    return "\n".join(lines) + "\n" if lines else ""


def apply_config(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/apply-config.go:applyConfigCmd;
    v1alpha1_server.go:ApplyConfiguration; helpers/mode.go:PrintApplyResults (details below)"""
    mode = p["mode"]  # an enum flag: other values were refused while parsing
    if p.args:
        # `apply config` / `apply machineconfig` name the command; anything else does not.
        if p.args[0] != "config" and p.args[0].lower() != "machineconfig":
            out(p.command.help())
            raise CLIError(f"unknown positional argument {p.args[0]}")
        if p.called_as == "apply-config":
            out(p.command.help())
            raise CLIError("expected no positional arguments")
    if mode == "interactive":  # apply-config.go: the installer UI needs a terminal
        raise CLIError("interactive mode needs a terminal installer (not simulated)")  # guessed
    if not p["file"]:
        raise CLIError("no filename supplied for configuration")
    try:
        text = Path(p["file"]).read_text(encoding="utf-8")
    except OSError as exc:
        reason = "no such file or directory" if isinstance(exc, FileNotFoundError) else (
            str(exc.strerror).lower())
        raise CLIError(f'failed to read configuration from "{p["file"]}": '
                       f'open {p["file"]}: {reason}') from None
    if not text:
        raise CLIError("no configuration data read")
    parse_error = ""
    try:
        documents = mc.parse(text)
    except Exception as exc:  # the bytes go to the node as they are; it refuses them
        if p["config-patch"]:
            raise CLIError(f"failed to decode configuration: {exc}") from None
        documents, parse_error = [], str(exc).replace("\n", " ")
    if p["config-patch"]:
        patches = [mc.load_patch(s) for s in p["config-patch"]]
        documents = mc.apply_patches(documents, patches)
        text = yamlio.dump_all(documents)
    insecure = p["insecure"]
    session = connect(p, data, client_version)
    if session.unreachable:  # the checks below are the node's: nothing reached one
        raise CLIError(f"error applying new configuration: {session.unreachable}")
    if insecure and mode not in ("auto", "reboot", "try"):
        # the maintenance service's check (guessed: its source is not in the reference)
        def refuse(ip: str, node: dict[str, Any]) -> None:
            raise NodeError(f"rpc error: code = Unimplemented desc = apply configuration "
                            f"--mode='{mode}' is not supported in maintenance mode")

        per_node(session, "error applying new configuration", refuse, insecure=True)
    def refused(insecure: bool) -> str | None:
        """The node's own checks, in its order (a node's reply, so it carries the node's
        prefix like any other)."""
        if parse_error:
            # v1alpha1_server.go:ApplyConfiguration returns the loader's error as it is;
            # the maintenance service wraps it (guessed: not in the reference).
            return (f"rpc error: code = Unknown desc = failed to parse config: {parse_error}"
                    if insecure else f"rpc error: code = InvalidArgument desc = {parse_error}")
        if mc.v1alpha1(documents) is None:
            return ("rpc error: code = InvalidArgument desc = the applied machine "
                    "configuration doesn't contain v1alpha1 config, did you mean to patch "
                    "the machine config instead?")
        # ApplyConfiguration validates on the node (an installed node needs no install
        # disk) and returns the container's error as it is, InvalidArgument; the
        # maintenance service says "configuration validation failed: " first (guessed).
        if problems:
            return ("rpc error: code = InvalidArgument desc = "
                    + ("configuration validation failed: " if insecure else "")
                    + mc.multierror(problems))
        return None

    problems, warnings = mc.problems(documents, "metal", requires_install=insecure)
    messages: list[str] = []

    def one(ip: str, node: dict[str, Any]) -> None:
        refusal = refused(insecure)
        if refusal:
            raise NodeError(refusal)
        if insecure:
            if p["dry-run"]:
                # guessed: the maintenance service's dry-run text is not in the reference
                messages.append("Dry run summary:\nNode is running in maintenance mode and "
                                "does not have a config yet.\n")
                return
            _install(ip, documents, text)
            return
        # Talos: v1alpha1_server.go:ApplyConfiguration (mode switch, dry run, messages)
        old_docs = mc.parse(node["config"]) if node["config"] else []
        reboot = mode == "reboot"
        suffix = ""
        if mode in ("no-reboot", "try"):
            problem = immediate_error(old_docs, documents)
            if problem:
                raise NodeError(f"rpc error: code = InvalidArgument desc = {problem}")
            details = "Applied configuration without a reboot"
        elif mode == "staged":
            details = "Staged configuration to be applied after the next reboot"
        elif mode == "auto":
            problem = immediate_error(old_docs, documents)
            reboot = problem is not None
            if problem:
                details, suffix = "Applied configuration with a reboot", ": " + problem
            else:
                details = "Applied configuration without a reboot"
        else:
            details = "Applied configuration with a reboot"
        if p["dry-run"]:
            # generateDiff: the whole configuration, every document (diff format guessed)
            diff = unified_diff(plain(node["config"]), plain(text)).rstrip("\n")
            messages.append(f"Dry run summary:\n{details} (skipped in dry-run).\n"
                            f"Config diff:\n\n{diff or 'No changes.'}\n")
            # (the diff is taken to end without a newline: Fprintln adds the last one)
            return
        if mode == "try":
            details += ("\nThe config is applied in 'try' mode and will be automatically "
                        f"reverted back in {format_duration(p['timeout'])}")
        # helpers/mode.go:PrintApplyResults: the warnings, then the details and a newline
        messages.append("".join(f"WARNING: {w}\n" for w in warnings)
                        + details + suffix + "\n")
        _store(ip, text, documents, staged=mode == "staged", reboot=reboot, mode=mode)

    # apply-config.go: an error is all that is printed (no node's messages).
    per_node(session, "error applying new configuration", one, insecure=insecure)
    err("".join(messages))


def _store(ip: str, text: str, documents: list[dict[str, Any]], *, staged: bool,
           reboot: bool, mode: str) -> None:
    """Guessed: how the state records an applied config (staged configs wait for the next boot)."""
    with state.update() as data:
        node = data["nodes"][ip]
        node.setdefault("applied", []).append(mode)
        if staged:
            node["staged_config"] = text
            return
        node["config"] = text
        name = mc.hostname_of(documents)
        if name:
            node["hostname"] = name
        if reboot:
            _schedule_reboot(node, {})


def _schedule_reboot(node: dict[str, Any], changes: dict[str, Any],
                     seconds: float | None = None) -> float:
    """Guessed: a reboot takes the node down for its ``reboot_seconds`` and counts a boot."""
    delay = float(node.get("reboot_seconds", 0.0) if seconds is None else seconds)
    final = {"boots": int(node.get("boots", 1)) + 1, "stage": "running", **changes}
    if node.get("staged_config"):
        final["config"] = node["staged_config"]
        final["staged_config"] = None
    if delay > 0:
        node["pending"] = {"at": time.time() + delay, "changes": final}
        node["stage"] = changes.get("_stage", "rebooting")
    else:
        node.update(final)
    node.pop("_stage", None)
    if node.get("pending"):
        node["pending"]["changes"].pop("_stage", None)
    return delay


def _install(ip: str, documents: list[dict[str, Any]], text: str) -> None:
    """Guessed: a maintenance-mode apply installs from the config's install image and reboots."""
    image = str(dig(mc.v1alpha1(documents), ("machine", "install", "image")) or "")
    parsed = parse_image(image)
    with state.update() as data:
        node = data["nodes"][ip]
        node["config"] = text
        node["maintenance"] = False
        node.setdefault("applied", []).append("install")
        name = mc.hostname_of(documents)
        if name:
            node["hostname"] = name
        if parsed:
            node["talos_version"], node["schematic"] = parsed[0], parsed[1]
        _schedule_reboot(node, {})


def parse_image(image: str) -> tuple[str, str | None] | None:
    """Guessed: how the stand-in reads the version and schematic a node boots from an installer
    reference.
    (version, schematic) of an installer reference; None when it has no tag."""
    match = re.fullmatch(r"(?P<repo>[^@\s]+?):(?P<tag>[\w][\w.-]*)(?:@sha256:[0-9a-f]{64})?",
                         image)
    if not match:
        return None
    repo = match["repo"]
    factory = re.search(r"/(?:[a-z0-9-]*installer[a-z0-9-]*)/(?P<id>[0-9a-f]{64})$", repo)
    if factory:
        return match["tag"], factory["id"]
    if repo.endswith("siderolabs/installer"):
        return match["tag"], VANILLA_SCHEMATIC
    return match["tag"], None


def track_start(ip: str, action: str) -> None:
    """The first updates of a node's tracker (guessed: their texts and order come from
    node_tracker.go, which is not in the reference)."""
    import uuid

    err(f'"{ip}": waiting for actor ID\n')
    err(f'"{ip}": actor ID: {uuid.uuid4()}\n')
    err(f'"{ip}": task: {action} action: START\n')
    err(f'"{ip}": sequence: {action} action: START\n')


def track_end(ip: str, action: str, failure: str | None) -> None:
    """The last updates of a node's tracker: its failure, or its way back (guessed texts,
    as :func:`track_start`; the failure line's form is tracker.go's)."""
    if failure:
        err(f'"{ip}": sequence: {action} action: STOP\n')
        err(f'"{ip}": {failure}\n')
        return
    err(f'"{ip}": unavailable, retrying...\n')
    err(f'"{ip}": stage: BOOTING ready: false unmetCond: [name:"nodeReady" '
        f'reason:"node not ready"]\n')
    err(f'"{ip}": events check condition met\n')
    err(f'"{ip}": post check passed\n')


Action = Callable[[str, dict[str, Any]], tuple[float, str | None]]


def tracked(session: Session, action: str, fn: Action, timeout: float, *,
            debug: bool = False) -> None:
    """Run ``fn`` on every node under the progress tracker (``--wait``); ``fn`` returns how
    long the node is down and how it fails once down (None: it comes back fine).

    # Talos: cmd/talosctl/pkg/talos/action/tracker.go:Tracker.Run, Tracker.runReporter
    Stderr is not a terminal: every update is one line ``"<node>": <message>`` (``%q: %v``).
    The nodes are tracked side by side: a node whose action is refused (the RPC fails) or
    that fails afterwards ends with its error as such a line, the others go on; once the
    reporter runs the command's own error is suppressed (common.SuppressErrors): exit 1 and
    nothing more. A wait longer than ``--timeout`` ends as ``context deadline exceeded``.
    """
    refused: dict[str, str] = {}
    seconds: dict[str, float] = {}
    late: dict[str, str] = {}
    for ip in session.nodes:
        # helpers.ClientVersionCheck ignores a failed call: an endpoint that does not answer
        # fails each node's action instead.
        problem = session.unreachable or node_problem(session.data, ip)
        view = state.node_view(session.data, ip)
        if problem or view is None:
            refused[ip] = problem or "node not found"
            continue
        try:
            seconds[ip], failure = fn(ip, view)
        except NodeError as exc:
            refused[ip] = str(exc)
            continue
        if failure:
            late[ip] = failure
    for ip in session.nodes:
        if ip in refused:
            err(f'"{ip}": waiting for actor ID\n')
            err(f'"{ip}": {refused[ip]}\n')
        else:
            track_start(ip, action)
    longest = max(seconds.values(), default=0.0)
    if longest > 0:
        process.sleep(min(longest, timeout))
    for ip in seconds:
        if seconds[ip] > timeout:
            late[ip] = "context deadline exceeded"
        track_end(ip, action, late.get(ip))
    with state.update():
        pass  # the nodes seen back are settled in the state file
    failed = sorted({*refused, *late})
    if debug and failed:
        # Tracker.Run with --debug: the failed nodes' console logs follow (their content,
        # the node's dmesg, is not simulated: none)
        err(f"console logs for nodes {go_list(failed)}:\n")
    if failed:
        raise CLIError("", suppressed=True)


def upgrade(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/upgrade.go:upgradeCmd, runUpgradeNoWait
    # Talos: v1alpha1_server.go:Upgrade (the node's checks, see :func:`upgrade_checks`)
    Without ``--wait``: one call; nodes that failed while others took it are one warning,
    then the NODE/ACK/STARTED table. With ``--wait`` (the default) every node is followed
    by the progress tracker (:func:`tracked`)."""
    if p["debug"]:
        p.values["wait"] = True  # --debug forces --wait
    if p["insecure"] and p["wait"]:
        raise CLIError("cannot use --wait and --insecure together")
    if p["reboot-mode"].upper() not in ("DEFAULT", "POWERCYCLE"):
        raise CLIError(f'invalid reboot mode: {p["reboot-mode"]}')
    image = p["image"] or f"ghcr.io/siderolabs/installer:{client_version}"
    session = connect(p, data, client_version)
    version_warning(session)
    parsed = parse_image(image)
    started: list[tuple[str, str]] = []

    def one(ip: str, node: dict[str, Any]) -> tuple[float, str | None]:
        if parsed is None:
            # guessed inner text (install.PullAndValidateInstallerImage is not in the
            # reference); the wrapping and the Unknown code are Upgrade's
            raise NodeError(f'rpc error: code = Unknown desc = error validating installer '
                            f'image "{image}": invalid reference format')
        with state.update() as current:
            raw = current["nodes"][ip]
            if not p["force"]:
                upgrade_checks(current, node)
            delay = float(node["upgrade_seconds"])
            raw.setdefault("upgrades", []).append(image)
            failure = str(node["fail_upgrade"]) if node["fail_upgrade"] else None
            if failure:
                _schedule_reboot(raw, {"_stage": "upgrading"}, delay)
            else:
                version_tag, schematic = parsed
                changes: dict[str, Any] = {"talos_version": version_tag, "_stage": "upgrading"}
                if schematic is not None:
                    changes["schematic"] = schematic
                _schedule_reboot(raw, changes, delay)
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
        nanos = int((now % 1) * 1e9)
        monotonic = time.monotonic() - process.began()
        started.append((ip, f"{stamp}.{nanos:09d} +0000 UTC m=+{monotonic:.9f}"))
        return delay, failure

    if p["wait"]:
        tracked(session, "upgrade", one, p["timeout"], debug=p["debug"])
        return
    try:
        per_node(session, "error performing upgrade", untracked(one), insecure=p["insecure"])
    except CLIError as exc:
        if not started:
            raise
        # Some nodes took the request: the others are one warning, the table follows.
        err("WARNING: " + exc.message.removeprefix("error performing upgrade: ") + "\n")
    out(tabulate([["NODE", "ACK", "STARTED"],
                  *[[ip, "Upgrade request received", at] for ip, at in started]],
                 trailing_tab=True))


def untracked(fn: Action) -> Callable[[str, dict[str, Any]], None]:
    """An action run without the tracker: how the node fares afterwards is not followed."""

    def run(ip: str, node: dict[str, Any]) -> None:
        fn(ip, node)

    return run


def upgrade_checks(data: dict[str, Any], node: dict[str, Any]) -> None:
    """The node's pre-upgrade checks without ``--force`` (``--preserve`` does not skip them).

    # Talos: v1alpha1_server.go:Upgrade; internal/pkg/etcd/etcd.go:ValidateForUpgrade
    A control plane asks etcd: exactly two members refuse (no quorum during the upgrade);
    a member that does not answer is named by its ID (``%016x``). The errors are plain
    (gRPC code Unknown), wrapped as ``error validating etcd for upgrade: ``. Guessed: the
    health probe of a member that does not answer ends ``context deadline exceeded``, and
    without an etcd cluster (nothing bootstrapped) the stand-in lets the upgrade go.
    """
    from . import etcd

    if node["role"] == "worker":
        return
    members = etcd.members(data)
    prefix = "rpc error: code = Unknown desc = error validating etcd for upgrade: "
    if len(members) == 2:
        raise NodeError(prefix + "etcd member count(2) is insufficient to maintain quorum if "
                        "upgrade commences")
    for member in members:
        if not etcd.running(data, member):
            shown = etcd.format_member_id(etcd.member_id(data, member))
            raise NodeError(prefix + f"etcd member {shown} is not healthy; all members must "
                            "be healthy to perform an upgrade: context deadline exceeded")


def upgrade_k8s(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/upgrade-k8s.go:upgradeK8sCmd, upgradeKubernetes
    One node only; the client version check; without ``--from`` the lowest version is
    detected first, its failure wrapped ``error detecting the lowest Kubernetes version ``
    (no colon, as the source writes it); no other prefix. Guessed: the progress lines (the
    Kubernetes upgrade package is not in the reference) and the inner error texts."""
    session = connect(p, data, client_version, single="upgrade-k8s")
    version_warning(session)
    to = p["to"].removeprefix("v")
    views = [state.node_view(data, ip) for ip in sorted(data["nodes"], key=ip_key)]
    members = [v for v in views if v is not None and v["member"] and not v["maintenance"]]
    ip_of = {id(v): ip for ip, v in zip(sorted(data["nodes"], key=ip_key), views,
                                         strict=True) if v is not None}

    def one(ip: str, node: dict[str, Any]) -> None:
        if not any(v["bootstrapped"] for v in members):
            reason = ("error building kubernetes client: rpc error: code = Unavailable desc = "
                      "kubernetes API is not available: etcd is not bootstrapped")
            raise NodeError(reason if p["from"] else
                            f"error detecting the lowest Kubernetes version {reason}")
        current = p["from"].removeprefix("v") or min(
            (v["kubernetes_version"] for v in members), key=version_tuple)
        if not p["from"]:
            out(f"automatically detected the lowest Kubernetes version {current}\n")
        cps = [ip_of[id(v)] for v in members if v["role"] == "controlplane"]
        workers = [ip_of[id(v)] for v in members if v["role"] != "controlplane"]
        out(f"discovered controlplane nodes {go_list(cps)}\n")
        out(f"discovered worker nodes {go_list(workers)}\n")
        for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            out(f'updating "{component}" to version "{to}"\n')
            for cp in cps:
                out(f' > "{cp}": starting update\n')
                if p["dry-run"]:
                    out(" > skipped in dry-run\n")
                    continue
                out(f' > "{cp}": machine configuration patched\n')
                out(f' > "{cp}": waiting for {component} pod update\n')
                out(f' < "{cp}": successfully updated\n')
        out(f'updating kube-proxy to version "{to}"\n')
        out(f'updating kubelet to version "{to}"\n')
        for target in cps + workers:
            out(f' > "{target}": starting update\n')
            if p["dry-run"]:
                out(" > skipped in dry-run\n")
                continue
            out(f' < "{target}": successfully updated\n')
        if p["dry-run"]:
            return
        with state.update() as current_state:
            for target in cps + workers:
                current_state["nodes"][target]["kubernetes_version"] = to

    if session.unreachable:
        raise CLIError(session.unreachable if p["from"] else
                       f"error detecting the lowest Kubernetes version {session.unreachable}")
    target = session.nodes[0]
    problem = node_problem(data, target)
    if problem:
        raise CLIError(problem if p["from"] else
                       f"error detecting the lowest Kubernetes version {problem}")
    view = state.node_view(data, target)
    assert view is not None
    try:
        one(target, view)
    except NodeError as exc:
        raise CLIError(str(exc)) from None


def bootstrap(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/bootstrap.go:bootstrapCmd; v1alpha1_server.go:Bootstrap (the
    snapshot line of --recover-from is guessed)"""
    session = connect(p, data, client_version, single="bootstrap")
    if p["recover-from"]:
        snapshot = Path(p["recover-from"])
        try:
            raw = snapshot.read_bytes()
        except OSError:
            raise CLIError(f"open {p['recover-from']}: no such file or directory") from None
        import zlib

        keys = raw.count(b"\n")
        out(f'recovering from snapshot "{p["recover-from"]}": hash {zlib.crc32(raw):08x}, '
            f"revision 1, total keys {keys}, total size {len(raw)}\n")

    def one(ip: str, node: dict[str, Any]) -> None:
        if node["role"] != "controlplane":
            raise NodeError("rpc error: code = FailedPrecondition desc = bootstrap can only "
                            "be performed on a control plane node")
        with state.update() as current:
            if current["nodes"][ip].get("bootstrapped"):
                raise NodeError("rpc error: code = AlreadyExists desc = etcd data directory "
                                "is not empty")
            current["nodes"][ip]["bootstrapped"] = True

    per_node(session, "error executing bootstrap", one)


def reboot(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/reboot.go; v1alpha1_server.go:Reboot
    With ``--wait`` (the default) the nodes are followed by the tracker (:func:`tracked`)."""
    if p["debug"]:
        p.values["wait"] = True
    mode = p["mode"]
    if mode not in ("default", "powercycle", "force"):
        raise CLIError(f'invalid reboot mode: "{mode}"')
    session = connect(p, data, client_version)
    version_warning(session)

    def one(ip: str, node: dict[str, Any]) -> tuple[float, str | None]:
        with state.update() as current:
            return _schedule_reboot(current["nodes"][ip], {}), None

    if p["wait"]:
        tracked(session, "reboot", one, p["timeout"], debug=p["debug"])
        return
    per_node(session, "error executing reboot", untracked(one))


# The located system volumes a reset can wipe by label (guessed: the node's volume list).
SYSTEM_VOLUMES = ("STATE", "EPHEMERAL", "META")


def reset(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/talos/reset.go:resetCmd, buildResetRequest
    ``--debug`` sets ``--wait``; ``--wait`` and ``--insecure`` exclude each other; without
    ``--wait`` one call (``error executing reset: ...``), with it the tracker
    (:func:`tracked`). The node's refusals follow v1alpha1_server.go:Reset; what a reset
    wipes and the user disks a node has are guessed (every device is accepted)."""
    if p["debug"]:
        p.values["wait"] = True
    if p["insecure"] and p["wait"]:
        raise CLIError("cannot use --wait and --insecure together")
    session = connect(p, data, client_version)
    version_warning(session)
    labels = list(p["system-labels-to-wipe"])  # sent as given: the node matches them exactly

    def one(ip: str, node: dict[str, Any]) -> tuple[float, str | None]:
        # Talos: v1alpha1_server.go:Reset (plain errors: gRPC code Unknown)
        if p["user-disks-to-wipe"] and p["wipe-mode"] == "system-disk":
            raise NodeError("rpc error: code = Unknown desc = reset failed: invalid input, "
                            "wipe mode SYSTEM_DISK doesn't support UserDisksToWipe parameter")
        if labels and p["wipe-mode"] == "user-disks":
            raise NodeError("rpc error: code = Unknown desc = reset failed: invalid input, "
                            "wipe mode USER_DISKS doesn't support SystemPartitionsToWipe "
                            "parameter")
        for label in labels:
            if label not in SYSTEM_VOLUMES:
                # the lookup's own error text is guessed
                raise NodeError(
                    f'rpc error: code = Unknown desc = failed to get volume status with label '
                    f'"{label}": resource VolumeStatuses.block.talos.dev(runtime/{label}@'
                    "undefined) doesn't exist")
        wiped = labels or (["STATE", "EPHEMERAL", "META"]
                           if p["wipe-mode"] != "user-disks" else [])
        with state.update() as current:
            raw = current["nodes"][ip]
            raw.setdefault("resets", []).append({
                "labels": wiped, "graceful": p["graceful"], "reboot": p["reboot"],
                "user_disks": list(p["user-disks-to-wipe"]),
            })
            changes: dict[str, Any] = {}
            if "EPHEMERAL" in wiped:
                changes["bootstrapped"] = False
            if "STATE" in wiped:
                changes.update({"config": None, "staged_config": None, "maintenance": True,
                                "bootstrapped": False})
            if p["reboot"]:
                changes["_stage"] = "resetting"
                return _schedule_reboot(raw, changes), None
            raw.update(changes)
            raw["reachable"] = False
            return 0.0, None

    if p["wait"]:
        tracked(session, "reset", one, p["timeout"], debug=p["debug"])
        return
    per_node(session, "error executing reset", untracked(one), insecure=p["insecure"])
