"""The talosctl command tree (v1.12 flags and defaults) and ``main``.

Each command's flags, defaults and help texts follow its ``init()`` in the reference
(``cmd/talosctl/cmd/talos/*.go``, ``cmd/talosctl/cmd/mgmt/**``; the connection flags:
``cmd/talosctl/cmd/talos/root.go:addCommand``). Commands whose source is not in the
reference (``config``, ``image`` flags beyond ``image.go``) are guessed from the CLI notes.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from typing import Any

from . import process, state
from .flags import (
    BOOL,
    DURATION,
    INT,
    STRING,
    STRING_ARRAY,
    STRINGS,
    CLIError,
    Command,
    Flag,
    HelpRequested,
    Parsed,
    check_args,
    check_required,
    find_command,
    find_command_as,
    parse_flags,
)

DEFAULT_CLIENT_VERSION = "v1.12.4"


Run = Callable[[Parsed, dict[str, Any], str], None]


def lazy(module: str, name: str, *args: str) -> Run:
    """A command body imported only when that command runs (keeps every call fast)."""

    def run(p: Parsed, data: dict[str, Any], version: str) -> None:
        target = getattr(importlib.import_module(f"standin.{module}"), name)
        body = target(*args) if args else target
        body(p, data, version)

    return run


def with_defaults(flags: list[Flag], run: Run) -> Run:
    """A body that reads flags its command does not register, at their defaults."""

    def wrapped(p: Parsed, data: dict[str, Any], version: str) -> None:
        for flag in flags:
            default = flag.default
            p.values.setdefault(flag.name, list(default) if isinstance(default, list)
                                else default)
        run(p, data, version)

    return wrapped


# Talos: pkg/machinery/constants/constants.go DefaultKubernetesVersion, per client release.
DEFAULT_KUBERNETES = {"v1.12.4": "1.35.0"}


def default_kubernetes(client_version: str) -> str:
    """The Kubernetes version a talosctl release defaults to (``gen config``,
    ``upgrade-k8s --to``): known for v1.12.4; other releases are guessed to share it."""
    return DEFAULT_KUBERNETES.get(client_version, DEFAULT_KUBERNETES["v1.12.4"])


def connection_flags() -> list[Flag]:
    return [
        Flag("talosconfig", STRING, "", "The path to the Talos configuration file. Defaults "
             "to 'TALOSCONFIG' env variable if set, otherwise '$HOME/.talos/config' and "
             "'/var/run/secrets/talos.dev/config' in order."),
        Flag("nodes", STRINGS, [], "target the specified nodes", short="n"),
        Flag("endpoints", STRINGS, [], "override default endpoints in Talos configuration",
             short="e"),
        Flag("context", STRING, "", "Context to be used in command"),
        Flag("cluster", STRING, "", "Cluster to connect to if a proxy endpoint is used.",
             short="c"),
        Flag("siderov1-keys-dir", STRING, "", "The path to the SideroV1 auth PGP keys "
             "directory. Defaults to 'SIDEROV1_KEYS_DIR' env variable if set, otherwise "
             "'$HOME/.talos/keys'. Only valid for Contexts that use SideroV1 auth."),
    ]


def talos(name: str, use: str, short: str, run: Any, flags: list[Flag],
          args: tuple[int, int | None] | None = (0, 0), aliases: tuple[str, ...] = (),
          ) -> Command:
    return Command(name, use, short, aliases=aliases, flags=flags,
                   persistent=connection_flags(), args=args, run=run)


def build(client_version: str) -> Command:
    k8s_default = default_kubernetes(client_version)
    root = Command("talosctl", "talosctl", "A CLI for out-of-band management of Kubernetes "
                   "nodes created by Talos")

    gen_config = Command(
        "config", "config <cluster name> <cluster endpoint>",
        "Generates a set of configuration files for Talos cluster", args=(2, 2),
        run=lazy("offline", "gen_config"),
        flags=[
            Flag("additional-sans", STRINGS, [], "additional Subject-Alt-Names for the "
                 "APIServer certificate"),
            Flag("config-patch", STRING_ARRAY, [], "patch generated machineconfigs (applied "
                 "to all node types), use @file to read a patch from file"),
            Flag("config-patch-control-plane", STRING_ARRAY, [], "patch generated "
                 "machineconfigs (applied to 'init' and 'controlplane' types)"),
            Flag("config-patch-worker", STRING_ARRAY, [], "patch generated machineconfigs "
                 "(applied to 'worker' type)"),
            Flag("dns-domain", STRING, "cluster.local", "the dns domain to use for cluster"),
            Flag("install-disk", STRING, "/dev/sda", "the disk to install to"),
            Flag("install-image", STRING,
                 f"ghcr.io/siderolabs/installer:{process.environ().get('TAG') or client_version}",
                 "the image used to perform an installation"),
            Flag("kubernetes-version", STRING, k8s_default, "desired kubernetes version to "
                 "run"),
            Flag("output", STRING, "", "destination to output generated files. when multiple "
                 "output types are specified, it must be a directory. for a single output "
                 "type, it must either be a file path, or \"-\" for stdout", short="o"),
            Flag("output-types", STRINGS, ["controlplane", "worker", "talosconfig"],
                 "types of outputs to be generated. valid types are: [\"controlplane\" "
                 "\"worker\" \"talosconfig\"]", short="t"),
            Flag("persist", BOOL, True, "the desired persist value for configs", short="p"),
            Flag("registry-mirror", STRINGS, [], "list of registry mirrors to use in format: "
                 "<registry host>=<mirror URL>"),
            Flag("talos-version", STRING, "", "the desired Talos version to generate config "
                 "for (backwards compatibility, e.g. v0.8)"),
            Flag("version", STRING, "v1alpha1", "the desired machine config version to "
                 "generate"),
            Flag("with-cluster-discovery", BOOL, True, "enable cluster discovery feature"),
            Flag("with-docs", BOOL, True, "renders all machine configs adding the "
                 "documentation for each field"),
            Flag("with-examples", BOOL, True, "renders all machine configs with the commented "
                 "examples"),
            Flag("with-kubespan", BOOL, False, "enable KubeSpan feature"),
            Flag("with-secrets", STRING, "", "use a secrets file generated using 'gen "
                 "secrets'"),
            Flag("output-dir", STRING, "", "", hidden=True),
        ],
    )
    gen_secrets = Command(
        "secrets", "secrets", "Generates a secrets bundle file which can later be used to "
        "generate a config", args=(0, 0), run=lazy("offline", "gen_secrets"),
        flags=[
            Flag("from-controlplane-config", STRING, "", "use the provided controlplane "
                 "Talos machine configuration as input"),
            Flag("from-kubernetes-pki", STRING, "", "use a Kubernetes PKI directory (e.g. "
                 "/etc/kubernetes/pki) as input", short="p"),
            Flag("kubernetes-bootstrap-token", STRING, "", "use the provided bootstrap token "
                 "as input", short="t"),
            Flag("output-file", STRING, "secrets.yaml", "path of the output file, or \"-\" "
                 "for stdout", short="o"),
            Flag("talos-version", STRING, "", "the desired Talos version to generate secrets "
                 "bundle for (backwards compatibility, e.g. v0.8)"),
        ],
    )
    gen = Command("gen", "gen", "Generate CAs, certificates, and private keys",
                  persistent=[Flag("force", BOOL, False, "will overwrite existing files",
                                   short="f")])
    gen.add(gen_config, gen_secrets)

    mc_patch = Command(
        "patch", "patch <machineconfig-file>", "Patch a machine config", args=(1, 1),
        run=lazy("offline", "machineconfig_patch"),
        flags=[
            Flag("output", STRING, "", "output destination. if not specified, output will be "
                 "printed to stdout", short="o"),
            Flag("patch", STRING_ARRAY, [], "patch generated machineconfigs (applied to all "
                 "node types), use @file to read a patch from file", short="p"),
        ],
    )
    # `machineconfig gen` is `gen config` registered without its flags: every option keeps
    # its default and passing one is an unknown flag.
    defaults = [*gen_config.flags, *gen.persistent]
    mc_gen = Command(
        "gen", "gen <cluster name> <cluster endpoint>",
        "Generates a set of configuration files for Talos cluster", args=(2, 2),
        run=with_defaults(defaults, lazy("offline", "gen_config")),
    )
    machineconfig = Command("machineconfig", "machineconfig", "Machine config related "
                            "commands", aliases=("mc",))
    machineconfig.add(mc_gen, mc_patch)

    validate = Command(
        "validate", "validate", "Validate config", args=(0, 0), run=lazy("offline", "validate"),
        required=("mode",),
        flags=[
            Flag("config", STRING, "", "the path of the config file", short="c"),
            Flag("mode", STRING, "", "the mode to validate the config for (valid values are "
                 "metal, cloud, and container)", short="m"),
            Flag("strict", BOOL, False, "treat validation warnings as errors"),
        ],
    )

    version = talos("version", "version", "Prints the version", lazy("resources", "version"), [
        Flag("client", BOOL, False, "Print client version only"),
        Flag("insecure", BOOL, False, "use Talos maintenance mode API", short="i"),
        Flag("json", BOOL, False, "", hidden=True),
        Flag("short", BOOL, False, "Print the short version"),
    ])
    get = talos("get", "get <type> [<id>]", "Get a specific resource or list of resources "
                "(use 'talosctl get rd' to see all available resource types).",
                lazy("resources", "get"), [
        Flag("insecure", BOOL, False, "get resources using the insecure (encrypted with no "
             "auth) maintenance service", short="i"),
        Flag("namespace", STRING, "", "resource namespace (default is to use default "
             "namespace per resource)"),
        Flag("output", STRING, "table", "output mode (json, table, yaml, jsonpath)",
             short="o"),
        Flag("watch", BOOL, False, "watch resource changes", short="w"),
    ], args=(1, 2), aliases=("g",))
    apply_config = talos("apply-config", "apply-config", "Apply a new configuration to a "
                         "node", lazy("lifecycle", "apply_config"), [
        Flag("cert-fingerprint", STRINGS, [], "list of server certificate fingeprints to "
             "accept (defaults to no check)"),
        Flag("config-patch", STRING_ARRAY, [], "the list of config patches to apply to the "
             "local config file before sending it to the node", short="p"),
        Flag("dry-run", BOOL, False, "check how the config change will be applied in "
             "dry-run mode"),
        Flag("file", STRING, "", "the filename of the updated configuration", short="f"),
        Flag("insecure", BOOL, False, "apply the config using the insecure (encrypted with "
             "no auth) maintenance service", short="i"),
        # Talos: cmd/talosctl/pkg/talos/helpers/mode.go:AddModeFlags, Mode.Type (interactive
        # is accepted by apply-config but never listed)
        Flag("mode", STRING, "auto", "apply config mode", short="m",
             choices=("auto", "interactive", "no-reboot", "reboot", "staged", "try"),
             unlisted=("interactive",)),
        Flag("timeout", DURATION, 60.0, "the config will be rolled back after specified "
             "timeout (if try mode is selected)"),
    ], args=(0, 1), aliases=("apply",))
    upgrade = talos("upgrade", "upgrade", "Upgrade Talos on the target node",
                    lazy("lifecycle", "upgrade"), [
        Flag("debug", BOOL, False, "debug operation from kernel logs. --wait is set to true "
             "when this flag is set"),
        Flag("force", BOOL, False, "force the upgrade (skip checks on etcd health and "
             "members, might lead to data loss)", short="f"),
        Flag("image", STRING, "", "the container image to use for performing the install "
             f"(default \"ghcr.io/siderolabs/installer:{client_version}\")", short="i"),
        Flag("insecure", BOOL, False, "upgrade using the insecure (encrypted with no auth) "
             "maintenance service"),
        Flag("preserve", BOOL, False, "preserve data", short="p", hidden=True),
        Flag("reboot-mode", STRING, "default", "select the reboot mode during upgrade. Mode "
             "\"powercycle\" bypasses kexec. Valid values are: [\"default\" \"powercycle\"].",
             short="m"),
        Flag("stage", BOOL, False, "stage the upgrade to perform it after a reboot",
             short="s"),
        Flag("timeout", DURATION, 1800.0, "time to wait for the operation is complete if "
             "--debug or --wait is set"),
        Flag("wait", BOOL, True, "wait for the operation to complete, tracking its progress. "
             "always set to true when --debug is set"),
    ])
    upgrade_k8s = talos("upgrade-k8s", "upgrade-k8s", "Upgrade Kubernetes control plane in "
                        "the Talos cluster.", lazy("lifecycle", "upgrade_k8s"), [
        Flag("apiserver-image", STRING, "registry.k8s.io/kube-apiserver", "kube-apiserver "
             "image to use"),
        Flag("controller-manager-image", STRING, "registry.k8s.io/kube-controller-manager",
             "kube-controller-manager image to use"),
        Flag("dry-run", BOOL, False, "skip the actual upgrade and show the upgrade plan "
             "instead"),
        Flag("endpoint", STRING, "", "the cluster control plane endpoint"),
        Flag("from", STRING, "", "the Kubernetes control plane version to upgrade from"),
        Flag("kubelet-image", STRING, "ghcr.io/siderolabs/kubelet", "kubelet image to use"),
        Flag("pre-pull-images", BOOL, True, "pre-pull images before upgrade"),
        Flag("proxy-image", STRING, "registry.k8s.io/kube-proxy", "kube-proxy image to use"),
        Flag("scheduler-image", STRING, "registry.k8s.io/kube-scheduler", "kube-scheduler "
             "image to use"),
        Flag("to", STRING, k8s_default, "the Kubernetes control plane version to upgrade to"),
        Flag("upgrade-kubelet", BOOL, True, "upgrade kubelet service"),
        Flag("with-docs", BOOL, True, "patch all machine configs adding the documentation "
             "for each field"),
        Flag("with-examples", BOOL, True, "patch all machine configs with the commented "
             "examples"),
    ])
    bootstrap = talos("bootstrap", "bootstrap", "Bootstrap the etcd cluster on the specified "
                      "node.", lazy("lifecycle", "bootstrap"), [
        Flag("recover-from", STRING, "", "recover etcd cluster from the snapshot"),
        Flag("recover-skip-hash-check", BOOL, False, "skip integrity check when recovering "
             "etcd (use when recovering from data directory copy)"),
    ])
    kubeconfig = talos("kubeconfig", "kubeconfig [local-path]", "Download the admin "
                       "kubeconfig from the node", lazy("access", "kubeconfig"), [
        Flag("force", BOOL, False, "Force overwrite of kubeconfig if already present, force "
             "overwrite on kubeconfig merge", short="f"),
        Flag("force-context-name", STRING, "", "Force context name for kubeconfig merge"),
        Flag("merge", BOOL, True, "Merge with existing kubeconfig", short="m"),
    ], args=(0, 1))
    reboot = talos("reboot", "reboot", "Reboot a node", lazy("lifecycle", "reboot"), [
        Flag("debug", BOOL, False, "debug operation from kernel logs. --wait is set to true "
             "when this flag is set"),
        Flag("mode", STRING, "default", "select the reboot mode: \"default\", \"powercycle\" "
             "(skips kexec), \"force\" (skips graceful teardown)", short="m"),
        Flag("timeout", DURATION, 1800.0, "time to wait for the operation is complete if "
             "--debug or --wait is set"),
        Flag("wait", BOOL, True, "wait for the operation to complete, tracking its progress. "
             "always set to true when --debug is set"),
    ])
    reset = talos("reset", "reset", "Reset a node", lazy("lifecycle", "reset"), [
        Flag("debug", BOOL, False, "debug operation from kernel logs. --wait is set to true "
             "when this flag is set"),
        Flag("graceful", BOOL, True, "if true, attempt to cordon/drain node and leave etcd "
             "(if applicable)"),
        Flag("insecure", BOOL, False, "reset using the insecure (encrypted with no auth) "
             "maintenance service"),
        Flag("reboot", BOOL, False, "if true, reboot the node after resetting instead of "
             "shutting down"),
        Flag("system-labels-to-wipe", STRINGS, [], "if set, just wipe selected system disk "
             "partitions by label but keep other partitions intact"),
        Flag("timeout", DURATION, 1800.0, "time to wait for the operation is complete if "
             "--debug or --wait is set"),
        Flag("user-disks-to-wipe", STRINGS, [], "if set, wipes defined devices in the list"),
        Flag("wait", BOOL, True, "wait for the operation to complete, tracking its progress. "
             "always set to true when --debug is set"),
        Flag("wipe-mode", STRING, "all", "disk reset mode",
             choices=("all", "system-disk", "user-disks")),
    ])
    health = talos("health", "health", "Check cluster health", lazy("health", "health"), [
        Flag("control-plane-nodes", STRINGS, [], "specify IPs of control plane nodes"),
        Flag("init-node", STRING, "", "specify IPs of init node"),
        Flag("k8s-endpoint", STRING, "", "use endpoint instead of kubeconfig default"),
        Flag("run-e2e", BOOL, False, "run Kubernetes e2e test"),
        Flag("server", BOOL, True, "run server-side check"),
        Flag("wait-timeout", DURATION, 1200.0, "timeout to wait for the cluster to be ready"),
        Flag("worker-nodes", STRINGS, [], "specify IPs of worker nodes"),
    ])
    image_list = Command("list", "list", "List CRI images", aliases=("ls", "l"),
                         args=(0, 0), run=lazy("resources", "image_list"))
    image = Command(
        "image", "image", "Manage CRI container images", aliases=("images",),
        persistent=[*connection_flags(),
                    Flag("namespace", STRING, "cri", "namespace to use: `system` (etcd and "
                         "kubelet images) or `cri` for all Kubernetes workloads")],
    )
    image_pull = Command("pull", "pull <image>", "Pull an image into CRI", aliases=("p",),
                         args=(1, 1), run=lazy("resources", "image_pull"))
    image.add(image_list, image_pull)
    usage = talos("usage", "usage [path1] [path2] ... [pathN]", "Retrieve a disk usage",
                  lazy("resources", "usage"), [
        Flag("all", BOOL, False, "write counts for all files, not just directories",
             short="a"),
        Flag("depth", INT, 0, "maximum recursion depth", short="d"),
        Flag("humanize", BOOL, False, "humanize size and time in the output", short="H"),
        Flag("threshold", INT, 0, "threshold exclude entries smaller than SIZE if positive, "
             "or entries greater than SIZE if negative", short="t"),
    ], args=(0, None), aliases=("du",))
    # Talos: cmd/talosctl/cmd/talos/etcd.go (init): the subcommands take no flags of their
    # own; the connection flags are the persistent ones every talos command gets.
    etcd = Command("etcd", "etcd", "Manage etcd", persistent=connection_flags())
    etcd.add(
        Command("members", "members", "Get the list of etcd cluster members", args=(0, 0),
                run=lazy("etcd", "member_list")),
        Command("snapshot", "snapshot <path>", "Stream snapshot of the etcd node to the path.",
                args=(1, 1), run=lazy("etcd", "snapshot")),
        Command("status", "status", "Get the status of etcd cluster member", args=(0, 0),
                run=lazy("etcd", "status")),
    )
    config = Command("config", "config", "Manage the client configuration file "
                     "(talosconfig)", persistent=connection_flags())
    config.add(
        Command("endpoint", "endpoint <endpoint>...", "Set the endpoint(s) for the current "
                "context", aliases=("endpoints",), args=(1, None),
                run=lazy("access", "config_set", "endpoints")),
        Command("node", "node <endpoint>...", "Set the node(s) for the current context",
                aliases=("nodes",), args=(0, None), run=lazy("access", "config_set", "nodes")),
        Command("context", "context <context>", "Set the current context",
                aliases=("use-context",), args=(1, 1), run=lazy("access", "config_context")),
        Command("add", "add <context>", "Add a new context", args=(1, 1),
                run=lazy("access", "config_add"), flags=[
                    Flag("ca", STRING, "", "the path to the CA certificate"),
                    Flag("crt", STRING, "", "the path to the certificate"),
                    Flag("key", STRING, "", "the path to the key"),
                ]),
        Command("remove", "remove <context>", "Remove contexts", args=(1, 1),
                run=lazy("access", "config_remove"), flags=[
                    Flag("dry-run", BOOL, False, "dry run"),
                    Flag("noconfirm", BOOL, False, "do not ask for confirmation", short="y"),
                ]),
        Command("contexts", "contexts", "List defined contexts", aliases=("get-contexts",),
                args=(0, 0), run=lazy("access", "config_contexts")),
        Command("merge", "merge <from>", "Merge additional contexts from another client "
                "configuration file", args=(1, None), run=lazy("access", "config_merge")),
        Command("new", "new [<path>]", "Generate a new client configuration file",
                args=(0, 1), run=lazy("access", "config_new"), flags=[
                    Flag("crt-ttl", DURATION, 8760 * 3600.0, "certificate TTL"),
                    Flag("roles", STRINGS, ["os:admin"], "roles"),
                ]),
        Command("info", "info", "Show information about the current context", args=(0, 0),
                run=lazy("access", "config_info"), flags=[
                    Flag("output", STRING, "text", "output format (json|yaml|text). Default "
                         "text.", short="o"),
                ]),
    )
    root.groups = (("talos", "Manage running Talos clusters:"),
                   ("mgmt", "Commands to generate and manage machine configuration offline:"))
    for command in (gen, machineconfig, validate):
        command.group = "mgmt"
    for command in (apply_config, bootstrap, config, etcd, get, health, image, kubeconfig, reboot,
                    reset, upgrade, upgrade_k8s, usage, version):
        command.group = "talos"
    root.add(apply_config, bootstrap, config, etcd, gen, get, health, image, kubeconfig,
             machineconfig, reboot, reset, upgrade, upgrade_k8s, usage, validate, version)
    root.add(Command("help", "help [command]", "Help about any command", args=(0, None),
                     run=help_command(root)))
    return root


def help_command(root: Command) -> Run:
    """cobra's ``help``: the named command's help on stdout; an unknown topic and the
    root usage on stderr, still exit 0 (guessed: cobra is not in the reference)."""

    def run(p: Parsed, data: dict[str, Any], version: str) -> None:
        try:
            command, _ = find_command(root, p.args)
        except CLIError:
            topic = " ".join(f"`{arg}`" for arg in p.args)
            process.stderr().write(f"Unknown help topic [{topic}]\n" + root.usage())
            return
        process.stdout().write(command.help())

    return run


def execute(argv: list[str]) -> int:
    data = state.load()
    version = str(data.get("client_version") or DEFAULT_CLIENT_VERSION)
    root = build(version)
    command = root
    try:
        command, rest, called_as = find_command_as(root, argv)
        parsed: Parsed = parse_flags(command, rest)
        parsed.called_as = called_as
        if command.run is None:
            raise HelpRequested()
        check_args(command, parsed.args)
        check_required(parsed)
        command.run(parsed, data, version)
    except HelpRequested:
        process.stdout().write(command.help())
        return 0
    except CLIError as exc:
        if not exc.suppressed:
            text = exc.message
            process.stderr().write(text + "\n")
            if "arg(s)" in text or "flag" in text or "command" in text:
                process.stderr().write("\n" + command.usage() + "\n")
        return 1
    return 0


def run(argv: list[str]) -> int:
    """One talosctl invocation: its exit code; the call is logged (unless it was stopped,
    as a killed program logs nothing)."""
    start = time.time()
    code = 1
    try:
        code = execute(argv)
    finally:
        process.stdout().flush()
        process.stderr().flush()
        if not process.stopped():
            state.log_call(argv, start, time.time(), code)
    return code


def main() -> int:
    return run(sys.argv[1:])
