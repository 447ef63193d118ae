"""Adapter: talosctl and kubectl pinned to the cluster's versions, downloaded on demand.

    wanted_tools(cluster)            -> [Wanted]       talosctl at talosVersion, kubectl at
                                                        kubernetesVersion
    survey(cluster)                  -> [ToolStatus]   wanted vs found on PATH vs cached
    install(download, ...)           -> Path           fetch, verify, make executable
    pinned_binary(tool, version)     -> Choice          what a task should run

Sources (the base URLs are settings, for a mirror or a test server:
:mod:`talos.adapters.settings`):

- talosctl: ``<talos releases>/<version>/talosctl-<os>-<arch>`` (default base
  ``https://github.com/siderolabs/talos/releases/download``), checksummed by
  ``sha256sum.txt`` beside it (lines ``<hex>  <asset>``);
- kubectl: ``<kubernetes releases>/<version>/bin/<os>/<arch>/kubectl`` (default base
  ``https://dl.k8s.io/release``), checksummed by ``kubectl.sha256`` beside it (the hex
  digest alone).

Binaries are cached per version in the cache folder the caller gives
(``<cache>/<tool>-<version>/<tool>``; the settings' default is
``~/.cache/talos-tasks/bin``). A download is written to a temporary file in
that folder, hashed on the way, compared with the published digest, and only then made
executable and renamed into place: a checksum mismatch, a 404 or a timeout leaves nothing
behind and is one :class:`DownloadError` line.

A task uses the cached binary when PATH has no such tool or one of another minor
version, and says so; a talosctl the user named (``TALOSCTL``) always wins: the caller
then asks for no pinned one. talosctl is pinned for every task that runs it, kubectl
for ``inv addons``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos.adapters.command import Runner
from talos.adapters.settings import DEFAULT_KUBERNETES_RELEASES, DEFAULT_TALOS_RELEASES
from talos.adapters.talosctl import parse_version_tag
from talos.errors import CommandError, DownloadError, UsageError

if TYPE_CHECKING:
    import httpx

    from talos.core.cluster import Cluster

TOOLS = ("talosctl", "kubectl")
#: Seconds without a byte before a download is given up.
TIMEOUT = 30.0
#: A ``--version`` query that takes longer than this is stuck.
PROBE_TIMEOUT = 20.0
_CHUNK = 256 * 1024
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")

#: Receives (bytes so far, total bytes or None) while a download runs.
Progress = Callable[[int, "int | None"], None]


# ---------------------------------------------------------------------------------------
# What is wanted, and from where (pure)


@dataclass(frozen=True)
class Platform:
    """An OS/arch pair as the release sites spell it: ``linux``/``amd64``."""

    os: str
    arch: str

    def __str__(self) -> str:
        return f"{self.os}/{self.arch}"


_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_SYSTEMS = {"linux": "linux", "darwin": "darwin"}


def current_platform() -> Platform:
    """This machine's platform; an unsupported one is a :class:`UsageError`."""
    system = _SYSTEMS.get(sys.platform)
    # os.uname, not the platform module (1.2 ms to import, paid by every task that finds
    # talosctl): both give the kernel's machine name.
    machine = os.uname().machine if hasattr(os, "uname") else "unknown"
    arch = _ARCHES.get(machine.lower())
    if system is None or arch is None:
        raise UsageError(
            f"no pinned downloads for {sys.platform}/{machine}: install talosctl "
            "and kubectl yourself (linux and darwin on amd64 or arm64 are supported)"
        )
    return Platform(system, arch)


@dataclass(frozen=True)
class Download:
    """Where one tool at one version comes from, and where its checksum is published."""

    tool: str
    version: str
    platform: Platform
    url: str
    checksum_url: str
    #: the name its line in a ``sha256sum.txt`` carries; "" for a file holding one digest
    asset: str


def talosctl_download(version: str, where: Platform,
                      base: str = DEFAULT_TALOS_RELEASES) -> Download:
    root = base.rstrip("/")
    asset = f"talosctl-{where.os}-{where.arch}"
    return Download("talosctl", version, where, f"{root}/{version}/{asset}",
                    f"{root}/{version}/sha256sum.txt", asset)


def kubectl_download(version: str, where: Platform,
                     base: str = DEFAULT_KUBERNETES_RELEASES) -> Download:
    url = f"{base.rstrip('/')}/{version}/bin/{where.os}/{where.arch}/kubectl"
    return Download("kubectl", version, where, url, f"{url}.sha256", "")


#: Each tool's download, from (version, platform, base URL).
DOWNLOADS: dict[str, Callable[[str, Platform, str], Download]] = {
    "talosctl": talosctl_download,
    "kubectl": kubectl_download,
}


@dataclass(frozen=True)
class Wanted:
    tool: str
    version: str


def wanted_tools(cluster: Cluster) -> list[Wanted]:
    """talosctl of the cluster's Talos version, kubectl of its Kubernetes version."""
    return [Wanted("talosctl", cluster.talos_version),
            Wanted("kubectl", cluster.kubernetes_version)]


def minor(version: str) -> tuple[int, int] | None:
    """``(1, 12)`` of ``v1.12.4`` (or ``1.12``); None when it is not a version."""
    match = re.match(r"^v?(\d+)\.(\d+)", version.strip())
    return (int(match[1]), int(match[2])) if match else None


def same_minor(found: str | None, wanted: str) -> bool:
    return found is not None and minor(found) is not None and minor(found) == minor(wanted)


def parse_checksum(text: str, asset: str, source: str) -> str:
    """The hex sha256 for ``asset`` in a ``sha256sum.txt`` (``<hex>  <name>`` lines), or
    the lone digest of a ``.sha256`` file (``asset`` empty)."""
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if not asset and _HEX.match(parts[0]) and len(parts) <= 2:
            return parts[0].lower()
        if len(parts) == 2 and parts[1].lstrip("*") == asset and _HEX.match(parts[0]):
            return parts[0].lower()
    what = f"no sha256 for {asset}" if asset else "no sha256 digest"
    raise DownloadError(f"{source} has {what}; nothing installed")


# ---------------------------------------------------------------------------------------
# The cache


def cached_binary(tool: str, version: str, cache: Path) -> Path:
    """Where ``tool`` at ``version`` is (or would be) in the cache folder ``cache``."""
    return cache / f"{tool}-{version}" / tool


def any_cached(tool: str, cache: Path) -> bool:
    """Whether the cache folder ``cache`` holds ``tool`` at any version (installed or
    not quite: a folder of :func:`cached_binary`'s shape is enough)."""
    try:
        return any(entry.startswith(f"{tool}-") for entry in os.listdir(cache))
    except OSError:  # no cache folder yet (or not one): nothing cached
        return False


def is_installed(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# ---------------------------------------------------------------------------------------
# Downloading


def install(
    download: Download,
    *,
    cache: Path,
    transport: httpx.BaseTransport | None = None,
    timeout: float = TIMEOUT,
    progress: Progress | None = None,
) -> Path:
    """Fetch ``download`` into the cache folder ``cache``, verified; returns the executable's path.

    The checksum is fetched first, then the binary (hashed as it streams to a temporary
    file beside its final place). Only a matching binary is made executable and renamed
    into place; anything else removes the temporary file and raises :class:`DownloadError`.
    """
    import httpx  # lazy: 14 ms at start-up, which every task that picks a binary would pay

    target = cached_binary(download.tool, download.version, cache)
    label = f"{download.tool} {download.version} ({download.platform})"
    try:
        with httpx.Client(transport=transport, timeout=timeout, follow_redirects=True) as http:
            checksum_text = _fetch_text(http, download.checksum_url, label)
            wanted = parse_checksum(checksum_text, download.asset, download.checksum_url)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DownloadError(
                    f"cannot create {target.parent}: {exc.strerror or exc}; "
                    "set talos.cache_dir (invoke.yaml) or XDG_CACHE_HOME to a writable folder"
                ) from exc
            fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{download.tool}.",
                                             suffix=".part")
            temp = Path(temp_name)
            try:
                with os.fdopen(fd, "wb") as sink:
                    got = _stream(http, download.url, sink, label, progress)
                if got != wanted:
                    raise DownloadError(
                        f"{label}: checksum mismatch for {download.url} (sha256 {got[:16]}…, "
                        f"published {wanted[:16]}… in {download.checksum_url}); nothing "
                        "installed"
                    )
                temp.chmod(0o755)
                os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
    except httpx.TimeoutException as exc:
        raise DownloadError(
            f"{label}: {_request_url(exc)} timed out after {timeout:g}s; nothing installed "
            "(check the network, or point the release URL settings at a mirror)"
        ) from exc
    except httpx.HTTPError as exc:
        raise DownloadError(
            f"{label}: {_request_url(exc)} failed: {exc}; nothing installed"
        ) from exc
    except OSError as exc:
        raise DownloadError(
            f"{label}: cannot write into {target.parent}: {exc.strerror or exc}; "
            "nothing installed"
        ) from exc
    return target


def _request_url(exc: Exception) -> str:
    try:
        return str(exc.request.url)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        return "the download"


def _refused(response: httpx.Response, label: str) -> DownloadError:
    hint = "is the version published for this platform?" if response.status_code == 404 \
        else "retry later"
    return DownloadError(
        f"{label}: {response.url} answered {response.status_code} "
        f"{response.reason_phrase}; nothing installed ({hint})"
    )


def _fetch_text(http: httpx.Client, url: str, label: str) -> str:
    response = http.get(url)
    if response.status_code != 200:
        raise _refused(response, label)
    return response.text


def _stream(
    http: httpx.Client, url: str, sink: Any, label: str, progress: Progress | None
) -> str:
    digest = hashlib.sha256()
    with http.stream("GET", url) as response:
        if response.status_code != 200:
            raise _refused(response, label)
        length = response.headers.get("content-length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        for chunk in response.iter_bytes(_CHUNK):
            digest.update(chunk)
            sink.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------
# What is there, and what to use


def probe_version(tool: str, binary: str, runner: Runner) -> str | None:
    """The client version ``binary`` reports (``v1.12.4``); None if it cannot say."""
    if tool == "talosctl":
        argv = [binary, "version", "--client"]
    else:
        argv = [binary, "version", "--client", "--output", "json"]
    try:
        result = runner.run(argv, mutates=False, check=False, timeout=PROBE_TIMEOUT)
    except CommandError:
        return None
    if result.exit_code != 0:
        return None
    if tool == "talosctl":
        return parse_version_tag(result.stdout, "Client")
    try:
        data = json.loads(result.stdout)
        return str(data["clientVersion"]["gitVersion"])
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class ToolStatus:
    """One tool: the version wanted, what PATH has, what the cache has, what is used.

    ``named_by`` is the setting that named the binary tasks run (``TALOSCTL``, or
    ``talos.talosctl`` of the Invoke configuration, for talosctl), when set: that binary
    is then what tasks use, whatever PATH and the cache hold, and ``fits`` says whether
    its minor version is the wanted one."""

    tool: str
    wanted: str
    on_path: str | None  # the binary PATH finds
    path_version: str | None
    cached: str | None  # the cached binary of the wanted version, when installed
    using: str | None  # what tasks run: the named one, PATH's when it fits, else the cached
    named_by: str | None = None  # the setting naming the binary tasks run, when set
    named_version: str | None = None  # that binary's version, when it answered

    @property
    def fits(self) -> bool:
        if self.named_by is not None:
            return same_minor(self.named_version, self.wanted)
        return self.using is not None

    def as_json(self) -> dict[str, Any]:
        named = None if self.named_by is None else {
            "variable": self.named_by, "binary": self.using, "version": self.named_version}
        return {"tool": self.tool, "wanted": self.wanted,
                "path": {"binary": self.on_path, "version": self.path_version},
                "cached": self.cached, "named": named, "using": self.using,
                "fits": self.fits}


def status_of(wanted: Wanted, runner: Runner, cache: Path,
              named: tuple[str, str] | None = None) -> ToolStatus:
    """``named``: (setting, binary) when the user named the binary tasks run; it is
    probed and used whatever its version."""
    found = shutil.which(wanted.tool)
    version = probe_version(wanted.tool, found, runner) if found else None
    cached = cached_binary(wanted.tool, wanted.version, cache)
    cached_text = str(cached) if is_installed(cached) else None
    if named is not None:
        variable, binary = named
        named_version = probe_version(wanted.tool, binary, runner)
        return ToolStatus(wanted.tool, wanted.version, found, version, cached_text, binary,
                          variable, named_version)
    using = found if same_minor(version, wanted.version) else cached_text
    return ToolStatus(wanted.tool, wanted.version, found, version, cached_text, using)


def survey(cluster: Cluster, runner: Runner, cache: Path,
           named_talosctl: tuple[str, str] | None = None) -> list[ToolStatus]:
    """Each wanted tool's status; talosctl's is the one ``named_talosctl`` (setting,
    binary) names, when given."""
    return [status_of(wanted, runner, cache,
                      named_talosctl if wanted.tool == "talosctl" else None)
            for wanted in wanted_tools(cluster)]


@dataclass(frozen=True)
class Choice:
    """The binary a task runs (None: the tool's name, found on PATH) and why, when it is
    not PATH's (``note``, for the user)."""

    binary: str | None
    note: str = ""


def pinned_binary(tool: str, version: str, runner: Runner, cache: Path) -> Choice:
    """The cached binary of ``version`` when PATH has none or one of another minor;
    PATH's otherwise (also when nothing is cached: the task then says what is missing)."""
    cached = cached_binary(tool, version, cache)
    if not is_installed(cached):
        return Choice(None)
    found = shutil.which(tool)
    if found is None:
        return Choice(str(cached), f"using {tool} {version} from {cached} "
                                   f"(no {tool} on PATH)")
    found_version = probe_version(tool, found, runner)
    if same_minor(found_version, version):
        return Choice(None)
    shown = found_version or "of unknown version"
    return Choice(str(cached), f"using {tool} {version} from {cached} "
                               f"({tool} on PATH is {shown})")


_said: set[str] = set()


def pinned_talosctl(cluster: Cluster, cache: Path, runner: Runner | None = None) -> str | None:
    """The talosctl binary tasks run for ``cluster`` when the user named none: None
    (PATH's) unless the cached one of the cluster's version must stand in; then its
    path, and one line on stderr saying so (once per process)."""
    return _pinned("talosctl", cluster.talos_version, cache, runner)


def pinned_kubectl(cluster: Cluster, cache: Path, runner: Runner | None = None) -> str | None:
    """The kubectl tasks run: None (PATH's) unless the cached one of the cluster's
    Kubernetes version must stand in; then its path, said on stderr once."""
    return _pinned("kubectl", cluster.kubernetes_version, cache, runner)


def _pinned(tool: str, version: str, cache: Path, runner: Runner | None) -> str | None:
    choice = pinned_binary(tool, version, runner or Runner(), cache)
    if choice.note and choice.note not in _said:
        _said.add(choice.note)
        print(f"note: {choice.note}", file=sys.stderr, flush=True)
    return choice.binary


__all__ = [
    "Choice",
    "Download",
    "Platform",
    "ToolStatus",
    "any_cached",
    "cached_binary",
    "current_platform",
    "install",
    "pinned_binary",
    "pinned_kubectl",
    "pinned_talosctl",
    "survey",
]
