"""Machine configuration as talosctl v1.12 generates, patches and validates it.

Secrets are well-formed (base64 of PEM blocks, tokens in Talos's alphabet) but not real
certificates. The generated documents follow the v1.12 generator's field order; the
commented form carries the generator's doc comments for the fields it sets (guessed: the
generator is not in the reference; checked against a real v1.12 output in the tests).
Patches follow the configpatcher notes (guessed where they are silent). Validation
nests its errors as # Talos: pkg/machinery/config/container/container.go:Validate (see
:func:`problems`).
"""

from __future__ import annotations

import base64
import copy
import os
import re
from pathlib import Path
from typing import Any

from . import known_fields, yamlio
from .flags import CLIError

TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _token() -> str:
    import secrets

    pick = secrets.choice
    return "".join(pick(TOKEN_ALPHABET) for _ in range(6)) + "." + "".join(
        pick(TOKEN_ALPHABET) for _ in range(16)
    )


def _pem(kind: str, size: int = 96) -> str:
    body = base64.b64encode(os.urandom(size)).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    pem = f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n"
    return base64.b64encode(pem.encode()).decode()


def _pair(key_kind: str = "EC PRIVATE KEY") -> dict[str, str]:
    return {"crt": _pem("CERTIFICATE", 280), "key": _pem(key_kind, 120)}


def new_bundle() -> dict[str, Any]:
    """What ``talosctl gen secrets`` writes, in its field order."""
    return {
        "cluster": {
            "id": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "secret": base64.b64encode(os.urandom(32)).decode(),
        },
        "secrets": {
            "bootstraptoken": _token(),
            "secretboxencryptionsecret": base64.b64encode(os.urandom(32)).decode(),
        },
        "trustdinfo": {"token": _token()},
        "certs": {
            "etcd": _pair(),
            "k8s": _pair(),
            "k8saggregator": _pair(),
            "k8sserviceaccount": {"key": _pem("EC PRIVATE KEY", 120)},
            "os": _pair("ED25519 PRIVATE KEY"),
        },
    }


def load_bundle(path: str) -> dict[str, Any]:
    """Read and check a secrets bundle the way ``--with-secrets`` does."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"failed to load secrets bundle: open {path}: {_os_reason(exc)}") from None
    try:
        bundle = yamlio.load(text)
    except Exception as exc:
        raise CLIError(f"failed to load secrets bundle: {exc}") from None
    if not isinstance(bundle, dict):
        raise CLIError("failed to load secrets bundle: invalid secrets bundle")

    def need(*keys: str) -> Any:
        node: Any = bundle
        for key in keys:
            if not isinstance(node, dict) or not node.get(key):
                raise CLIError(
                    f"failed to validate secrets bundle: {'.'.join(keys)} is required"
                )
            node = node[key]
        return node

    need("cluster", "id")
    need("cluster", "secret")
    need("secrets", "bootstraptoken")
    secrets_part = bundle.get("secrets") or {}
    encryption = [k for k in ("secretboxencryptionsecret", "aescbcencryptionsecret")
                  if secrets_part.get(k)]
    if len(encryption) != 1:
        raise CLIError("failed to validate secrets bundle: exactly one of "
                       "secrets.secretboxencryptionsecret, secrets.aescbcencryptionsecret "
                       "is required")
    need("trustdinfo", "token")
    for name in ("etcd", "k8s", "k8saggregator", "os"):
        need("certs", name, "crt")
        need("certs", name, "key")
    need("certs", "k8sserviceaccount", "key")
    return bundle


def _os_reason(exc: OSError) -> str:
    return "no such file or directory" if isinstance(exc, FileNotFoundError) else (
        exc.strerror or str(exc)
    ).lower()


# ---------------------------------------------------------------------------------------
# Generation


class Options:
    """Inputs of ``gen config`` once the flags are read."""

    def __init__(self, **values: Any) -> None:
        self.cluster_name: str = values["cluster_name"]
        self.endpoint: str = values["endpoint"]
        self.kubernetes_version: str = values["kubernetes_version"]
        self.install_disk: str = values["install_disk"]
        self.install_image: str = values["install_image"]
        self.dns_domain: str = values.get("dns_domain", "cluster.local")
        self.additional_sans: list[str] = values.get("additional_sans", [])
        self.persist: bool = values.get("persist", True)
        self.discovery: bool = values.get("discovery", True)
        self.kubespan: bool = values.get("kubespan", False)
        self.contract: tuple[int, int] = values.get("contract", (1, 12))
        self.registry_mirrors: list[str] = values.get("registry_mirrors", [])


def check_endpoint(endpoint: str) -> None:
    match = re.fullmatch(r"(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://)?(?P<rest>.*)", endpoint)
    assert match is not None
    scheme, rest = match["scheme"], match["rest"]
    host = rest.split("/", 1)[0]
    has_port = re.search(r":\d+$", host) is not None
    if scheme is None:
        suggestion = f"https://{host}" + ("" if has_port else ":6443")
        if has_port:
            raise CLIError(f'no scheme specified for the cluster endpoint URL\n'
                           f'try: "{suggestion}"')
        raise CLIError(f'no scheme and port specified for the cluster endpoint URL\n'
                       f'try: "{suggestion}"')
    if scheme != "https":
        raise CLIError(f"the control plane endpoint URL should have scheme https://\n"
                       f'try: "https://{host}' + ("" if has_port else ":6443") + '"')


def _machine(role: str, bundle: dict[str, Any], opts: Options) -> dict[str, Any]:
    certs = bundle["certs"]
    machine: dict[str, Any] = {
        "type": role,
        "token": bundle["trustdinfo"]["token"],
        "ca": {"crt": certs["os"]["crt"], "key": certs["os"]["key"] if role != "worker" else ""},
        "certSANs": list(opts.additional_sans),
        "kubelet": {
            "image": f"ghcr.io/siderolabs/kubelet:v{opts.kubernetes_version}",
            "defaultRuntimeSeccompProfileEnabled": True,
            "disableManifestsDirectory": True,
        },
        "network": {},
        "install": {
            "disk": opts.install_disk,
            "image": opts.install_image,
            "wipe": False,
        },
        "features": {},
    }
    if opts.kubespan:
        machine["network"] = {"kubespan": {"enabled": True}}
    if opts.contract >= (1, 12):
        machine["install"]["grubUseUKICmdline"] = True
    else:
        machine["features"].update({"rbac": True, "stableHostname": True,
                                    "apidCheckExtKeyUsage": True})
    machine["features"].update({
        "diskQuotaSupport": True,
        "kubePrism": {"enabled": True, "port": 7445},
        "hostDNS": {"enabled": True, "forwardKubeDNSToHost": True},
    })
    if role == "controlplane":
        machine["nodeLabels"] = {
            "node.kubernetes.io/exclude-from-external-load-balancers": "",
        }
    return machine


def _cluster(role: str, bundle: dict[str, Any], opts: Options) -> dict[str, Any]:
    certs = bundle["certs"]
    ipv6 = "[" in opts.endpoint
    cluster: dict[str, Any] = {
        "id": bundle["cluster"]["id"],
        "secret": bundle["cluster"]["secret"],
        "controlPlane": {"endpoint": opts.endpoint},
        "clusterName": opts.cluster_name,
        "network": {
            "dnsDomain": opts.dns_domain,
            "podSubnets": ["fc00:db8:10::/56" if ipv6 else "10.244.0.0/16"],
            "serviceSubnets": ["fc00:db8:20::/112" if ipv6 else "10.96.0.0/12"],
        },
        "token": bundle["secrets"]["bootstraptoken"],
    }
    discovery = {
        "enabled": opts.discovery,
        "registries": {"kubernetes": {"disabled": True}, "service": {}},
    }
    if role == "worker":
        cluster["ca"] = {"crt": certs["k8s"]["crt"], "key": ""}
        cluster["discovery"] = discovery
        return cluster
    encryption = bundle["secrets"].get("secretboxencryptionsecret")
    if encryption:
        cluster["secretboxEncryptionSecret"] = encryption
    else:
        cluster["aescbcEncryptionSecret"] = bundle["secrets"]["aescbcencryptionsecret"]
    version = opts.kubernetes_version
    api_server: dict[str, Any] = {"image": f"registry.k8s.io/kube-apiserver:v{version}"}
    if opts.additional_sans:
        api_server["certSANs"] = list(opts.additional_sans)
    if opts.contract < (1, 12):
        host = opts.endpoint.split("://", 1)[-1].rsplit(":", 1)[0]
        api_server["certSANs"] = [host, *opts.additional_sans]
        api_server["disablePodSecurityPolicy"] = True
    api_server["admissionControl"] = [{
        "name": "PodSecurity",
        "configuration": {
            "apiVersion": "pod-security.admission.config.k8s.io/v1alpha1",
            "defaults": {
                "audit": "restricted", "audit-version": "latest",
                "enforce": "baseline", "enforce-version": "latest",
                "warn": "restricted", "warn-version": "latest",
            },
            "exemptions": {"namespaces": ["kube-system"], "runtimeClasses": [],
                           "usernames": []},
            "kind": "PodSecurityConfiguration",
        },
    }]
    api_server["auditPolicy"] = {
        "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}],
    }
    cluster.update({
        "ca": dict(certs["k8s"]),
        "aggregatorCA": dict(certs["k8saggregator"]),
        "serviceAccount": {"key": certs["k8sserviceaccount"]["key"]},
        "apiServer": api_server,
        "controllerManager": {"image": f"registry.k8s.io/kube-controller-manager:v{version}"},
        "proxy": {"image": f"registry.k8s.io/kube-proxy:v{version}"},
        "scheduler": {"image": f"registry.k8s.io/kube-scheduler:v{version}"},
        "discovery": discovery,
        "etcd": {"ca": dict(certs["etcd"])},
    })
    return cluster


def generate(role: str, bundle: dict[str, Any], opts: Options) -> list[dict[str, Any]]:
    """The documents of ``controlplane.yaml`` or ``worker.yaml``."""
    v1alpha1 = {
        "version": "v1alpha1",
        "debug": False,
        "persist": opts.persist,
        "machine": _machine(role, bundle, opts),
        "cluster": _cluster(role, bundle, opts),
    }
    documents: list[dict[str, Any]] = [v1alpha1]
    if opts.contract < (1, 12):
        return documents
    for mirror in opts.registry_mirrors:
        host, _, url = mirror.partition("=")
        documents.append({"apiVersion": "v1alpha1", "kind": "RegistryMirrorConfig",
                          "name": host, "endpoints": [{"url": url}]})
    documents.append({"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "stable"})
    return documents


def talosconfig(cluster_name: str, bundle: dict[str, Any]) -> dict[str, Any]:
    return {
        "context": cluster_name,
        "contexts": {
            cluster_name: {
                "endpoints": [],
                "ca": bundle["certs"]["os"]["crt"],
                "crt": _pem("CERTIFICATE", 200),
                "key": _pem("ED25519 PRIVATE KEY", 48),
            },
        },
    }


# Doc comments of the fields the generator sets (first line of each field's docs).
_DOCS: dict[str, str] = {
    "version": "Indicates the schema used to decode the contents.",
    "debug": "Enable verbose logging to the console.",
    "machine": "Provides machine specific configuration options.",
    "machine.type": "Defines the role of the machine within the cluster.",
    "machine.token": "The `token` is used by a machine to join the PKI of the cluster.",
    "machine.ca": "The root certificate authority of the PKI.",
    "machine.certSANs": "Extra certificate subject alternative names for the machine's "
                        "certificate.",
    "machine.kubelet": "Used to provide additional options to the kubelet.",
    "machine.kubelet.image": "The `image` field is an optional reference to an alternative "
                             "kubelet image.",
    "machine.kubelet.defaultRuntimeSeccompProfileEnabled": "Enable container runtime default "
                                                           "Seccomp profile.",
    "machine.kubelet.disableManifestsDirectory": "The `disableManifestsDirectory` field "
        "configures the kubelet to get static pod manifests from the /etc/kubernetes/manifests "
        "directory.",
    "machine.network": "Provides machine specific network configuration options.",
    "machine.install": "Used to provide instructions for installations.",
    "machine.install.disk": "The disk used for installations.",
    "machine.install.image": "Allows for supplying the image used to perform the installation.",
    "machine.install.wipe": "Indicates if the installation disk should be wiped at "
                            "installation time.",
    "machine.install.grubUseUKICmdline": "Indicates if legacy GRUB bootloader should use "
        "kernel cmdline from the UKI instead of building it on the host.",
    "machine.features": "Features describe individual Talos features that can be switched on "
                        "or off.",
    "machine.features.diskQuotaSupport": "Enable XFS project quota support for EPHEMERAL "
                                         "partition and user disks.",
    "machine.features.kubePrism": "KubePrism - local proxy/load balancer on defined port that "
                                  "will distribute",
    "machine.features.kubePrism.enabled": "Enable KubePrism support - will start local load "
                                          "balancing proxy.",
    "machine.features.kubePrism.port": "KubePrism port.",
    "machine.features.hostDNS": "Configures host DNS caching resolver.",
    "machine.features.hostDNS.enabled": "Enable host DNS caching resolver.",
    "machine.features.hostDNS.forwardKubeDNSToHost": "Use the host DNS resolver as upstream "
                                                     "for Kubernetes CoreDNS pods.",
    "machine.nodeLabels": "Configures the node labels for the machine.",
    "cluster": "Provides cluster specific configuration options.",
    "cluster.id": "Globally unique identifier for this cluster (base64 encoded random 32 "
                  "bytes).",
    "cluster.secret": "Shared secret of cluster (base64 encoded random 32 bytes).",
    "cluster.controlPlane": "Provides control plane specific configuration options.",
    "cluster.controlPlane.endpoint": "Endpoint is the canonical controlplane endpoint, which "
                                     "can be an IP address or a DNS hostname.",
    "cluster.clusterName": "Configures the cluster's name.",
    "cluster.network": "Provides cluster specific network configuration options.",
    "cluster.network.dnsDomain": "The domain used by Kubernetes DNS.",
    "cluster.network.podSubnets": "The pod subnet CIDR.",
    "cluster.network.serviceSubnets": "The service subnet CIDR.",
    "cluster.token": "The [bootstrap token](https://kubernetes.io/docs/reference/"
                     "access-authn-authz/bootstrap-tokens/) used to join the cluster.",
    "cluster.secretboxEncryptionSecret": "A key used for the [encryption of secret data at "
        "rest](https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/).",
    "cluster.ca": "The base64 encoded root certificate authority used by Kubernetes.",
    "cluster.aggregatorCA": "The base64 encoded aggregator certificate authority used by "
                            "Kubernetes for front-proxy certificate generation.",
    "cluster.serviceAccount": "The base64 encoded private key for service account token "
                              "generation.",
    "cluster.apiServer": "API server specific configuration options.",
    "cluster.controllerManager": "Controller manager server specific configuration options.",
    "cluster.proxy": "Kube-proxy server-specific configuration options",
    "cluster.scheduler": "Scheduler server specific configuration options.",
    "cluster.discovery": "Configures cluster member discovery.",
    "cluster.etcd": "Etcd specific configuration options.",
    "cluster.extraManifests": "A list of urls that point to additional manifests.",
    "cluster.inlineManifests": "A list of inline Kubernetes manifests.",
    "auto": "A method to automatically generate a hostname for the machine.",
}

_HOSTNAME_EXAMPLE = (
    "\n# # A static hostname to set for the machine.\n"
    "# hostname: controlplane1\n"
    "# hostname: controlplane1.example.org\n"
)


def render(documents: list[dict[str, Any]], *, docs: bool, examples: bool) -> str:
    """Serialise generated documents, with the generator's comments when asked."""
    if not docs and not examples:
        return yamlio.dump_all(documents)
    parts = []
    for document in documents:
        document = copy.deepcopy(document)
        machine_type = (document.get("machine") or {}).get("type")
        if "cluster" in document and machine_type == "controlplane":
            document["cluster"].setdefault("extraManifests", [])
            document["cluster"].setdefault("inlineManifests", [])
        text = yamlio.dump(document)
        if docs:
            text = _annotate(text)
        if examples and document.get("kind") == "HostnameConfig":
            text += _HOSTNAME_EXAMPLE
        parts.append(text)
    return "---\n".join(parts)


def _annotate(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = re.match(r"^( *)([A-Za-z][\w./-]*):(.*)$", line)
        if not match or line.lstrip().startswith("- "):
            out.append(line)
            continue
        indent, key, rest = len(match[1]), match[2], match[3]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([*(k for _, k in stack), key])
        stack.append((indent, key))
        doc = _DOCS.get(path)
        if doc is None:
            out.append(line)
        elif (rest.strip() and rest.strip() not in ("{}", "[]")) or path == "auto":
            out.append(f"{line} # {doc}")
        else:
            out.append(f"{match[1]}# {doc}")
            out.append(line)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------
# Patches


class PatchSpec:
    def __init__(self, source: str, documents: list[Any], json6902: bool) -> None:
        self.source = source
        self.documents = documents
        self.json6902 = json6902


def load_patch(spec: str) -> PatchSpec:
    """``@file``, a bare file path, or inline YAML/JSON (talosctl's patch argument rules)."""
    if spec.startswith("@"):
        path: str | None = spec[1:]
    elif not re.search(r"\s", spec) and not spec.startswith(("[", "{")):
        path = spec
    else:
        path = None
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CLIError(f"open {path}: {_os_reason(exc)}") from None
    else:
        text = spec
    try:
        documents = yamlio.load_all(text)
    except Exception as exc:
        raise CLIError(f"failed to parse patch: {exc}") from None
    if not documents:
        return PatchSpec(spec, [], True)  # an empty patch reads as a JSON patch
    if len(documents) == 1 and isinstance(documents[0], list):
        return PatchSpec(spec, documents[0], True)
    if not all(isinstance(doc, dict) for doc in documents):
        raise CLIError("failed to parse patch: strategic merge patch must be a mapping")
    return PatchSpec(spec, documents, False)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise CLIError(f'JSON pointer must be empty or start with a "/": {path}')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _walk(document: Any, parts: list[str], op: str, path: str) -> Any:
    """The value at ``parts`` (a parsed JSON pointer) in ``document``, or talosctl's error."""
    node = document
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise CLIError(f"error in {op} for path: '{path}': doc is missing path: "
                           f"\"{path}\": missing value")
    return node


def _parent(document: Any, parts: list[str], op: str, path: str) -> tuple[Any, str]:
    return _walk(document, parts[:-1], op, path), parts[-1]


def json_patch(document: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """RFC 6902 (add, remove, replace, move, copy, test) on one document."""
    result: Any = copy.deepcopy(document)

    def get(path: str, op: str) -> Any:
        return _walk(result, _pointer(path), op, path)

    def remove(path: str, op: str) -> Any:
        parent, key = _parent(result, _pointer(path), op, path)
        if isinstance(parent, dict) and key in parent:
            return parent.pop(key)
        if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
            return parent.pop(int(key))
        raise CLIError(f"error in {op} for path: '{path}': Unable to remove nonexistent key: "
                       f"{key}: missing value")

    def add(path: str, value: Any, op: str, replace: bool = False) -> None:
        nonlocal result
        parts = _pointer(path)
        if not parts:
            result = value
            return
        parent, key = _parent(result, parts, op, path)
        if isinstance(parent, dict):
            if replace and key not in parent:
                raise CLIError(f"error in {op} for path: '{path}': doc is missing key: "
                               f"{path}: missing value")
            parent[key] = value
        elif isinstance(parent, list):
            index = len(parent) if key == "-" else int(key) if key.isdigit() else -1
            if not 0 <= index <= len(parent) - (1 if replace else 0):
                raise CLIError(f"error in {op} for path: '{path}': index out of bounds")
            if replace:
                parent[index] = value
            else:
                parent.insert(index, value)
        else:
            raise CLIError(f"error in {op} for path: '{path}': doc is missing path: "
                           f"\"{path}\": missing value")

    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise CLIError("failed to parse patch: JSON patch operation is missing \"op\"")
        op, path = str(operation["op"]), str(operation.get("path", ""))
        if op == "add":
            add(path, copy.deepcopy(operation.get("value")), op)
        elif op == "remove":
            remove(path, op)
        elif op == "replace":
            add(path, copy.deepcopy(operation.get("value")), op, replace=True)
        elif op == "move":
            add(path, remove(str(operation.get("from", "")), op), op)
        elif op == "copy":
            add(path, copy.deepcopy(get(str(operation.get("from", "")), op)), op)
        elif op == "test":
            if get(path, op) != operation.get("value"):
                raise CLIError(f"testing value {path} failed: test failed")
        else:
            raise CLIError(f"Unexpected kind: {op}")
    if not isinstance(result, dict):
        raise CLIError("failed to decode configuration: document is not a mapping")
    return dict(result)


def _doc_key(doc: dict[str, Any]) -> tuple[str, str, str]:
    if "kind" not in doc:
        return ("v1alpha1", "", "")
    return (str(doc.get("apiVersion", "")), str(doc["kind"]), str(doc.get("name", "")))


_REPLACED_LISTS = {"podSubnets", "serviceSubnets"}


def _merge(base: Any, patch: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        result = dict(base)
        for name, value in patch.items():
            if isinstance(value, dict) and value.get("$patch") == "delete":
                result.pop(name, None)
            elif name in result:
                result[name] = _merge(result[name], value, name)
            else:
                result[name] = _strip_directives(value)
        return result
    if isinstance(base, list) and isinstance(patch, list):
        if key in _REPLACED_LISTS:
            return list(patch)
        return [*base, *patch]
    return _strip_directives(patch)


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if k != "$patch"}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def apply_patches(documents: list[dict[str, Any]], patches: list[PatchSpec],
                  context: str = "") -> list[dict[str, Any]]:
    """Strategic merge (documents matched by apiVersion/kind/name); JSON 6902 refused."""
    result = copy.deepcopy(documents)
    for patch in patches:
        if patch.json6902:
            if len(result) > 1:
                raise CLIError(f"{context}JSON6902 patches are not supported for "
                               "multi-document machine configuration")
            if result:
                result[0] = json_patch(result[0], patch.documents)
            continue
        for doc in patch.documents:
            key = _doc_key(doc)
            index = next((i for i, d in enumerate(result) if _doc_key(d) == key), None)
            if doc.get("$patch") == "delete":
                if index is not None and key[0] != "v1alpha1":
                    del result[index]
                continue
            if index is None:
                result.append(_strip_directives(doc))
            else:
                result[index] = _merge(result[index], doc)
    return result


# ---------------------------------------------------------------------------------------
# Strict decoding: kinds and fields the client knows


def knows_newer_talos(client_version: str) -> bool:
    """Whether the client is newer than v1.12, whose registry :mod:`known_fields` holds."""
    match = re.match(r"v?(\d+)\.(\d+)", client_version)
    return bool(match) and (int(match[1]), int(match[2])) > (1, 12)


def check_known(documents: list[dict[str, Any]], client_version: str) -> None:
    """Refuse what a v1.12 client's strict config loader refuses: a kind it has not
    registered (``"<kind>" "<apiVersion>": not registered``) and keys that are no field
    (``error decoding document <apiVersion>/<kind>/<name>: unknown keys found during
    decoding:`` and the offending keys as YAML). Talos: configpatcher-spec.md §3.1 steps
    4 and 5 (the document line the real error also names is left out: guessed).

    A client newer than v1.12 has the kinds and fields of its own Talos minor: it accepts
    what v1.12 does not know (guessed: the stand-in has no registry of a newer Talos).
    """
    if knows_newer_talos(client_version):
        return
    for document in documents:
        kind = document.get("kind")
        api = str(document.get("apiVersion") or "")
        if kind is None:
            known, label = known_fields.KINDS["v1alpha1"], "/v1alpha1/"
        else:
            if kind not in known_fields.KINDS:
                raise CLIError(f'"{kind}" "{api}": not registered')
            known, label = known_fields.KINDS[kind], f"{api}/{kind}/{document.get('name', '')}"
        unknown: dict[str, Any] = {
            key: value for key, value in document.items()
            if key not in known and not str(key).startswith("$")
        }
        if kind is None:
            for section, fields in known_fields.LEGACY_SECTIONS.items():
                body = document.get(section)
                if isinstance(body, dict):
                    extra = {k: v for k, v in body.items()
                             if k not in fields and not str(k).startswith("$")}
                    if extra:
                        unknown[section] = extra
        if unknown:
            raise CLIError(f"error decoding document {label}: unknown keys found during "
                           f"decoding:\n{yamlio.dump(unknown).rstrip()}")


# ---------------------------------------------------------------------------------------
# Validation


RUNTIME_MODES = ("metal", "cloud", "container", "metal-agent")


def parse(text: str) -> list[dict[str, Any]]:
    """The documents of a machine configuration; bad YAML is a one-line error."""
    try:
        documents = yamlio.load_all(text)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CLIError(f"failed to decode configuration: {first}") from None
    for doc in documents:
        if not isinstance(doc, dict):
            raise CLIError("failed to decode configuration: document is not a mapping")
    return documents


def problems(documents: list[dict[str, Any]], mode: str, *, strict: bool = False,
             requires_install: bool = True) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a machine configuration, as the config container finds them.

    The errors are the items of the container's multierror, nested as it nests them:
    # Talos: pkg/machinery/config/container/container.go:Validate
    the v1alpha1 document's own errors are one item, ``v1alpha1.Config: `` followed by
    their own multierror (``1 error occurred:`` and tab-indented items); each other
    document's error is one item prefixed with its ID (``HostnameConfig: ``); the
    cross-document conflicts come last, unprefixed.

    The texts of the individual checks are guessed from Talos's v1alpha1_validation.go and
    the HostnameConfig document (neither is in the reference): ``machine instructions are
    required``, ``cluster controlplane endpoint is required``, ``install instructions are
    required in "metal" mode``, ``either install disk or diskSelector should be defined``,
    ``unknown machine type "x"``; with ``strict`` every v1alpha1 warning becomes an error
    ``warning: ...`` and no warning is left. ``requires_install`` is false on an installed
    node (# Talos: v1alpha1_server.go:modeWrapper.RequiresInstall).
    """
    items: list[str] = []
    warnings: list[str] = []
    v1 = next((d for d in documents if "kind" not in d), None)
    hostname_doc = next((d for d in documents if d.get("kind") == "HostnameConfig"), None)
    if v1 is not None:
        v1_errors: list[str] = []
        v1_warnings: list[str] = []
        machine = v1.get("machine")
        if not isinstance(machine, dict):
            v1_errors.append("machine instructions are required")
        else:
            cluster = v1.get("cluster")
            if not isinstance(cluster, dict):
                v1_errors.append("cluster instructions are required")
            elif not (cluster.get("controlPlane") or {}).get("endpoint"):
                v1_errors.append("cluster controlplane endpoint is required")
            install = machine.get("install")
            if requires_install and mode in ("metal", "metal-agent"):
                if not isinstance(install, dict):
                    v1_errors.append(f'install instructions are required in "{mode}" mode')
                elif not (install.get("disk") or install.get("diskSelector")):
                    v1_errors.append("either install disk or diskSelector should be defined")
            if machine.get("type") not in ("controlplane", "worker", "init"):
                v1_errors.append(f'unknown machine type "{_go_text(machine.get("type", ""))}"')
            if (machine.get("network") or {}).get("hostname"):
                v1_warnings.append(".machine.network.hostname is deprecated, please use "
                                   "HostnameConfig document instead")  # guessed
        if strict:
            v1_errors += [f"warning: {w}" for w in v1_warnings]
        else:
            warnings += v1_warnings
        if v1_errors:
            items.append("v1alpha1.Config: " + multierror(v1_errors))
    if hostname_doc is not None:
        # guessed texts: the HostnameConfig validation is not in the reference
        auto = hostname_doc.get("auto")
        name = hostname_doc.get("hostname")
        problem = None
        if "auto" in hostname_doc and auto not in ("stable", "off"):
            shown = "" if auto is None else _go_text(auto)
            problem = f"{shown} does not belong to AutoHostnameKind values"
        elif auto == "stable" and name:
            problem = "'auto' and 'hostname' cannot be set at the same time"
        elif auto in (None, "off") and not name:
            problem = "either 'auto' or 'hostname' must be set"
        if problem:
            items.append(f"HostnameConfig: {problem}")
        if v1 is not None and ((v1.get("machine") or {}).get("network") or {}).get("hostname"):
            # guessed text; unprefixed as container.go appends conflict errors
            items.append("static hostname is already set in v1alpha1 config")
    return items, warnings


def _go_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def multierror(errors: list[str]) -> str:
    head = "1 error occurred:" if len(errors) == 1 else f"{len(errors)} errors occurred:"
    return head + "\n" + "".join(f"\t* {e}\n" for e in errors) + "\n"


def hostname_of(documents: list[dict[str, Any]]) -> str | None:
    for doc in documents:
        if doc.get("kind") == "HostnameConfig" and doc.get("hostname"):
            return str(doc["hostname"])
    for doc in documents:
        if "kind" not in doc:
            name = ((doc.get("machine") or {}).get("network") or {}).get("hostname")
            if name:
                return str(name)
    return None


def v1alpha1(documents: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((d for d in documents if "kind" not in d and d.get("version") == "v1alpha1"),
                None)


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """``os.WriteFile``: creates with ``mode`` (before umask), keeps an existing mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    except OSError as exc:
        raise CLIError(f"open {path}: {_os_reason(exc)}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
