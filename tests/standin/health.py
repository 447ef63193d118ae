"""``talosctl health``: the server-side checks, judged from the simulated cluster."""

from __future__ import annotations

from typing import Any

from . import machineconfig as mc
from . import state
from .client import (
    connect,
    go_list,
    host_of,
    ip_key,
    node_problem,
)
from .flags import CLIError, Parsed
from .offline import err

CHECKS = (
    "etcd to be healthy", "etcd members to be consistent across nodes",
    "etcd members to be control plane nodes", "apid to be ready",
    "all nodes memory sizes", "all nodes disk sizes", "no diagnostics",
    "kubelet to be healthy", "all nodes to finish boot sequence", "all k8s nodes to report",
    "all control plane static pods to be running", "all control plane components to be ready",
    "all k8s nodes to report ready", "kube-proxy to report ready", "coredns to report ready",
    "all k8s nodes to report schedulable",
)


def health(p: Parsed, data: dict[str, Any], client_version: str) -> None:
    """``talosctl health`` (server side, the default), judged from the simulated cluster.

    # Talos: cmd/talosctl/cmd/talos/health.go:healthOnServer (one node only; the init
    # node is appended to the control planes; each progress message is a stderr line)
    # Talos: internal/app/machined/internal/server/v1alpha1/v1alpha1_cluster.go:HealthCheck
    # (``discovered nodes: %q`` is always the first line: the nodes given, control planes
    # then workers, or else the discovered members; each condition change is one
    # ``waiting for ...`` line)
    Guessed (pkg/cluster/check is not in the reference): the list and order of the checks,
    their texts, members discovered as control planes then workers (by address), and the
    final error of a check still failing at the deadline (``rpc error: code =
    DeadlineExceeded desc = context deadline exceeded``, no node prefix).
    # Talos: health.go:healthOnClient, clusterNodes.InitNodeInfos (``--server=false``:
    # no node needed, the init node comes first, no ``discovered nodes`` line; the checks
    # are then run as on the server, guessed)
    """
    server = p["server"]
    session = connect(p, data, client_version, single="health" if server else "",
                      need_nodes=server)
    target = session.nodes[0] if session.nodes else host_of(session.endpoints[0])
    problem = session.unreachable or (node_problem(data, target) if session.nodes else None)
    if problem:
        raise CLIError(problem)
    views = {ip: state.node_view(data, ip) for ip in data["nodes"]}
    members = sorted((ip for ip, v in views.items()
                      if v and v["member"] and not v["maintenance"]), key=ip_key)
    cps = list(p["control-plane-nodes"])
    workers = list(p["worker-nodes"])
    if p["init-node"]:
        cps = [*cps, p["init-node"]] if server else [p["init-node"], *cps]
    if not cps and not workers:
        cps = [ip for ip in members if views[ip]["role"] == "controlplane"]  # type: ignore[index]
        workers = [ip for ip in members if ip not in cps]
    if server:
        err(f"discovered nodes: {go_list(cps + workers)}\n")
    listed = cps + workers

    def failure(check: str) -> str | None:
        if check == "etcd to be healthy":
            for ip in cps:
                if node_problem(data, ip):
                    return f"etcd isn't healthy on {ip}: {node_problem(data, ip)}"
            if not any(views.get(ip) and views[ip]["bootstrapped"]  # type: ignore[index]
                       for ip in cps):
                return (f"etcd isn't healthy on {cps[0] if cps else target}: rpc error: "
                        "code = Unavailable desc = etcd is not running")
        if check == "etcd members to be control plane nodes":
            wrong = [ip for ip in cps if views.get(ip) and
                     views[ip]["role"] != "controlplane"]  # type: ignore[index]
            if wrong:
                return (f"etcd member ips {go_list(sorted(cps, key=ip_key))} are not "
                        f"subset of control plane node ips {go_list(wrong)}")
        if check == "apid to be ready":
            bad = [f"{ip}: {node_problem(data, ip)}" for ip in listed if node_problem(data, ip)]
            if bad:
                return mc.multierror(bad).rstrip("\n")
        if check == "all nodes to finish boot sequence":
            for ip in listed:
                view = views.get(ip)
                if view and view["stage"] != "running":
                    return f"node {ip} is not in running stage: {view['stage']}"
        if check == "all k8s nodes to report":
            expected = set(listed)
            actual = {ip for ip in members if not node_problem(data, ip)}
            missing = sorted(expected - actual, key=ip_key)
            extra = sorted(actual - expected, key=ip_key)
            if missing:
                return f"can't find expected node with IPs {go_list(missing)}"
            if extra:
                return f"unexpected nodes with IPs {go_list(extra)}"
        return None

    for check in CHECKS:
        err(f"waiting for {check}: ...\n")
        problem_text = failure(check)
        if problem_text:
            err(f"waiting for {check}: {problem_text}\n")
            raise CLIError("rpc error: code = DeadlineExceeded desc = context deadline "
                           "exceeded")
        err(f"waiting for {check}: OK\n")
