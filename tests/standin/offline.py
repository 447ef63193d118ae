"""Commands that never talk to a node: gen config, gen secrets, machineconfig patch,
validate, and the client half of version."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from . import machineconfig as mc
from . import process, yamlio
from .flags import CLIError, Parsed

OUTPUT_TYPES = ("controlplane", "worker", "talosconfig")


def out(text: str) -> None:
    stream = process.stdout()
    stream.write(text)
    stream.flush()


def err(text: str) -> None:
    stream = process.stderr()
    stream.write(text)
    stream.flush()


def _contract(text: str, client_version: str) -> tuple[int, int]:
    """Talos' ``ParseContractFromVersion``: a ``v`` is put in front, then
    ``^v(\\d+)\\.(\\d+)($|\\.)`` must match."""
    value = "v" + (text or client_version).removeprefix("v")
    match = re.match(r"v(\d+)\.(\d+)($|\.)", value)
    if not match:
        raise CLIError(f'invalid talos-version: error parsing version "{value}"')
    return int(match[1]), int(match[2])


def gen_config(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/mgmt/gen/config.go:NewConfigCmd, writeConfig, validateFlags,
    outputPaths, validateClusterEndpoint (the documents generated follow the v1.12 generator,
    which is not in the reference: guessed where they differ from a real output)
    ``gen config``, and ``machineconfig gen`` (the same command without its flags:
    every option keeps its default)."""
    name, endpoint = p.args
    mc.check_endpoint(endpoint)
    if p["version"] != "v1alpha1":
        raise CLIError(f'unknown config version: "{p["version"]}"')
    types = p["output-types"]
    output = p["output"]
    if not types:
        raise CLIError("at least one output type must be specified")
    if len(types) > 1 and output == "-":
        raise CLIError("can't use multiple output types with stdout")
    if p["output-dir"] and output:
        raise CLIError("can't use both output-dir and output")
    if p["output-dir"]:
        output = p["output-dir"]
    unknown = [f'invalid output type: "{kind}"' for kind in types if kind not in OUTPUT_TYPES]
    if unknown:
        raise CLIError(mc.multierror(unknown))
    for mirror in p["registry-mirror"]:
        if "=" not in mirror:
            raise CLIError(f'invalid registry mirror spec: "{mirror}"')
    contract = _contract(p["talos-version"], client_version)
    kubernetes = p["kubernetes-version"].removeprefix("v")
    tag = process.environ().get("TAG") or client_version
    image = p["install-image"] or f"ghcr.io/siderolabs/installer:{tag}"

    bundle = mc.load_bundle(p["with-secrets"]) if p["with-secrets"] else mc.new_bundle()
    opts = mc.Options(
        cluster_name=name, endpoint=endpoint, kubernetes_version=kubernetes,
        install_disk=p["install-disk"], install_image=image, dns_domain=p["dns-domain"],
        additional_sans=p["additional-sans"], persist=p["persist"],
        discovery=p["with-cluster-discovery"], kubespan=p["with-kubespan"],
        contract=contract, registry_mirrors=p["registry-mirror"],
    )
    try:
        groups = [[mc.load_patch(s) for s in p[flag]]
                  for flag in ("config-patch", "config-patch-control-plane",
                               "config-patch-worker")]
    except CLIError as exc:
        raise CLIError(f"error parsing config JSON patch: {exc.message}") from None
    err("generating PKI and tokens\n")
    documents = {role: mc.generate(role, bundle, opts) for role in ("controlplane", "worker")}
    # The bundle patches every type, then control planes, then workers; each step names
    # itself in the error.
    steps = (("configs", ("controlplane", "worker"), groups[0]),
             ("control plane configs", ("controlplane",), groups[1]),
             ("worker config", ("worker",), groups[2]))
    for where, roles, patches in steps:
        if not patches:
            continue
        for role in roles:
            try:
                documents[role] = mc.apply_patches(documents[role], patches)
            except CLIError as exc:
                raise CLIError(f"failed to generate config bundle: error patching {where}: "
                               f"{exc.message}") from None
    rendered: dict[str, str] = {
        role: mc.render(documents[role], docs=p["with-docs"], examples=p["with-examples"])
        for role in ("controlplane", "worker")
    }
    rendered["talosconfig"] = yamlio.dump(mc.talosconfig(name, bundle))

    if output == "-":
        out(rendered[types[0]])
        return
    single_file = len(types) == 1 and output != "" and not p["output-dir"]
    base = Path(output) if output else Path.cwd()
    for kind in OUTPUT_TYPES:
        if kind not in types:
            continue
        if single_file:
            shown = output  # a single file is named exactly as given, not cleaned
        else:
            shown = str(base / (kind if kind == "talosconfig" else f"{kind}.yaml"))
        path = Path(shown)
        if path.exists() and not p["force"]:
            raise CLIError(f'file "{shown}" already exists, use --force to overwrite')
        path.parent.mkdir(parents=True, exist_ok=True)
        mc.write_file(path, rendered[kind])
        err(f"Created {shown}\n")


def gen_secrets(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/mgmt/gen/secrets.go:genSecretsCmd
    The version contract is parsed first; then the bundle comes from a Kubernetes PKI
    directory, a controlplane config, or fresh; then the file is checked and written."""
    _contract(p["talos-version"], "v1.12.0")
    if p["from-kubernetes-pki"]:
        bundle = _bundle_from_pki(p["from-kubernetes-pki"], p["kubernetes-bootstrap-token"])
    elif p["from-controlplane-config"]:
        source = p["from-controlplane-config"]
        try:
            documents = mc.parse(_read(source))
        except CLIError as exc:
            raise CLIError(f"failed to load controlplane config: {exc.message}") from None
        bundle = _bundle_from_config(documents)
    else:
        bundle = mc.new_bundle()
    text = yamlio.dump(bundle)
    target = p["output-file"]
    if target == "-":
        out(text)
        return
    path = Path(target)
    if path.exists() and not p["force"]:
        raise CLIError(f'file "{target}" already exists, use --force to overwrite')
    mc.write_file(path, text, 0o600)


def _bundle_from_pki(directory: str, token: str) -> dict[str, Any]:
    """A bundle whose Kubernetes CAs and service-account key are a kubeadm PKI's."""
    import base64

    def encoded(name: str) -> str:
        try:
            raw = (Path(directory) / name).read_bytes()
        except FileNotFoundError:
            raise CLIError(f"failed to create secrets bundle: open "
                           f"{Path(directory) / name}: no such file or directory") from None
        return base64.b64encode(raw).decode()

    bundle = mc.new_bundle()
    certs = bundle["certs"]
    certs["k8s"] = {"crt": encoded("ca.crt"), "key": encoded("ca.key")}
    certs["etcd"] = {"crt": encoded("etcd/ca.crt"), "key": encoded("etcd/ca.key")}
    certs["k8saggregator"] = {"crt": encoded("front-proxy-ca.crt"),
                              "key": encoded("front-proxy-ca.key")}
    certs["k8sserviceaccount"] = {"key": encoded("sa.key")}
    if token:
        bundle["secrets"]["bootstraptoken"] = token
    return bundle


def _bundle_from_config(documents: list[dict[str, Any]]) -> dict[str, Any]:
    v1 = mc.v1alpha1(documents) or {}
    machine, cluster = v1.get("machine") or {}, v1.get("cluster") or {}
    try:
        return {
            "cluster": {"id": cluster["id"], "secret": cluster["secret"]},
            "secrets": {"bootstraptoken": cluster["token"],
                        "secretboxencryptionsecret": cluster["secretboxEncryptionSecret"]},
            "trustdinfo": {"token": machine["token"]},
            "certs": {
                "etcd": cluster["etcd"]["ca"], "k8s": cluster["ca"],
                "k8saggregator": cluster["aggregatorCA"],
                "k8sserviceaccount": {"key": cluster["serviceAccount"]["key"]},
                "os": machine["ca"],
            },
        }
    except (KeyError, TypeError) as exc:
        raise CLIError(f"failed to load secrets from config: missing {exc}") from None


def _read(path: str) -> str:
    """A file's text, failing with Go's ``open`` error text."""
    try:
        if not path:
            raise FileNotFoundError(path)
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CLIError(f"open {path}: no such file or directory") from None
    except IsADirectoryError:
        raise CLIError(f"read {path}: is a directory") from None
    except OSError as exc:
        raise CLIError(f"open {path}: {str(exc.strerror).lower()}") from None


def machineconfig_patch(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/mgmt/machineconfig/patch.go (the patch semantics are guessed from
    the configpatcher spec notes)"""
    source = p.args[0]
    text = _read(source)
    if not p["patch"]:
        result = text
    else:
        patches = [mc.load_patch(s) for s in p["patch"]]
        for patch in patches:
            if not patch.json6902:
                mc.check_known(patch.documents, client_version)
        documents = mc.parse(text)
        mc.check_known(documents, client_version)
        patched = mc.apply_patches(documents, patches)
        if patches[-1].json6902:
            # The JSON patch result is re-read by ghodss/yaml: 2-space indent, sorted keys.
            import yaml

            result = "".join(yaml.safe_dump(doc, default_flow_style=False, sort_keys=True)
                             for doc in patched)
        else:
            result = yamlio.dump_all(patched)
    if p["output"]:
        path = Path(p["output"])
        path.parent.mkdir(parents=True, exist_ok=True)
        mc.write_file(path, result)
        return
    out(result + "\n")


def validate(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """# Talos: cmd/talosctl/cmd/mgmt/validate.go:validateCmd
    The config is read first (``open ...`` errors win over a bad mode), then the mode
    is parsed, then the config validated (local checks, ``--strict`` turning warnings into
    errors); warnings are printed before the error, the error is the container's nested
    multierror (see :func:`standin.machineconfig.problems`)."""
    config = p["config"]
    text = _read(config)
    try:
        documents = mc.parse(text)
    except CLIError:
        raise
    except Exception as exc:
        raise CLIError(f"failed to decode configuration: {exc}") from None
    if not documents:
        raise CLIError("config not found")  # guessed text
    mc.check_known(documents, client_version)
    mode = p["mode"]
    if mode not in mc.RUNTIME_MODES:
        raise CLIError(f'unknown runtime mode: "{mode}"')  # guessed text (runtime.ParseMode)
    errors, warnings = mc.problems(documents, mode, strict=p["strict"])
    for warning in warnings:
        err(f"WARNING: {warning}\n")
    if errors:
        raise CLIError(mc.multierror(errors))
    out(f"{config} is valid for {mode} mode\n")


SHA = {"v1.12.4": "d4e2f1b3"}


def client_block(version: str, short: bool) -> str:
    """# Talos: cmd/talosctl/cmd/talos/version.go:versionCmd (the client block; SHA and Go version
    guessed)"""
    if short:
        return f"Client:\nTalos {version}\n"
    return (
        "Client:\n"
        f"\tTag:         {version}\n"
        f"\tSHA:         {SHA.get(version, 'undefined')}\n"
        "\tBuilt:       \n"
        "\tGo version:  go1.25.7\n"
        "\tOS/Arch:     linux/amd64\n"
    )
