"""The cluster's addons (addons/) and `inv addons`: kustomize build piped into kubectl apply."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from talos.cluster import load_cluster_file

REPO = Path(__file__).resolve().parents[1]
ADDONS = REPO / "addons"


def test_the_csr_approver_accepts_every_hostname_of_the_cluster_file_and_no_other() -> None:
    values = yaml.safe_load((ADDONS / "kubelet-csr-approver" / "values.yaml").read_text())
    pattern = re.compile(values["providerRegex"])
    cluster = load_cluster_file(REPO / "cluster.yaml")
    for node in cluster.nodes:
        assert pattern.search(node.hostname), f"{node.hostname} would get no serving certificate"
    for stranger in ("master-01", "worker-1", "worker-07.evil.example", "xworker-01", ""):
        assert not pattern.search(stranger), stranger


def test_the_addons_name_this_cluster() -> None:
    cilium = yaml.safe_load((ADDONS / "cni" / "values.yaml").read_text())
    cluster = load_cluster_file(REPO / "cluster.yaml")
    assert cilium["cluster"]["name"] == cluster.name
    # Cilium replaces kube-proxy, which patches/general.patch disables
    assert cilium["kubeProxyReplacement"] is True
    root = yaml.safe_load((ADDONS / "kustomization.yaml").read_text())
    assert sorted(root["resources"]) == ["cni", "kubelet-csr-approver"]
