"""From the encrypted secrets bundle to one machine config per node, incrementally.

    generate(cluster, talosctl=..., nodes=None, force=False, validate=False, dry=False,
             progress=None)           -> GenerationReport   .written / .unchanged node names
    config_path(cluster, node)        -> Path                clusterconfig/<node>.yaml
    config_is_current(cluster, node)  -> bool                inputs unchanged since written

How a node's config is made:

1. The bundle is decrypted with sops into a private temporary directory (0700, the file
   0600), removed however the run ends.
2. ``talosctl gen config --with-secrets`` writes the base control-plane and worker
   configs there, with the cluster's Talos and Kubernetes versions passed explicitly.
3. The merger applies, lowest precedence first: what the cluster file says of the node
   (installer image from its schematic, install disk, a ``HostnameConfig`` with
   ``auto: "off"`` and its hostname), ``patches.all``, the role's patches, the node's own.
4. Everything is staged first; only then are the files written to ``clusterconfig/``
   (0700, files 0600), all together or not at all (:mod:`talos.adapters.fileset`): an error or
   an interruption at any moment leaves the complete old set or the complete new set,
   with a state file that agrees with it, and no temp file after the next start.

Incremental: ``clusterconfig/.state.json`` keeps, per node, a digest of every input
(the node's part of the cluster file, its patch files, its schematic file, the
encrypted secrets file, the talosctl client version) and of the file written. A node
whose inputs and file are unchanged is skipped without decrypting anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from talos.core.goyaml.reader import safe_load, safe_load_all
from talos.core.wording import shown_path
from talos.errors import CommandError, Interrupted, TalosError

if TYPE_CHECKING:
    from talos.core.cluster import Cluster, Node
    from talos.core.merge import Config, Patch

STATE_FILE = ".state.json"
TALOSCONFIG = "talosconfig"
#: Bumped whenever the same inputs would give a different output (a change in this module).
FORMAT = 1
VALIDATE_MODE = "metal"
VALIDATE_WORKERS = 8

Progress = Callable[[str, str], None]


class ConfigTool(Protocol):
    """What generation needs of talosctl (:class:`talos.adapters.talosctl.Talosctl` provides it)."""

    def gen_config(
        self, cluster_name: str, endpoint: str, *, secrets: Path, output_dir: Path,
        talos_version: str, kubernetes_version: str, install_image: str,
        install_disk: str | None = None, with_docs: bool = True, with_examples: bool = True,
    ) -> None: ...

    def validate(self, config: Path, *, mode: str = "metal") -> None: ...

    def client_version(self) -> str: ...

    def machineconfig_patch(self, base: Path, patches: Sequence[str], output: Path) -> None: ...


@dataclass
class GenerationReport:
    """What a run wrote (or, dry, would write) and what it left alone, with reasons."""

    output_dir: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    talosconfig_written: bool = False
    dry: bool = False
    #: ``*.yaml`` files of the output folder that belong to no node of the cluster file
    orphans: list[str] = field(default_factory=list)
    #: the talosctl client's version (``v1.12.4``)
    client_version: str = ""
    #: nodes merged by ``talosctl machineconfig patch`` (:mod:`talos.ops.fallback`), and why
    merged_by_talosctl: list[str] = field(default_factory=list)
    merge_note: str = ""

    @property
    def nothing_to_do(self) -> bool:
        return not self.written and not self.talosconfig_written


# -- where things are --------------------------------------------------------------------


def config_path(cluster: Cluster, node: Node) -> Path:
    """The generated config of ``node``."""
    return cluster.output_dir / f"{node.name}.yaml"


def orphan_configs(cluster: Cluster) -> list[str]:
    """Configs left in the output folder by nodes no longer in the cluster file."""
    if not cluster.output_dir.is_dir():
        return []
    names = {f"{n.name}.yaml" for n in cluster.nodes}
    return sorted(p.name for p in cluster.output_dir.glob("*.yaml") if p.name not in names)


def version_skew(cluster: Cluster, client_version: str) -> str | None:
    """A warning when talosctl's minor version is not the cluster's: configs follow the
    client's version contract, so they would be shaped for another Talos."""
    def minor(version: str) -> str:
        return ".".join(version.lstrip("v").split(".")[:2])

    if not client_version or minor(client_version) == minor(cluster.talos_version):
        return None
    return (f"talosctl is {client_version} but the cluster runs {cluster.talos_version}; "
            f"install talosctl v{minor(cluster.talos_version)} with `inv tools.install` "
            "(or point TALOSCTL at it)")


def talosconfig_path(cluster: Cluster) -> Path:
    return cluster.output_dir / TALOSCONFIG


def shown(cluster: Cluster, path: Path) -> str:
    """``path`` as the user knows it: relative to the cluster file's folder when inside."""
    return shown_path(path, cluster.root)


# -- inputs and state --------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path, seen: dict[Path, str] | None = None) -> str:
    """The digest of ``path``'s bytes; ``seen`` keeps those of files read already, so a
    file every node shares (the secrets, a role patch) is read once per run."""
    if seen is not None and path in seen:
        return seen[path]
    try:
        digest = _digest(path.read_bytes())
    except FileNotFoundError:
        digest = "missing"
    if seen is not None:
        seen[path] = digest
    return digest


def node_patch_files(cluster: Cluster, node: Node) -> tuple[Path, ...]:
    """The node's patch files, lowest precedence first: all, role, own."""
    return (*cluster.patches_all, *cluster.role_patches(node.role), *node.patches)


def node_inputs(
    cluster: Cluster, node: Node, client_version: str | None, seen: dict[Path, str] | None = None
) -> dict[str, str]:
    """A digest of every input of ``node``'s config, keyed by what the user would call it
    (``seen``: digests of files already read, see :func:`_file_digest`)."""
    declared = {
        "format": FORMAT,
        "name": cluster.name,
        "endpoint": cluster.endpoint,
        "talosVersion": cluster.talos_version_of(node),
        "kubernetesVersion": cluster.kubernetes_version,
        "installer": [cluster.installer.registry, cluster.installer.form],
        "node": [node.name, node.role, node.schematic, node.install_disk, node.hostname],
        "patches": [shown(cluster, p) for p in node_patch_files(cluster, node)],
    }
    inputs = {f"{shown(cluster, cluster.path)} (node {node.name})":
              _digest(json.dumps(declared, sort_keys=True).encode())}
    schematic = cluster.schematics[node.schematic].file
    inputs[shown(cluster, schematic)] = _file_digest(schematic, seen)
    for patch in node_patch_files(cluster, node):
        inputs[shown(cluster, patch)] = _file_digest(patch, seen)
    inputs[shown(cluster, cluster.secrets_file)] = _file_digest(cluster.secrets_file, seen)
    if client_version is not None:
        inputs["talosctl"] = client_version
    return inputs


def talosconfig_inputs(
    cluster: Cluster, client_version: str | None, seen: dict[Path, str] | None = None
) -> dict[str, str]:
    declared = {
        "format": FORMAT,
        "name": cluster.name,
        "endpoint": cluster.endpoint,
        "talosVersion": cluster.talos_version,
        "kubernetesVersion": cluster.kubernetes_version,
        "endpoints": talosconfig_endpoints(cluster),
        "nodes": talosconfig_nodes(cluster),
    }
    inputs = {f"{shown(cluster, cluster.path)} (talosconfig)":
              _digest(json.dumps(declared, sort_keys=True).encode())}
    inputs[shown(cluster, cluster.secrets_file)] = _file_digest(cluster.secrets_file, seen)
    if client_version is not None:
        inputs["talosctl"] = client_version
    return inputs


def load_state(cluster: Cluster) -> dict[str, Any]:
    """The state of the last run; empty when missing or unreadable (everything regenerates)."""
    try:
        state = json.loads((cluster.output_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) and state.get("format") == FORMAT else {}


def _entry(state: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    entries = state.get("files")
    entry = entries.get(key) if isinstance(entries, dict) else None
    return entry if isinstance(entry, dict) else {}


def stale_reason(entry: Mapping[str, Any], inputs: Mapping[str, str], path: Path) -> str | None:
    """Why the file at ``path`` must be (re)written, or None when it is current."""
    if not path.exists():
        return "new" if not entry else "missing"
    stored = entry.get("inputs")
    if not isinstance(stored, dict):
        return "no record of its inputs"
    if _file_digest(path) != entry.get("output"):
        return "changed by hand since it was generated"
    changed = [name for name in inputs if stored.get(name) != inputs[name]]
    gone = [name for name in stored if name not in inputs]
    if "talosctl" in changed:
        changed.remove("talosctl")
        changed.append(f"talosctl {stored.get('talosctl')} -> {inputs['talosctl']}")
    parts = changed + [f"{name} no longer used" for name in gone]
    if parts:
        return "changed: " + ", ".join(parts)
    return None


def config_is_current(
    cluster: Cluster,
    node: Node,
    *,
    state: Mapping[str, Any] | None = None,
    seen: dict[Path, str] | None = None,
) -> bool:
    """True when ``node``'s config exists and nothing that feeds it changed since.

    The talosctl version is taken as recorded (checking it would run talosctl). Asking
    for many nodes, pass the ``state`` (:func:`load_state`) and a ``seen`` dict once.
    """
    entry = _entry(load_state(cluster) if state is None else state, node.name)
    stored = entry.get("inputs")
    version = stored.get("talosctl") if isinstance(stored, dict) else None
    inputs = node_inputs(cluster, node, version if isinstance(version, str) else None, seen)
    return stale_reason(entry, inputs, config_path(cluster, node)) is None


# -- what goes into a config -------------------------------------------------------------


def derived_documents(
    cluster: Cluster, node: Node, *, hostname_document: bool = True
) -> list[dict[str, Any]]:
    """What the cluster file says of ``node``, as patch documents (lowest precedence).

    The hostname goes into a ``HostnameConfig`` (``auto: "off"``, since ``gen config``
    writes ``auto: stable`` and the two cannot be combined); configs of the v1.11
    contract and older have no such document and take ``machine.network.hostname``.
    """
    from talos.core.schematic import node_installer_image

    install: dict[str, Any] = {"image": node_installer_image(cluster, node)}
    if node.install_disk:
        install["disk"] = node.install_disk
    if not hostname_document:
        return [{"machine": {"install": install, "network": {"hostname": node.hostname}}}]
    return [
        {"machine": {"install": install}},
        {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off",
         "hostname": node.hostname},
    ]


def has_hostname_document(base: str) -> bool:
    """Whether a generated config has a ``HostnameConfig`` document (v1.12 contract on)."""
    return any(
        isinstance(doc, dict) and doc.get("kind") == "HostnameConfig"
        for doc in safe_load_all(base)
    )


def talosconfig_endpoints(cluster: Cluster) -> list[str]:
    """The control planes' addresses; the endpoint's host when none has a fixed one."""
    found = [n.ip for n in cluster.controlplanes if n.ip]
    return found or [cluster.endpoint_host]


def talosconfig_nodes(cluster: Cluster) -> list[str]:
    return [n.ip for n in cluster.nodes if n.ip]


def fill_talosconfig(text: str, cluster: Cluster) -> str:
    """The talosconfig ``gen config`` wrote, with endpoints and nodes from the cluster file."""
    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        raise CommandError(
            f"talosctl gen config wrote a talosconfig that is not YAML: {exc}"
        ) from None
    contexts = data.get("contexts") if isinstance(data, dict) else None
    if not isinstance(contexts, dict) or not contexts:
        raise CommandError("talosctl gen config wrote a talosconfig without contexts")
    name = data.get("context") if data.get("context") in contexts else next(iter(contexts))
    context = contexts[name]
    context["endpoints"] = talosconfig_endpoints(cluster)
    context["nodes"] = talosconfig_nodes(cluster)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


class _Patches:
    """Patch files loaded once per run, whatever the number of nodes using them."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.loaded: dict[Path, Patch] = {}

    def get(self, path: Path) -> Patch:
        if path not in self.loaded:
            from talos.core.merge import load_patch

            self.loaded[path] = load_patch(f"@{shown(self.cluster, path)}",
                                           base_dir=self.cluster.root)
        return self.loaded[path]


def merge_node(
    cluster: Cluster, node: Node, base: Config, patches: _Patches, *, hostname_document: bool
) -> str:
    """``node``'s config: the base of its role with the derived patch, then its patches."""
    from talos.core.merge import apply_patches, dump_config, patch_from_documents

    derived = patch_from_documents(
        derived_documents(cluster, node, hostname_document=hostname_document),
        f"{shown(cluster, cluster.path)} (node {node.name})",
    )
    chain = [derived, *(patches.get(p) for p in node_patch_files(cluster, node))]
    return dump_config(apply_patches(base, chain))


# -- running -----------------------------------------------------------------------------


def generate(
    cluster: Cluster,
    *,
    talosctl: ConfigTool,
    nodes: Iterable[Node] | None = None,
    force: bool = False,
    validate: bool = False,
    dry: bool = False,
    progress: Progress | None = None,
) -> GenerationReport:
    """Write ``clusterconfig/<node>.yaml`` for each node whose inputs changed (all with
    ``force``) and ``clusterconfig/talosconfig``; ``dry`` plans and writes nothing."""
    from talos.adapters.fileset import recover
    from talos.adapters.interrupts import interruptible
    from talos.adapters.sops import require_encrypted

    selected = list(cluster.nodes if nodes is None else nodes)
    tell = progress or (lambda name, what: None)
    report = GenerationReport(output_dir=cluster.output_dir, dry=dry)
    if not dry:
        recover(cluster.output_dir)
    require_encrypted(cluster.secrets_file, shown(cluster, cluster.secrets_file))
    version = report.client_version = talosctl.client_version()
    state = load_state(cluster)

    inputs: dict[str, dict[str, str]] = {}
    todo: list[Node] = []
    seen: dict[Path, str] = {}
    for node in selected:
        inputs[node.name] = node_inputs(cluster, node, version, seen)
        reason = stale_reason(_entry(state, node.name), inputs[node.name],
                              config_path(cluster, node))
        if force:
            reason = "forced"
        if reason is None:
            report.unchanged.append(node.name)
            tell(node.name, "unchanged")
        else:
            todo.append(node)
            report.reasons[node.name] = reason
    tc_inputs = talosconfig_inputs(cluster, version, seen)
    tc_reason = stale_reason(_entry(state, TALOSCONFIG), tc_inputs, talosconfig_path(cluster))
    if force and nodes is None:
        tc_reason = "forced"
    if tc_reason is not None:
        report.reasons[TALOSCONFIG] = tc_reason

    report.orphans = orphan_configs(cluster)
    # Every patch is read now: a broken one fails the plan (dry runs too), before
    # anything is decrypted. What the merger's rules do not know may send a node to
    # talosctl's merge instead (talos.ops.fallback).
    from talos.ops.fallback import plan_route

    patches = _Patches(cluster)
    by_name = {node.name: node for node in todo}
    route = plan_route(
        [(node.name, cluster.talos_version_of(node)) for node in todo], client_version=version,
        load=lambda name: [patches.get(p) for p in node_patch_files(cluster, by_name[name])],
    )
    report.merged_by_talosctl = [node.name for node in todo if node.name in route.by_talosctl]
    report.merge_note = route.note
    if dry or (not todo and tc_reason is None):
        for node in todo:
            tell(node.name, f"would write ({report.reasons[node.name]})")
        report.written = [n.name for n in todo]
        report.talosconfig_written = tc_reason is not None
        return report

    where = shown(cluster, cluster.output_dir)
    switched: list[bool] = []
    try:
        with interruptible("genconfig"):
            try:
                staged = _build(cluster, talosctl, todo, patches, tc_reason is not None,
                                validate=validate, report=report, tell=tell)
            except TalosError as exc:
                # talosctl's complaints about a config (validate, the merge fallback) may
                # quote it: secrets are masked (the bundle is read again for that, on
                # this failure path only).
                from talos.ops.secrets import Redactor

                raise Redactor.for_cluster(cluster).error(exc) from exc.__cause__
            files = (dict(state.get("files") or {})
                     if isinstance(state.get("files"), dict) else {})
            for node in todo:
                files[node.name] = {"inputs": inputs[node.name],
                                    "output": _digest(staged[config_path(cluster, node)])}
            if tc_reason is not None:
                files[TALOSCONFIG] = {"inputs": tc_inputs,
                                      "output": _digest(staged[talosconfig_path(cluster)])}
            new_state = json.dumps({"format": FORMAT, "files": files}, indent=2,
                                   sort_keys=True) + "\n"
            staged[cluster.output_dir / STATE_FILE] = new_state.encode()
            commit(cluster, staged, switched=lambda: switched.append(True))
    except Interrupted as exc:
        exc.message = (f"{exc.message} after {where}/ had switched to the new configs"
                       if switched else f"{exc.message}; {where}/ was left as it was")
        exc.args = (exc.message,)
        raise
    report.written = [n.name for n in todo]
    report.talosconfig_written = tc_reason is not None
    return report


def _build(
    cluster: Cluster,
    talosctl: ConfigTool,
    todo: Sequence[Node],
    patches: _Patches,
    with_talosconfig: bool,
    *,
    validate: bool,
    report: GenerationReport,
    tell: Progress,
) -> dict[Path, bytes]:
    """Every file to write, generated and merged in a private temporary directory."""
    from talos.adapters.files import write_private_temp
    from talos.adapters.sops import decrypt_file, private_tempdir
    from talos.core.merge import parse_config
    from talos.core.schematic import node_installer_image

    staged: dict[Path, bytes] = {}
    with private_tempdir() as work:
        secrets = write_private_temp(
            work / "secrets.yaml",
            decrypt_file(cluster.secrets_file, shown=shown(cluster, cluster.secrets_file)),
        )
        # One base per Talos version in use: the version contract shapes the config.
        versions: dict[str, Node] = {}
        for node in todo:
            versions.setdefault(cluster.talos_version_of(node), node)
        if with_talosconfig and cluster.talos_version not in versions:
            versions[cluster.talos_version] = cluster.first_controlplane
        bases: dict[str, Path] = {}
        for index, (talos_version, example) in enumerate(versions.items()):
            out = work / f"base-{index}"
            talosctl.gen_config(
                cluster.name, cluster.endpoint, secrets=secrets, output_dir=out,
                talos_version=talos_version, kubernetes_version=cluster.kubernetes_version,
                install_image=node_installer_image(cluster, example),
                with_docs=False, with_examples=False,
            )
            bases[talos_version] = out
        # Each base is parsed once: merging never changes its input.
        parsed: dict[tuple[str, str], tuple[Config, bool]] = {}
        texts: dict[Node, str] = {}
        by_talosctl = set(report.merged_by_talosctl)
        for node in todo:
            key = (cluster.talos_version_of(node), node.role)
            if node.name in by_talosctl:
                texts[node] = _merge_by_talosctl(cluster, node, talosctl, work,
                                                 bases[key[0]] / f"{node.role}.yaml")
                continue
            if key not in parsed:
                text = _read_base(bases[key[0]] / f"{node.role}.yaml")
                base_config = parse_config(text, f"talosctl gen config ({node.role}.yaml)")
                parsed[key] = (base_config,
                               base_config.document("HostnameConfig") is not None)
            base, hostname_document = parsed[key]
            texts[node] = merge_node(cluster, node, base, patches,
                                     hostname_document=hostname_document)
            if not validate:
                tell(node.name, f"generated ({report.reasons[node.name]})")
        if validate:
            _validate_all(talosctl, work, texts, report, tell)
        elif by_talosctl:  # the merger's checks were not made: talosctl's are
            _validate_all(talosctl, work, {n: t for n, t in texts.items()
                                           if n.name in by_talosctl}, report, tell)
        for node, text in texts.items():
            staged[config_path(cluster, node)] = text.encode("utf-8")
        if with_talosconfig:
            client = _read_base(bases[cluster.talos_version] / TALOSCONFIG)
            staged[talosconfig_path(cluster)] = fill_talosconfig(client, cluster).encode("utf-8")
    return staged


def _merge_by_talosctl(
    cluster: Cluster, node: Node, talosctl: ConfigTool, work: Path, base_file: Path
) -> str:
    from talos.ops.fallback import merge_with_talosctl

    base = _read_base(base_file)
    derived = derived_documents(cluster, node, hostname_document=has_hostname_document(base))
    return merge_with_talosctl(talosctl, work, node.name, base, derived,
                               node_patch_files(cluster, node))


def _read_base(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(
            f"talosctl gen config did not write {path.name} ({exc.strerror}); "
            "is talosctl the right version?"
        ) from exc


def _validate_all(
    talosctl: ConfigTool,
    work: Path,
    texts: Mapping[Node, str],
    report: GenerationReport,
    tell: Progress,
) -> None:
    """``talosctl validate`` on every config at once; the first failure, in node order,
    is raised. Each file is named after its node, so talosctl's complaint names it."""
    from talos.adapters.files import write_private_temp

    folder = work / "check"
    folder.mkdir(mode=0o700)
    paths = {node: write_private_temp(folder / f"{node.name}.yaml", text.encode("utf-8"))
             for node, text in texts.items()}
    with ThreadPoolExecutor(max_workers=min(VALIDATE_WORKERS, len(paths) or 1)) as pool:
        futures = {node: pool.submit(talosctl.validate, path, mode=VALIDATE_MODE)
                   for node, path in paths.items()}
        for node, future in futures.items():
            future.result()
            tell(node.name, f"generated and valid ({report.reasons[node.name]})")


def commit(cluster: Cluster, staged: Mapping[Path, bytes],
           switched: Callable[[], None] | None = None) -> None:
    """Write every staged file, or none (see :mod:`talos.adapters.fileset`); the state file, which
    vouches for the others, goes into place last."""
    from talos.adapters.files import private_folder
    from talos.adapters.fileset import replace_all

    output = cluster.output_dir
    where = shown(cluster, output)
    private_folder(output, where)
    files = {}
    for path, data in staged.items():
        if path.parent != output:
            raise ValueError(f"{path} is not in {output}")
        files[path.name] = data
    replace_all(output, files, last=STATE_FILE, shown=where, switched=switched)


__all__ = [
    "ConfigTool",
    "GenerationReport",
    "config_is_current",
    "config_path",
    "generate",
]
