"""Adapter: every talosctl call of talos-tasks, built from data, run, parsed, explained.

Command lines (facts: ``talosctl-cli.md``; traps: ``PITFALLS.md``):

- Offline commands (``gen config``, ``gen secrets``, ``validate``, ``version --client``)
  get no connection flag: talosctl rejects them there (PITFALLS 6).
- Every command that talks to a node gets ``--talosconfig`` (explicit, never the user's
  default: PITFALLS 5), ``--nodes NODE`` and ``--endpoints NODE`` (the node itself, since
  a generated talosconfig has ``endpoints: []``). Maintenance-mode calls (``insecure``)
  get ``--nodes NODE --insecure`` only: talosctl reads no talosconfig then.
- ``gen config`` always pins ``--talos-version``, ``--kubernetes-version`` and
  ``--install-image``; ``upgrade`` always passes ``--image`` (PITFALLS 4).
- Layout: ``talosctl <subcommand...> <connection flags> <flags> <arguments>``.

Outputs: ``get -o json`` is a stream of JSON objects (PITFALLS 8); apply results and
dry-run diffs, progress and warnings are on stderr (PITFALLS 9); a second ``bootstrap``
fails with ``AlreadyExists`` (PITFALLS 7), which :meth:`Talosctl.bootstrap` reports as
``False``.

Failures become one-line :class:`CommandError` messages naming the node, what failed
and what to do (``talosctl upgrade on 192.168.0.204 failed: node is unreachable: ...``);
the command line, exit code and the tail of stderr stay on the exception.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from talos.adapters.command import Result, Runner, failure
from talos.errors import CommandError, CommandTimeout, ToolMissingError

T = TypeVar("T")

BINARY_VARIABLE = "TALOSCTL"
DEFAULT_BINARY = "talosctl"
#: Wipe only what holds the node's state, not its user volumes (``reset``).
DEFAULT_WIPE = ("EPHEMERAL", "META")
#: A read (version, get, list, usage) that takes longer than this is stuck.
READ_TIMEOUT = 120.0
#: Nodes asked at once, each on its own, when a call to all of them hung.
EACH_AT_ONCE = 8


# ---------------------------------------------------------------------------------------
# What the adapter returns


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply-config`` did (or, with ``dry_run``, would do) on one node.

    ``changed``: with ``dry_run``, the node's config differs from the file; otherwise
    the config was applied (talosctl cannot tell an identical apply apart).
    ``reboot``: the change takes a reboot (``auto`` mode decided so, or maintenance mode).
    ``diff``: the dry-run unified diff, or the diff of the fields that made ``auto`` mode
    reboot ("" when there is none). It holds the config's secrets in clear: redact it
    before showing it (``talos.ops.secrets.redact``), as ``inv diff`` does.
    ``message``: talosctl's summary, e.g. "Applied configuration without a reboot" (never
    the diff).
    """

    node: str
    changed: bool
    reboot: bool
    diff: str
    message: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class MachineStatus:
    """``get machinestatus``: the boot stage (``running``, ``booting``, ...) and readiness."""

    stage: str
    ready: bool
    unmet: tuple[str, ...] = ()  # "name: reason" of each unmet condition


@dataclass(frozen=True)
class Member:
    """One cluster member as discovery reports it (``get members``)."""

    hostname: str
    addresses: tuple[str, ...]
    machine_type: str
    os_version: str  # "v1.12.4" (from "Talos (v1.12.4)"), or the raw text if unusual

    @property
    def address(self) -> str | None:
        """The address to reach the member at: its first IPv4 address, else its first."""
        for candidate in self.addresses:
            try:
                if ipaddress.ip_address(candidate).version == 4:
                    return candidate
            except ValueError:
                continue
        return self.addresses[0] if self.addresses else None


@dataclass(frozen=True)
class ContainerImage:
    """One row of ``image list``."""

    name: str
    digest: str
    size_bytes: int
    created: str


@dataclass(frozen=True)
class EtcdMemberStatus:
    """One row of ``etcd status``: what one member's etcd says of itself."""

    node: str
    member_id: str
    db_size: int
    db_in_use: int
    leader: str  # the member ID of the leader it follows; all zeros: none
    raft_index: int
    raft_term: int
    learner: bool
    protocol: str
    errors: str = ""

    @property
    def has_leader(self) -> bool:
        return bool(self.leader.strip("0"))


@dataclass(frozen=True)
class EtcdMember:
    """One row of ``etcd members``."""

    member_id: str
    hostname: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    learner: bool


@dataclass(frozen=True)
class EtcdStatusReport:
    """``etcd status`` asked of several nodes in one call: each node that answered, and
    each that did not with talosctl's per-node error (tidied)."""

    statuses: tuple[EtcdMemberStatus, ...]
    errors: dict[str, str]


@dataclass(frozen=True)
class Answers(Generic[T]):
    """A question asked of several nodes in one call: who answered what, and why the
    others did not (one line each, naming the node)."""

    answered: dict[str, T]
    failed: dict[str, str]


@dataclass(frozen=True)
class Running:
    """What one node runs, asked of many nodes at once (:func:`running`).

    ``problem`` is the first question the node did not answer (its version, then its
    extensions, then its machine status), talosctl's message for it; what it answered
    before that is kept."""

    version: str | None = None
    extensions_answered: bool = False
    schematic: str | None = None
    status: MachineStatus | None = None
    problem: str | None = None


class Asker(Protocol):
    """The questions :func:`running` asks of many nodes at once (:class:`Talosctl`)."""

    def server_versions(self, nodes: Sequence[str]) -> Answers[str]: ...

    def installed_schematics(self, nodes: Sequence[str]) -> Answers[str | None]: ...


def running(
    client: Asker, nodes: Sequence[str], *,
    statuses: Callable[[Sequence[str]], Answers[MachineStatus]] | None = None,
) -> dict[str, Running]:
    """Ask ``client`` (a :class:`Talosctl`) each node's Talos version, then the schematic
    (and with ``statuses`` the machine status, asked at the same time) of those that
    answered: two or three talosctl calls whatever the number of nodes; a node that
    hangs is asked on its own (the others are still heard).
    ``statuses``: how to ask the machine statuses (``Talosctl.machine_statuses``)."""
    if not nodes:
        return {}
    versions = client.server_versions(nodes)
    up = [n for n in nodes if n in versions.answered]
    schematics: Answers[str | None] = Answers({}, {})
    status: Answers[MachineStatus] = Answers({}, {})
    if up:
        with ThreadPoolExecutor(max_workers=2) as pool:
            asked = pool.submit(client.installed_schematics, up)
            asked_statuses = pool.submit(statuses, up) if statuses else None
            schematics = asked.result()
            if asked_statuses is not None:
                status = asked_statuses.result()
    found: dict[str, Running] = {}
    for node in nodes:
        version = versions.answered.get(node)
        if version is None:
            found[node] = Running(problem=versions.failed.get(node, "no answer"))
        elif node not in schematics.answered:
            found[node] = Running(version, problem=schematics.failed.get(node,
                                                                         "no answer"))
        elif statuses and node not in status.answered:
            found[node] = Running(version, True, schematics.answered[node],
                                  problem=status.failed.get(node, "no answer"))
        else:
            found[node] = Running(version, True, schematics.answered[node],
                                  status.answered.get(node))
    return found



@dataclass(frozen=True)
class Snapshot:
    """What ``etcd snapshot`` wrote."""

    path: Path
    size: int
    info: str  # talosctl's "snapshot info: ..." line


# ---------------------------------------------------------------------------------------
# The adapter


class Talosctl:
    """talosctl, driven for one cluster (one talosconfig).

    ``binary``: the program to run (default ``$TALOSCTL``, else ``talosctl`` on PATH).
    ``progress``: receives each output line of long commands (upgrade, reboot, reset,
    health, upgrade-k8s) as it comes.
    """

    def __init__(
        self,
        talosconfig: Path | None,
        *,
        runner: Runner | None = None,
        binary: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.talosconfig = talosconfig
        self.runner = runner or Runner()
        named = None if binary else os.environ.get(BINARY_VARIABLE)
        self.binary = binary or named or DEFAULT_BINARY
        #: Where the binary was named, when the user named it (a missing one says so).
        self.named_by = BINARY_VARIABLE if named else None
        self.progress = progress
        self.read_timeout = READ_TIMEOUT

    # -- offline ---------------------------------------------------------------------------

    def gen_config(
        self,
        cluster_name: str,
        endpoint: str,
        *,
        secrets: Path,
        output_dir: Path,
        talos_version: str,
        kubernetes_version: str,
        install_image: str,
        install_disk: str | None = None,
        force: bool = False,
        with_docs: bool = True,
        with_examples: bool = True,
    ) -> None:
        """Write ``controlplane.yaml``, ``worker.yaml`` and ``talosconfig`` in ``output_dir``.

        ``secrets`` is a decrypted ``gen secrets`` bundle. Existing files are an error
        unless ``force``. Versions and the installer image are always pinned.
        """
        argv = [
            self.binary, "gen", "config",
            "--with-secrets", str(secrets),
            "--output", str(output_dir),
            "--talos-version", talos_version,
            "--kubernetes-version", kubernetes_version,
            "--install-image", install_image,
        ]
        if install_disk:
            argv += ["--install-disk", install_disk]
        if not with_docs:
            argv.append("--with-docs=false")
        if not with_examples:
            argv.append("--with-examples=false")
        if force:
            argv.append("--force")
        argv += [cluster_name, endpoint]
        self._run(argv, what="gen config", mutates=True)

    def gen_secrets(self, output: Path, *, talos_version: str | None = None) -> None:
        """Write a new secrets bundle to ``output`` (mode 0600; refuses to overwrite)."""
        argv = [self.binary, "gen", "secrets", "--output-file", str(output)]
        if talos_version:
            argv += ["--talos-version", talos_version]
        self._run(argv, what="gen secrets", mutates=True)

    def validate(self, config: Path, *, mode: str = "metal", strict: bool = False) -> None:
        """Check a machine config; a :class:`CommandError` carries talosctl's problems."""
        argv = [self.binary, "validate", "--config", str(config), "--mode", mode]
        if strict:
            argv.append("--strict")
        result = self._run(argv, what="validate", mutates=False, check=False)
        if result.exit_code != 0:
            problems = [tidy(p) for p in validation_problems(result.stderr)]
            problems = problems or [explain(result.stderr)]
            raise failure(
                result,
                f"{config.name} is not valid for {mode} mode: {'; '.join(problems)}",
                hint="fix the patches it is made from",
            )

    def machineconfig_patch(self, base: Path, patches: Sequence[str], output: Path) -> None:
        """Write ``base`` patched by ``patches`` (``@file`` or inline, in order) to
        ``output``: talosctl's own merge, for what the built-in merger does not know."""
        argv = [self.binary, "machineconfig", "patch", str(base)]
        for patch in patches:
            argv += ["--patch", patch]
        argv += ["--output", str(output)]
        self._run(argv, what="machineconfig patch", mutates=False)

    def client_version(self) -> str:
        """The talosctl client's version, e.g. ``v1.12.4``."""
        result = self._run([self.binary, "version", "--client"], what="version", mutates=False)
        tag = parse_version_tag(result.stdout, "Client")
        if tag is None:
            raise failure(result, f"cannot read the version of {self.binary}: no Tag in its output")
        return tag

    # -- talking to nodes ------------------------------------------------------------------

    def apply_config(
        self,
        node: str,
        config: Path,
        *,
        mode: str = "auto",
        insecure: bool = False,
        dry_run: bool = False,
    ) -> ApplyResult:
        """Send ``config`` to ``node``; ``insecure`` for a node in maintenance mode."""
        if insecure:
            argv = [self.binary, "apply-config", "--nodes", node, "--insecure"]
        else:
            argv = self._online("apply-config", node=node)
        argv += ["--file", str(config), "--mode", mode]
        if dry_run:
            argv.append("--dry-run")
        result = self._run(
            argv, node=node, what="apply-config", mutates=not dry_run, needs_config=not insecure
        )
        if self.runner.dry and not dry_run:
            return ApplyResult(node, True, False, "", "dry run: not applied")
        return parse_apply(node, result.stderr, dry_run=dry_run, insecure=insecure)

    def upgrade(
        self,
        node: str,
        image: str,
        *,
        stage: bool = False,
        force: bool = False,
        preserve: bool = False,
        wait: bool = True,
        timeout: str | None = None,
    ) -> None:
        """Upgrade ``node`` to the installer ``image``; with ``wait``, until it is back."""
        argv = [*self._online("upgrade", node=node), "--image", image]
        if stage:
            argv.append("--stage")
        if force:
            argv.append("--force")
        if preserve:
            argv.append("--preserve")
        if not wait:
            argv.append("--wait=false")
        if timeout:
            argv += ["--timeout", timeout]
        self._run(argv, node=node, what="upgrade", mutates=True, stream=True)

    def upgrade_k8s(self, node: str, to: str, *, dry_run: bool = False) -> None:
        """Upgrade Kubernetes to ``to`` (``v1.35.0``) through control plane ``node``."""
        argv = [*self._online("upgrade-k8s", node=node), "--to", to.removeprefix("v")]
        if dry_run:
            argv.append("--dry-run")
        self._run(argv, node=node, what="upgrade-k8s", mutates=not dry_run, stream=True)

    def bootstrap(self, node: str) -> bool:
        """Bootstrap etcd on control plane ``node``; False when it already was."""
        argv = self._online("bootstrap", node=node)
        result = self._run(argv, node=node, what="bootstrap", mutates=True, check=False)
        if result.exit_code == 0:
            return True
        if is_already_bootstrapped(result.stderr):
            return False
        raise self._error(result, node, "bootstrap")

    def kubeconfig(self, node: str, path: Path, *, merge: bool = False) -> None:
        """Write the cluster's admin kubeconfig to ``path``.

        Replaced by default (the file is ours). With ``merge``, the cluster's entries are
        merged into an existing file (a user's ``~/.kube/config``), replacing only entries
        of the same name, so the user's other clusters stay.
        """
        tail = ["--force", str(path)] if merge else ["--force", "--merge=false", str(path)]
        argv = [*self._online("kubeconfig", node=node), *tail]
        self._run(argv, node=node, what="kubeconfig", mutates=True)

    def reboot(self, node: str, *, wait: bool = True, timeout: str | None = None) -> None:
        """Reboot ``node``; with ``wait``, until it is back and ready."""
        argv = self._online("reboot", node=node)
        if not wait:
            argv.append("--wait=false")
        if timeout:
            argv += ["--timeout", timeout]
        self._run(argv, node=node, what="reboot", mutates=True, stream=True)

    def reset(
        self,
        node: str,
        *,
        wipe: Sequence[str] = DEFAULT_WIPE,
        graceful: bool = False,
        reboot: bool = True,
        wait: bool = True,
        timeout: str | None = None,
    ) -> None:
        """Wipe ``node``: the system volumes labelled ``wipe`` (empty: the whole system disk).

        Not graceful by default (no drain, no etcd leave): the callers of a reset have
        already decided the node goes; a graceful reset hangs on a broken node.
        """
        argv = [
            *self._online("reset", node=node),
            f"--graceful={_flag(graceful)}",
            f"--reboot={_flag(reboot)}",
        ]
        for label in wipe:
            argv += ["--system-labels-to-wipe", label]
        if not wait:
            argv.append("--wait=false")
        if timeout:
            argv += ["--timeout", timeout]
        self._run(argv, node=node, what="reset", mutates=True, stream=True)

    def health(
        self,
        node: str,
        *,
        control_planes: Sequence[str],
        workers: Sequence[str],
        timeout: str = "5m",
    ) -> str:
        """Run the cluster health checks from ``node``; their report, or CommandError."""
        argv = self._online("health", node=node)
        if control_planes:
            argv += ["--control-plane-nodes", ",".join(control_planes)]
        if workers:
            argv += ["--worker-nodes", ",".join(workers)]
        argv += ["--wait-timeout", timeout]
        result = self._run(argv, node=node, what="health", mutates=False, stream=True)
        return (result.stderr + result.stdout).strip()

    def server_version(self, node: str) -> str:
        """The Talos version ``node`` runs, e.g. ``v1.12.4``."""
        result = self._run(self._online("version", node=node), node=node, what="version",
                           mutates=False)
        tag = parse_version_tag(result.stdout, "Server")
        if tag is None:
            raise failure(result, f"talosctl version on {node} printed no server Tag")
        return tag

    def installed_schematic(self, node: str) -> str | None:
        """The Image Factory schematic ID ``node`` booted from; None if not a factory image."""
        return schematic_of(self._get(node, "extensions"))

    def machine_status(self, node: str) -> MachineStatus:
        """``node``'s boot stage and readiness."""
        resources = self._get(node, "machinestatus")
        if not resources:
            raise CommandError(f"talosctl get machinestatus on {node} returned nothing")
        return machine_status_of(resources[0])

    def members(self, node: str) -> list[Member]:
        """The cluster members ``node`` knows of (through cluster discovery)."""
        return [member_of(resource) for resource in self._get(node, "members")]

    def etcd_status(self, nodes: Sequence[str]) -> EtcdStatusReport:
        """``etcd status`` of every node in ``nodes``, in one call through any of them.

        Nodes that fail are reported per node (talosctl warns of them and prints the
        others); when none answers, the per-node errors are all there is. A failure that
        names no node (no endpoint answered) is a :class:`CommandError`.
        """
        argv = self._online_many(["etcd", "status"], nodes)
        result = self._run(argv, node=",".join(nodes), what="etcd status", mutates=False,
                           check=False)
        errors = {n: tidy(e) for n, e in parse_node_errors(result.stderr).items()}
        if result.exit_code != 0 and not errors:
            raise self._error(result, ",".join(nodes), "etcd status")
        statuses = parse_etcd_status(result.stdout) if result.exit_code == 0 else []
        answered = {s.node for s in statuses}
        missing = {n: "no answer" for n in nodes if n not in answered and n not in errors}
        return EtcdStatusReport(tuple(statuses), {**errors, **missing})

    # -- many nodes in one call --------------------------------------------------------------

    def server_versions(self, nodes: Sequence[str]) -> Answers[str]:
        """The Talos version of each node, one ``talosctl version`` for all of them."""
        def ask(nodes: Sequence[str]) -> Answers[str]:
            result = self._many(["version"], nodes, "version")
            return self._answers(result, nodes, "version",
                                 parse_server_versions(result.stdout))

        return self._each_if_hung(ask, nodes)

    def installed_schematics(self, nodes: Sequence[str]) -> Answers[str | None]:
        """Each node's Image Factory schematic ID (None: not a factory image), one
        ``talosctl get extensions`` for all of them."""
        def ask(nodes: Sequence[str]) -> Answers[str | None]:
            result = self._many(["get", "extensions"], nodes, "get extensions", "--output",
                                "json")
            grouped = self._grouped(result, "extensions")
            return self._answers(result, nodes, "get extensions",
                                 {n: schematic_of(grouped.get(n, [])) for n in nodes})

        return self._each_if_hung(ask, nodes)

    def machine_statuses(self, nodes: Sequence[str]) -> Answers[MachineStatus]:
        """Each node's boot stage and readiness, one ``talosctl get machinestatus``."""
        def ask(nodes: Sequence[str]) -> Answers[MachineStatus]:
            result = self._many(["get", "machinestatus"], nodes, "get machinestatus",
                                "--output", "json")
            grouped = self._grouped(result, "machinestatus")
            return self._answers(result, nodes, "get machinestatus",
                                 {n: machine_status_of(r[0]) for n, r in grouped.items()
                                  if r})

        return self._each_if_hung(ask, nodes)

    def _each_if_hung(self, ask: Callable[[Sequence[str]], Answers[T]],
                      nodes: Sequence[str]) -> Answers[T]:
        """``ask`` all ``nodes`` in one call; when that call is stopped for taking too long
        (one hung node holds up the whole answer), ask each node on its own, a few at a
        time, so the hung one fails with the timeout and the others are heard."""
        try:
            return ask(nodes)
        except CommandTimeout as exc:
            if len(nodes) == 1:
                return Answers({}, {nodes[0]: str(exc)})
        answered: dict[str, T] = {}
        failed: dict[str, str] = {}
        with ThreadPoolExecutor(max_workers=min(EACH_AT_ONCE, len(nodes))) as pool:
            for node, answer in zip(nodes, pool.map(self._one_of(ask), nodes), strict=True):
                answered.update((n, v) for n, v in answer.answered.items() if n == node)
                failed.update((n, v) for n, v in answer.failed.items() if n == node)
        return Answers(answered, failed)

    @staticmethod
    def _one_of(ask: Callable[[Sequence[str]], Answers[T]]) -> Callable[[str], Answers[T]]:
        def one(node: str) -> Answers[T]:
            try:
                return ask([node])
            except CommandTimeout as exc:
                return Answers({}, {node: str(exc)})

        return one

    def _many(self, subcommand: list[str], nodes: Sequence[str], what: str,
              *flags: str) -> Result:
        argv = [*self._online_many(subcommand, nodes), *flags]
        return self._run(argv, node=",".join(nodes), what=what, mutates=False, check=False)

    def _grouped(self, result: Result, resource: str) -> dict[str, list[dict[str, Any]]]:
        try:
            objects = parse_json_stream(result.stdout)
        except ValueError as exc:
            raise failure(result, f"talosctl get {resource} printed unreadable JSON: {exc}"
                          ) from exc
        grouped: dict[str, list[dict[str, Any]]] = {}
        for item in objects:
            grouped.setdefault(str(item.get("node", "")), []).append(item)
        return grouped

    def _answers(self, result: Result, nodes: Sequence[str], what: str,
                 found: dict[str, T]) -> Answers[T]:
        """Split a call to several nodes into answers and per-node failures. talosctl
        lists the nodes that failed as ``* <node>: <error>``; a failure that names no node
        (no endpoint answered) is every node's."""
        raw = parse_node_errors(result.stderr)
        failed: dict[str, str] = {}
        for node, error in raw.items():
            reason, _ = diagnose(error)
            failed[node] = f"talosctl {what} on {node} failed: {reason}"
        if result.exit_code != 0 and not raw:
            reason, hint = diagnose(result.stderr or result.stdout)
            shared = f"talosctl {what} failed: {reason}" + (f" ({hint})" if hint else "")
            failed = {n: shared for n in nodes}
        answered = {n: v for n, v in found.items() if n in nodes and n not in failed}
        for node in nodes:
            if node not in answered and node not in failed:
                failed[node] = f"talosctl {what} on {node} gave no answer"
        return Answers(answered, failed)

    def etcd_members(self, node: str) -> list[EtcdMember]:
        """The etcd members as control plane ``node``'s etcd knows them."""
        result = self._run(self._online("etcd", "members", node=node), node=node,
                           what="etcd members", mutates=False)
        return parse_etcd_members(result.stdout)

    def etcd_snapshot(self, node: str, path: Path) -> Snapshot:
        """Stream an etcd snapshot from control plane ``node`` into ``path`` (talosctl
        writes ``<path>.part`` first and renames it once its checksum is there)."""
        argv = [*self._online("etcd", "snapshot", node=node), str(path)]
        result = self._run(argv, node=node, what="etcd snapshot", mutates=True)
        if self.runner.dry:
            return Snapshot(path, 0, "dry run: not taken")
        match = re.search(r"\((\d+) bytes\)", result.stdout)
        info = next((line for line in result.stdout.splitlines()
                     if line.startswith("snapshot info:")), "")
        return Snapshot(path, int(match.group(1)) if match else 0, info)

    def image_list(self, node: str, namespace: str = "cri") -> list[ContainerImage]:
        """The container images on ``node`` (``cri``: workloads; ``system``: etcd, kubelet)."""
        argv = [*self._online("image", "list", node=node), "--namespace", namespace]
        result = self._run(argv, node=node, what="image list", mutates=False)
        return parse_image_list(result.stdout)

    def usage(self, node: str, path: str) -> int:
        """Bytes used under ``path`` on ``node``."""
        argv = [*self._online("usage", node=node), "--depth", "0", path]
        result = self._run(argv, node=node, what="usage", mutates=False)
        size = parse_usage(result.stdout, path)
        if size is None:
            raise failure(result, f"talosctl usage {path} on {node} printed no size")
        return size

    # -- plumbing ----------------------------------------------------------------------------

    def _online(self, *subcommand: str, node: str) -> list[str]:
        """The start of a command line that talks to ``node``."""
        if self.talosconfig is None:
            raise CommandError(
                f"talosctl {' '.join(subcommand)} on {node} needs a talosconfig",
                hint="run `inv genconfig` first, or point TALOS_TASKS_TALOSCONFIG at one",
            )
        return [
            self.binary, *subcommand,
            "--talosconfig", str(self.talosconfig),
            "--nodes", node,
            "--endpoints", node,
        ]

    def _online_many(self, subcommand: Sequence[str], nodes: Sequence[str]) -> list[str]:
        """A command line for several nodes at once, through whichever of them answers
        (each one is also an endpoint)."""
        if not nodes:
            raise ValueError("no node to ask")
        argv = self._online(*subcommand, node=nodes[0])
        argv[argv.index("--nodes") + 1] = ",".join(nodes)
        argv[argv.index("--endpoints") + 1] = ",".join(nodes)
        return argv

    def resources(self, node: str, resource: str, *, insecure: bool = False
                  ) -> list[dict[str, Any]]:
        """``get RESOURCE -o json`` on ``node``; ``insecure`` asks a node in maintenance
        mode (``disks``, ``links``: what a machine has before it is configured)."""
        return self._get(node, resource, insecure=insecure)

    def _get(self, node: str, resource: str, *, insecure: bool = False) -> list[dict[str, Any]]:
        if insecure:
            argv = [self.binary, "get", resource, "--nodes", node, "--insecure"]
        else:
            argv = self._online("get", resource, node=node)
        argv += ["--output", "json"]
        result = self._run(argv, node=node, what=f"get {resource}", mutates=False,
                           needs_config=not insecure)
        try:
            return parse_json_stream(result.stdout)
        except ValueError as exc:
            raise failure(
                result, f"talosctl get {resource} on {node} printed unreadable JSON: {exc}"
            ) from exc

    def _run(
        self,
        argv: list[str],
        *,
        what: str,
        mutates: bool,
        node: str | None = None,
        check: bool = True,
        stream: bool = False,
        needs_config: bool | None = None,
    ) -> Result:
        if needs_config is None:
            needs_config = node is not None
        skipped = self.runner.dry and mutates
        if needs_config and not skipped:
            self._check_talosconfig(argv)
        # Reads get a time limit; long operations are bounded by talosctl's own --timeout.
        limit = None if mutates or stream else self.read_timeout
        try:
            result = self.runner.run(
                argv,
                mutates=mutates,
                check=False,
                timeout=limit,
                progress=self.progress if stream else None,
            )
        except ToolMissingError as exc:
            if self.named_by is None:
                raise
            raise ToolMissingError(
                f"no talosctl at {self.binary} (named by {self.named_by})",
                command=exc.command,
                hint=f"point {self.named_by} at talosctl of the cluster's Talos version, "
                "or unset it to use talosctl on PATH",
            ) from exc
        except CommandTimeout as exc:
            where = f" on {node}" if node else ""
            raise CommandTimeout(
                f"talosctl {what}{where} did not finish in time and was stopped",
                command=exc.command, exit_code=exc.returncode, stderr=exc.stderr,
                hint="check the node is up and reachable",
            ) from exc
        if check and result.exit_code != 0:
            raise self._error(result, node, what)
        return result

    def _check_talosconfig(self, argv: list[str]) -> None:
        # talosctl would create a missing file and then fail obscurely (PITFALLS 5).
        if self.talosconfig is None or not self.talosconfig.is_file():
            shown = self.talosconfig or "(none given)"
            raise CommandError(
                f"no talosconfig at {shown}",
                command=argv,
                hint="run `inv genconfig` first, or point TALOS_TASKS_TALOSCONFIG at one",
            )

    def _error(self, result: Result, node: str | None, what: str) -> CommandError:
        reason, hint = diagnose(result.stderr or result.stdout)
        where = f" on {node}" if node else ""
        error = failure(result, f"talosctl {what}{where} failed: {reason}", hint=hint)
        error.stderr = without_diffs(error.stderr)  # a refused change's diff holds secrets
        return error


# ---------------------------------------------------------------------------------------
# Reading talosctl's output (pure; used by the adapter and by tests on real-format text)

_RPC = re.compile(r"rpc error: code = (\w+) desc = (.*)")
_DIAL = re.compile(r'dial tcp [^"]+')
_NODE_PREFIX = re.compile(r'^(?:"[^"]+"|\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]+:[0-9a-fA-F:]*):\s+')
_DIAGNOSES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"unknown (?:shorthand )?flag|unknown command|accepts \d+ arg|invalid argument"),
        "talosctl rejected the command line",
        "the installed talosctl is probably not v1.12: install the cluster's version",
    ),
    (
        re.compile(r"error validating etcd for upgrade"),
        "the node refused to upgrade: etcd is not healthy enough",
        "check `inv etcd.status` and bring every member back first; --force skips the "
        "check and may lose data",
    ),
    (
        re.compile(r"tls: certificate required"),
        "the node is configured already (not in maintenance mode)",
        "apply without --insecure",
    ),
    (
        re.compile(r"x509:|certificate signed by unknown authority|tls: ", re.I),
        "the node does not accept our certificates",
        "it is in maintenance mode (apply with --insecure) or belongs to another cluster "
        "than the talosconfig; check TALOS_TASKS_TALOSCONFIG",
    ),
    (
        re.compile(r"talos config file is empty|failed to determine endpoints|"
                   r"failed to resolve configuration context"),
        "the talosconfig is unusable",
        "regenerate it with `inv genconfig` or point TALOS_TASKS_TALOSCONFIG at a valid one",
    ),
    (
        re.compile(r"PermissionDenied|not authorized", re.I),
        "permission denied",
        "use the cluster's admin talosconfig",
    ),
    (
        re.compile(
            r"connection refused|no route to host|i/o timeout|network is unreachable|"
            r"connection error|no such host|host is down",
            re.I,
        ),
        "node is unreachable",
        "check it is powered on and its address in the cluster file",
    ),
    (
        re.compile(r"DeadlineExceeded|context deadline exceeded", re.I),
        "timed out",
        "check the node is up, then retry",
    ),
)


def error_line(stderr: str) -> str:
    """The line of talosctl's stderr that says what went wrong, as printed ("" if none).

    Usage text, warnings and multi-error headers are passed over: the last line left is
    the error (talosctl prints it last, and progress trackers end with it).
    """
    text = without_diffs(stderr).split("\nUsage:", 1)[0]
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip()
        and not line.strip().startswith("WARNING:")
        and not re.fullmatch(r"\d+ errors? occurred:", line.strip())
    ]
    return lines[-1] if lines else ""


def without_diffs(text: str) -> str:
    """``text`` cut before any config diff talosctl appended to a message.

    A node that refuses a change in ``no-reboot``/``try`` mode (or, in ``auto`` mode,
    explains its reboot) ends its message with ``diff:`` and a unified diff of the
    machine config, tokens and keys in clear; a dry run prints ``Config diff:``. Nothing
    from there on is an error line, and none of it may be shown unredacted.
    """
    cut = len(text)
    for marker in ("\ndiff:\n", "\nConfig diff:\n"):
        at = ("\n" + text).find(marker)
        if at >= 0:
            cut = min(cut, at)
    return text[:cut]


def tidy(line: str) -> str:
    """``line`` without its list bullet, node prefix and gRPC wrapping."""
    line = _NODE_PREFIX.sub("", line.removeprefix("* ").strip())
    dial = _DIAL.search(line)
    if dial:  # the rest is gRPC's wrapping of the one fact that matters
        return dial.group(0)
    rpc = _RPC.search(line)
    if rpc:
        line = f"{line[: rpc.start()]}{rpc.group(2).strip()} ({rpc.group(1)})"
    return line


def explain(stderr: str) -> str:
    """What went wrong, in one line, from talosctl's stderr."""
    return tidy(error_line(stderr)) or "no error message"


def failed_check(stderr: str) -> str | None:
    """The last health check that did not pass, with its last error (``health`` output)."""
    failed = None
    for line in stderr.splitlines():
        match = re.match(r"waiting for (.+?): (.*)$", line.strip())
        if match and match.group(2) not in ("...", "OK", "SKIP"):
            failed = f"waiting for {match.group(1)}: {tidy(match.group(2))}"
    return failed


def diagnose(stderr: str) -> tuple[str, str]:
    """(one-line reason, what to do) for a failed talosctl call."""
    check = failed_check(stderr)
    if check:
        return check, "the cluster was not healthy before the wait timeout"
    line = error_line(stderr)
    reason = tidy(line) or "no error message"
    for pattern, summary, hint in _DIAGNOSES:
        if pattern.search(line):
            return f"{summary}: {reason}", hint
    return reason, ""


def is_already_bootstrapped(stderr: str) -> bool:
    return "AlreadyExists" in stderr or "etcd data directory is not empty" in stderr


_OCCURRED = re.compile(r"(\d+) errors? occurred:$")


def validation_problems(stderr: str) -> list[str]:
    """Each problem of a failed ``validate``, with the document it is in.

    talosctl prints the config container's multierror, nested: ``1 error occurred:``, then
    ``\t* v1alpha1.Config: 2 errors occurred:`` followed by that document's own ``\t* ...``
    items, then other documents' items (``\t* HostnameConfig: ...``) and unprefixed
    conflicts. A nested list is read by its count; its items keep the prefix of the line
    that opened it: ``v1alpha1.Config: unknown machine type "gateway"``.
    """
    bullets = [
        line.strip().removeprefix("* ").strip()
        for line in stderr.splitlines()
        if line.strip().startswith("* ")
    ]
    problems: list[str] = []

    def take(index: int, prefix: str) -> int:
        text = bullets[index]
        nested = _OCCURRED.search(text)
        if nested is None:
            problems.append(prefix + text)
            return index + 1
        head = prefix + text[: nested.start()]
        index += 1
        for _ in range(int(nested.group(1))):
            if index >= len(bullets):
                break
            index = take(index, head)
        return index

    position = 0
    while position < len(bullets):
        position = take(position, "")
    return problems


def parse_json_stream(text: str) -> list[dict[str, Any]]:
    """Objects of a ``get -o json`` stream (concatenated JSON objects, not an array)."""
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return objects
        value, index = decoder.raw_decode(text, index)
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {type(value).__name__}")
        objects.append(value)


def member_of(resource: dict[str, Any]) -> Member:
    spec = resource.get("spec") or {}
    os_text = str(spec.get("operatingSystem") or "")
    version = re.search(r"\((v[^)]+)\)", os_text)
    return Member(
        hostname=str(spec.get("hostname") or resource.get("metadata", {}).get("id", "")),
        addresses=tuple(str(a) for a in spec.get("addresses") or ()),
        machine_type=str(spec.get("machineType") or ""),
        os_version=version.group(1) if version else os_text,
    )


def machine_status_of(resource: dict[str, Any]) -> MachineStatus:
    spec = resource.get("spec") or {}
    status = spec.get("status") or {}
    unmet = tuple(
        f"{c.get('name', '')}: {c.get('reason', '')}".strip(": ")
        for c in status.get("unmetConditions") or ()
        if isinstance(c, dict)
    )
    return MachineStatus(
        stage=str(spec.get("stage") or "unknown"), ready=bool(status.get("ready")), unmet=unmet
    )


def schematic_of(extensions: Sequence[dict[str, Any]]) -> str | None:
    """The schematic ID: the version of the ``schematic`` virtual extension, if any."""
    for resource in extensions:
        metadata = (resource.get("spec") or {}).get("metadata") or {}
        if metadata.get("name") == "schematic" and metadata.get("version"):
            return str(metadata["version"])
    return None


def parse_version_tag(stdout: str, block: str) -> str | None:
    """The ``Tag:`` of the ``Client:`` or ``Server:`` block of ``talosctl version``."""
    inside = False
    for line in stdout.splitlines():
        stripped = line.strip()
        if not line.startswith((" ", "\t")):
            inside = stripped == f"{block}:"
            continue
        if not inside:
            continue
        if stripped.startswith("Tag:"):
            return stripped.removeprefix("Tag:").strip() or None
        short = re.fullmatch(r"Talos (v\S+)", stripped)
        if short:
            return short.group(1)
    return None


_SI_UNITS = {
    "B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15,
    "EB": 10**18, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}


def parse_size(text: str) -> int:
    """Bytes of a humanized size (``27 MB``, ``1.2 GB``, ``512 B``) or a plain number."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if not match or (match.group(2) and match.group(2) not in _SI_UNITS):
        raise ValueError(f"not a size: {text!r}")
    factor = _SI_UNITS.get(match.group(2), 1)
    return round(float(match.group(1)) * factor)


def _table(stdout: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a tabwriter table (columns apart by 2+ spaces or tabs)."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return [], []
    split = [re.split(r"\t+|\s{2,}", line.strip()) for line in lines]
    return split[0], split[1:]


def parse_image_list(stdout: str) -> list[ContainerImage]:
    header, rows = _table(stdout)
    if not header:
        return []
    column = {name: i for i, name in enumerate(header)}
    missing = {"IMAGE", "DIGEST", "SIZE", "CREATED"} - set(column)
    if missing:
        raise ValueError(f"image list without column(s) {', '.join(sorted(missing))}")
    images = []
    for row in rows:
        if len(row) < len(header):
            continue
        images.append(ContainerImage(
            name=row[column["IMAGE"]],
            digest=row[column["DIGEST"]],
            size_bytes=parse_size(row[column["SIZE"]]),
            created=row[column["CREATED"]],
        ))
    return images


def parse_usage(stdout: str, path: str) -> int | None:
    """Bytes of ``path`` in ``usage`` output (``SIZE NAME`` or ``NODE SIZE NAME`` rows).

    NAME is relative to the requested path: the path itself is ``.`` (its row comes after
    the folders below it). A NAME equal to ``path`` is read too.
    """
    header, rows = _table(stdout)
    if "SIZE" not in header or "NAME" not in header:
        return None
    size_at, name_at = header.index("SIZE"), header.index("NAME")
    wanted = path.rstrip("/") or "/"
    found: int | None = None
    for row in rows:
        if len(row) <= max(size_at, name_at):
            continue
        name = row[name_at]
        if name == "." or (name.rstrip("/") or "/") == wanted:
            found = parse_size(row[size_at])
            if name == ".":
                return found
    return found


def parse_apply(node: str, stderr: str, *, dry_run: bool, insecure: bool) -> ApplyResult:
    """Read ``apply-config``'s stderr: ``WARNING:`` lines, then the node's message.

    The message is a summary line (``Applied configuration with a reboot``; in ``try``
    mode a second line says when it is reverted) that may go on with a config diff: after
    ``Config diff:`` in a dry run, after ``diff:`` when ``auto`` mode explains its reboot
    (``...: this config change can't be applied in immediate mode``). The summary becomes
    ``message``, the diff ``diff``: the diff carries the config's tokens and keys in
    clear, so whoever shows it redacts it first; ``message`` never contains it.
    """
    lines = stderr.splitlines()
    warnings = tuple(
        line.strip().removeprefix("WARNING:").strip()
        for line in lines
        if line.startswith("WARNING:")
    )
    text = "\n".join(line for line in lines if not line.startswith("WARNING:"))
    summary = without_diffs(text)
    diff = text[len(summary):]
    diff = diff.lstrip("\n").removeprefix("Config diff:").removeprefix("diff:").strip("\n")
    if diff == "No changes.":
        diff = ""
    said = [
        line.strip()
        for line in summary.splitlines()
        if line.strip() and line.strip() != "Dry run summary:"
    ]
    if dry_run:
        said = [line.replace(" (skipped in dry-run).", "") for line in said]
    message = "\n".join(said)
    maintenance = "maintenance mode" in message
    reboot = insecure or maintenance or message.startswith("Applied configuration with a reboot")
    diff = diff + "\n" if diff else ""
    if dry_run:
        changed = bool(diff) or maintenance
        return ApplyResult(node, changed, reboot and changed, diff, message, warnings)
    return ApplyResult(node, True, reboot, diff, message, warnings)


def _flag(value: bool) -> str:
    return "true" if value else "false"


_NODE_ERROR = re.compile(r"^\s*\*\s+(?P<node>[^\s:]+|\[[^\]]+\]|[0-9a-fA-F:]+):\s+(?P<error>.*)$")


def parse_node_errors(stderr: str) -> dict[str, str]:
    """Per-node failures of a call to several nodes: talosctl lists them as
    ``* <node>: <error>`` under ``N errors occurred:`` (as a warning when other nodes
    answered, as the error when none did). Each error as printed, on one line."""
    errors: dict[str, str] = {}
    for line in stderr.splitlines():
        match = _NODE_ERROR.match(line)
        if match:
            errors[match["node"]] = match["error"].strip()
    return errors


def parse_server_versions(stdout: str) -> dict[str, str]:
    """``talosctl version`` of several nodes: each ``NODE:`` line of the ``Server:`` part,
    with the ``Tag:`` under it (cmd/talosctl/cmd/talos/version.go)."""
    versions: dict[str, str] = {}
    node: str | None = None
    inside = False
    for line in stdout.splitlines():
        stripped = line.strip()
        if not line.startswith((" ", "\t")):
            inside = stripped == "Server:"
            continue
        if not inside:
            continue
        if stripped.startswith("NODE:"):
            node = stripped.removeprefix("NODE:").strip()
        elif stripped.startswith("Tag:") and node is not None:
            versions[node] = stripped.removeprefix("Tag:").strip()
    return versions


def parse_etcd_status(stdout: str) -> list[EtcdMemberStatus]:
    """Rows of ``etcd status`` (cmd/talosctl/cmd/talos/etcd.go: NODE, MEMBER, DB SIZE,
    IN USE, LEADER, RAFT INDEX, RAFT TERM, RAFT APPLIED INDEX, LEARNER, PROTOCOL, STORAGE,
    ERRORS; NODE only when the call went through a node)."""
    header, rows = _table(stdout)
    if not header:
        return []
    column = {name: i for i, name in enumerate(header)}
    needed = {"MEMBER", "DB SIZE", "IN USE", "LEADER", "RAFT INDEX", "RAFT TERM", "LEARNER"}
    missing = needed - set(column)
    if missing:
        raise ValueError(f"etcd status without column(s) {', '.join(sorted(missing))}")
    found = []
    for row in rows:
        if len(row) < column["LEARNER"] + 1:
            continue

        def cell(name: str, row: list[str] = row) -> str:
            index = column.get(name)
            return row[index] if index is not None and index < len(row) else ""

        found.append(EtcdMemberStatus(
            node=cell("NODE"),
            member_id=cell("MEMBER"),
            db_size=parse_size(cell("DB SIZE")),
            db_in_use=parse_size(cell("IN USE").split("(")[0]),
            leader=cell("LEADER"),
            raft_index=int(cell("RAFT INDEX") or 0),
            raft_term=int(cell("RAFT TERM") or 0),
            learner=cell("LEARNER") == "true",
            protocol=cell("PROTOCOL"),
            errors=cell("ERRORS"),
        ))
    return found


def parse_etcd_members(stdout: str) -> list[EtcdMember]:
    """Rows of ``etcd members`` (ID, HOSTNAME, PEER URLS, CLIENT URLS, LEARNER; NODE
    first when the call went through a node)."""
    header, rows = _table(stdout)
    if not header:
        return []
    column = {name: i for i, name in enumerate(header)}
    if not {"ID", "HOSTNAME", "LEARNER"} <= set(column):
        raise ValueError("etcd members without ID, HOSTNAME or LEARNER column")
    members = []
    for row in rows:
        if len(row) != len(header):
            continue
        members.append(EtcdMember(
            member_id=row[column["ID"]],
            hostname=row[column["HOSTNAME"]],
            peer_urls=tuple(u for u in row[column["PEER URLS"]].split(",") if u),
            client_urls=tuple(u for u in row[column["CLIENT URLS"]].split(",") if u),
            learner=row[column["LEARNER"]] == "true",
        ))
    return members
