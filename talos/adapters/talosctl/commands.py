"""The talosctl adapter: each talosctl call of talos-tasks, its command line built from
data, run, its failures explained.

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

A second ``bootstrap`` fails with ``AlreadyExists`` (PITFALLS 7), which
:meth:`Talosctl.bootstrap` reports as ``False``. Failures become one-line
:class:`CommandError` messages naming the node, what failed and what to do
(``talosctl upgrade on 192.168.0.204 failed: node is unreachable: ...``); the command
line, exit code and the tail of stderr stay on the exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos.adapters.command import Result, Runner, failure
from talos.adapters.talosctl.failures import (
    diagnose,
    explain,
    is_already_bootstrapped,
    parse_node_errors,
    tidy,
    validation_problems,
    without_diffs,
)
from talos.adapters.talosctl.parse import (
    ApplyResult,
    ContainerImage,
    MachineStatus,
    Member,
    machine_status_of,
    member_of,
    parse_apply,
    parse_image_list,
    parse_json_stream,
    parse_server_versions,
    parse_usage,
    parse_version_tag,
    schematic_of,
)
from talos.errors import CommandError, CommandTimeout, ToolMissingError

# The etcd tables and the many-node questions are imported by the methods that use them:
# with their dataclasses, 4 ms (process time, min of 7) that the tasks asking only for a
# version, a config or one node would pay.
if TYPE_CHECKING:
    from talos.adapters.talosctl.etcd import EtcdMember, EtcdMemberStatus, Snapshot
    from talos.adapters.talosctl.many import Answers

BINARY_VARIABLE = "TALOSCTL"
DEFAULT_BINARY = "talosctl"
#: Wipe only what holds the node's state, not its user volumes (``reset``).
DEFAULT_WIPE = ("EPHEMERAL", "META")
#: The volume labels ``reset --system-labels-to-wipe`` accepts on a Talos system disk.
SYSTEM_LABELS = ("STATE", "EPHEMERAL", "META")
#: The offline question of the client's own version (no connection flag: PITFALLS 6).
_CLIENT_VERSION = ("version", "--client")
#: A read (version, get, list, usage) that takes longer than this is stuck.
READ_TIMEOUT = 120.0


class Talosctl:
    """talosctl, driven for one cluster (one talosconfig).

    ``binary``: the program to run (default ``talosctl`` on PATH: which one the user named
    is a setting, read by :mod:`talos.adapters.settings`); ``named_by``: the setting that
    named it (``TALOSCTL``), when the user did: a missing binary says so.
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
        named_by: str | None = None,
    ) -> None:
        self.talosconfig = talosconfig
        self.runner = runner or Runner()
        self.binary = binary or DEFAULT_BINARY
        #: Where the binary was named, when the user named it (a missing one says so).
        self.named_by = named_by if binary else None
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
        return self._version_of(self._run([self.binary, *_CLIENT_VERSION], what="version",
                                          mutates=False))

    @contextmanager
    def client_version_started(self) -> Iterator[Callable[[], str]]:
        """:meth:`client_version` asked now and answered later: the block receives the
        function that waits for the answer (raising what :meth:`client_version` would),
        and may work meanwhile; leaving it without asking stops the program."""
        argv = [self.binary, *_CLIENT_VERSION]
        with self.runner.start(argv, mutates=False, check=False,
                               timeout=self.read_timeout) as started:
            yield lambda: self._version_of(
                self._answer(started.wait, what="version", node=None, check=True))

    def _version_of(self, result: Result) -> str:
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
        self._wait_for(argv, node, "upgrade", wait=wait, timeout=timeout)

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
        self._wait_for(argv, node, "reboot", wait=wait, timeout=timeout)

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
        self._wait_for(argv, node, "reset", wait=wait, timeout=timeout)

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

    def etcd_status(self, nodes: Sequence[str]) -> Answers[EtcdMemberStatus]:
        """``etcd status`` of every node in ``nodes``, in one call through any of them.

        Nodes that fail are reported per node, in talosctl's words, tidied (talosctl
        warns of them and prints the others; when none answers, the per-node errors are
        all there is). Unlike the questions of :func:`running`, a failure that names no
        node (no endpoint answered) is a :class:`CommandError`: etcd's health is not
        judged from a call that reached no member.
        """
        from talos.adapters.talosctl.etcd import parse_etcd_status
        from talos.adapters.talosctl.many import BARE, split_answers

        result = self._many(["etcd", "status"], nodes, "etcd status")
        if result.exit_code != 0 and not parse_node_errors(result.stderr):
            raise self._error(result, ",".join(nodes), "etcd status")
        statuses = parse_etcd_status(result.stdout) if result.exit_code == 0 else []
        return split_answers(result, nodes, "etcd status", {s.node: s for s in statuses},
                             BARE)

    # -- many nodes in one call (talos.adapters.talosctl.many) -------------------------------

    def server_versions(self, nodes: Sequence[str]) -> Answers[str]:
        """The Talos version of each node, one ``talosctl version`` for all of them."""
        from talos.adapters.talosctl.many import each_if_hung, split_answers

        def ask(nodes: Sequence[str]) -> Answers[str]:
            result = self._many(["version"], nodes, "version")
            return split_answers(result, nodes, "version", parse_server_versions(result.stdout))

        return each_if_hung(ask, nodes)

    def installed_schematics(self, nodes: Sequence[str]) -> Answers[str | None]:
        """Each node's Image Factory schematic ID (None: not a factory image), one
        ``talosctl get extensions`` for all of them."""
        from talos.adapters.talosctl.many import each_if_hung, grouped_by_node, split_answers

        def ask(nodes: Sequence[str]) -> Answers[str | None]:
            result = self._many(["get", "extensions"], nodes, "get extensions", "--output",
                                "json")
            grouped = grouped_by_node(result, "extensions")
            return split_answers(result, nodes, "get extensions",
                                 {n: schematic_of(grouped.get(n, [])) for n in nodes})

        return each_if_hung(ask, nodes)

    def machine_statuses(self, nodes: Sequence[str]) -> Answers[MachineStatus]:
        """Each node's boot stage and readiness, one ``talosctl get machinestatus``."""
        from talos.adapters.talosctl.many import each_if_hung, grouped_by_node, split_answers

        def ask(nodes: Sequence[str]) -> Answers[MachineStatus]:
            result = self._many(["get", "machinestatus"], nodes, "get machinestatus",
                                "--output", "json")
            grouped = grouped_by_node(result, "machinestatus")
            return split_answers(result, nodes, "get machinestatus",
                                 {n: machine_status_of(r[0]) for n, r in grouped.items()
                                  if r})

        return each_if_hung(ask, nodes)

    def _many(self, subcommand: list[str], nodes: Sequence[str], what: str,
              *flags: str) -> Result:
        argv = [*self._online_many(subcommand, nodes), *flags]
        return self._run(argv, node=",".join(nodes), what=what, mutates=False, check=False)

    def etcd_members(self, node: str) -> list[EtcdMember]:
        """The etcd members as control plane ``node``'s etcd knows them."""
        from talos.adapters.talosctl.etcd import parse_etcd_members

        result = self._run(self._online("etcd", "members", node=node), node=node,
                           what="etcd members", mutates=False)
        return parse_etcd_members(result.stdout)

    def etcd_snapshot(self, node: str, path: Path) -> Snapshot:
        """Stream an etcd snapshot from control plane ``node`` into ``path`` (talosctl
        writes ``<path>.part`` first and renames it once its checksum is there)."""
        from talos.adapters.talosctl.etcd import Snapshot, parse_snapshot

        argv = [*self._online("etcd", "snapshot", node=node), str(path)]
        result = self._run(argv, node=node, what="etcd snapshot", mutates=True)
        if self.runner.dry:
            return Snapshot(path, 0, "dry run: not taken")
        return parse_snapshot(path, result.stdout)

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

    def _wait_for(self, argv: list[str], node: str, what: str, *, wait: bool,
                  timeout: str | None) -> None:
        """Run an operation that takes ``node`` down and back (upgrade, reboot, reset), its
        lines streamed to ``progress``: without ``wait`` talosctl returns once the node
        took it; ``timeout`` bounds talosctl's own wait."""
        if not wait:
            argv.append("--wait=false")
        if timeout:
            argv += ["--timeout", timeout]
        self._run(argv, node=node, what=what, mutates=True, stream=True)

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
        return self._answer(
            lambda: self.runner.run(argv, mutates=mutates, check=False, timeout=limit,
                                    progress=self.progress if stream else None),
            what=what, node=node, check=check,
        )

    def _answer(
        self, call: Callable[[], Result], *, what: str, node: str | None, check: bool
    ) -> Result:
        """``call``'s Result (the runner running the command), its failures in talosctl's
        words: a missing binary names the setting that named it, a timeout the node."""
        try:
            result = call()
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
        # A refused change's diff holds secrets: cut before the tail is taken, so that a
        # diff longer than the tail cannot leave its lines on the error.
        return failure(result, f"talosctl {what}{where} failed: {reason}", hint=hint,
                       stderr=without_diffs(result.stderr))


def _flag(value: bool) -> str:
    return "true" if value else "false"
