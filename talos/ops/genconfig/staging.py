"""Making a run's files in private, then putting them in place all together.

    build(cluster, talosctl, decrypt, todo, patches, ...)  -> {path: bytes}   staged
    commit(cluster, staged, switched=None)                 every file, or none

:func:`build` decrypts the bundle (with the injected decrypter) into a private temporary
directory (0700, the file 0600) that is removed however the run ends, has ``talosctl gen
config`` write one base per Talos version in use there, and merges each node's config
(:mod:`talos.ops.genconfig.plan`), or has talosctl merge it (:mod:`talos.ops.fallback`).
:func:`commit` writes the staged files into ``clusterconfig/`` (0700, files 0600) with
:mod:`talos.adapters.fileset`: an error or an interruption at any moment leaves the
complete old set or the complete new set, with a record that agrees with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from talos.adapters.files import private_folder, write_private_temp
from talos.adapters.fileset import replace_all
from talos.adapters.sops import private_tempdir
from talos.core import merge
from talos.core.schematic import node_installer_image
from talos.errors import CommandError, TalosError
from talos.ops.fallback import merge_with_talosctl
from talos.ops.genconfig.plan import (
    PatchFiles,
    derived_documents,
    fill_talosconfig,
    has_hostname_document,
    merge_node,
    node_patch_files,
    shown,
)
from talos.ops.genconfig.record import STATE_FILE, TALOSCONFIG, config_path, talosconfig_path
from talos.ops.secrets import Redactor, bundle_values

if TYPE_CHECKING:
    from talos.core.cluster import Cluster, Node
    from talos.core.merge import Config

VALIDATE_MODE = "metal"
VALIDATE_WORKERS = 8

#: ``progress(node name, what happened)``
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


class Decrypter(Protocol):
    """How the secrets bundle is read (:func:`talos.adapters.sops.decrypt_file` does it
    with sops): its plaintext, or a :class:`~talos.errors.SecretsError` saying why not."""

    def __call__(self, path: Path, *, shown: str | None = None) -> bytes: ...


def build(
    cluster: Cluster,
    talosctl: ConfigTool,
    decrypt: Decrypter,
    todo: Sequence[Node],
    patches: PatchFiles,
    *,
    with_talosconfig: bool,
    by_talosctl: Sequence[str],
    validate: bool,
    tell: Progress,
) -> dict[Path, bytes]:
    """Every file to write, generated and merged in a private temporary directory.

    ``tell`` hears ``generated`` (or ``generated and valid``) of each node; ``by_talosctl``
    names the nodes talosctl merges. talosctl's complaints about a config (validate,
    its merge) may quote it: the error raised has the bundle's secrets masked.
    """
    bundle = shown(cluster, cluster.secrets_file)
    plain = b""
    try:
        with private_tempdir() as work:
            plain = decrypt(cluster.secrets_file, shown=bundle)
            secrets = write_private_temp(work / "secrets.yaml", plain)
            return _staged(cluster, talosctl, work, secrets, todo, patches,
                           with_talosconfig=with_talosconfig, by_talosctl=set(by_talosctl),
                           validate=validate, tell=tell)
    except TalosError as exc:
        text = plain.decode("utf-8", errors="replace")
        redactor = Redactor(lambda: bundle_values(text, bundle) if text else frozenset())
        raise redactor.error(exc) from exc.__cause__


def _staged(
    cluster: Cluster,
    talosctl: ConfigTool,
    work: Path,
    secrets: Path,
    todo: Sequence[Node],
    patches: PatchFiles,
    *,
    with_talosconfig: bool,
    by_talosctl: set[str],
    validate: bool,
    tell: Progress,
) -> dict[Path, bytes]:
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
    for node in todo:
        key = (cluster.talos_version_of(node), node.role)
        base_file = bases[key[0]] / f"{node.role}.yaml"
        if node.name in by_talosctl:
            texts[node] = _merge_by_talosctl(cluster, node, talosctl, work, base_file)
            continue
        if key not in parsed:
            base_config = merge.parse_config(read_base(base_file),
                                       f"talosctl gen config ({node.role}.yaml)")
            parsed[key] = (base_config, base_config.document("HostnameConfig") is not None)
        base, hostname_document = parsed[key]
        texts[node] = merge_node(cluster, node, base, patches,
                                 hostname_document=hostname_document)
        if not validate:
            tell(node.name, "generated")
    if validate:
        _validate_all(talosctl, work, texts, tell)
    elif by_talosctl:  # the merger's checks were not made: talosctl's are
        _validate_all(talosctl, work, {n: t for n, t in texts.items()
                                       if n.name in by_talosctl}, tell)
    staged = {config_path(cluster, node): text.encode("utf-8") for node, text in texts.items()}
    if with_talosconfig:
        client = read_base(bases[cluster.talos_version] / TALOSCONFIG)
        staged[talosconfig_path(cluster)] = fill_talosconfig(client, cluster).encode("utf-8")
    return staged


def _merge_by_talosctl(
    cluster: Cluster, node: Node, talosctl: ConfigTool, work: Path, base_file: Path
) -> str:
    base = read_base(base_file)
    derived = derived_documents(cluster, node, hostname_document=has_hostname_document(base))
    return merge_with_talosctl(talosctl, work, node.name, base, derived,
                               node_patch_files(cluster, node))


def read_base(path: Path) -> str:
    """A file ``talosctl gen config`` was to write."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(
            f"talosctl gen config did not write {path.name} ({exc.strerror}); "
            "is talosctl the right version?"
        ) from exc


def _validate_all(
    talosctl: ConfigTool, work: Path, texts: Mapping[Node, str], tell: Progress
) -> None:
    """``talosctl validate`` on every config at once; the first failure, in node order,
    is raised. Each file is named after its node, so talosctl's complaint names it."""
    folder = work / "check"
    folder.mkdir(mode=0o700)
    paths = {node: write_private_temp(folder / f"{node.name}.yaml", text.encode("utf-8"))
             for node, text in texts.items()}
    with ThreadPoolExecutor(max_workers=min(VALIDATE_WORKERS, len(paths) or 1)) as pool:
        futures = {node: pool.submit(talosctl.validate, path, mode=VALIDATE_MODE)
                   for node, path in paths.items()}
        for node, future in futures.items():
            future.result()
            tell(node.name, "generated and valid")


def commit(cluster: Cluster, staged: Mapping[Path, bytes],
           switched: Callable[[], None] | None = None) -> None:
    """Write every staged file, or none (see :mod:`talos.adapters.fileset`); the state
    file, which vouches for the others, goes into place last."""
    output = cluster.output_dir
    where = shown(cluster, output)
    private_folder(output, where)
    files = {}
    for path, data in staged.items():
        if path.parent != output:
            raise ValueError(f"{path} is not in {output}")
        files[path.name] = data
    replace_all(output, files, last=STATE_FILE, shown=where, switched=switched)
