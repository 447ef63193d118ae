"""Which Talos and Kubernetes versions go together, as data (pure).

The rules of each Talos minor this project supports, as the Talos compatibility package
states them (``pkg/machinery/compatibility/talos1NN/talos1NN.go`` of the Talos source; 1.11
and 1.12 are in the shared reference, 1.10 is the same package at its release):

- a node can be upgraded to Talos 1.NN from ``min_host`` (inclusive) up to
  ``max_host_downgrade`` (exclusive; downgrades from newer minors are refused), except
  the ``denied`` versions (``UpgradeableFrom``);
- Talos 1.NN runs Kubernetes from ``min_kubernetes`` up to the minor of
  ``max_kubernetes`` (``SupportedWith``: the maximum is ``1.NN.99``, compared with
  ``>=``, so ``1.35.99`` allows every 1.35 patch before .99).

Versions compare by major, minor and patch; a pre-release suffix is ignored, as there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from talos.errors import UsageError

Version = tuple[int, int, int]


@dataclass(frozen=True)
class Rules:
    min_host: Version
    max_host_downgrade: Version
    min_kubernetes: Version
    max_kubernetes: Version
    denied: tuple[Version, ...] = ()


RULES: dict[tuple[int, int], Rules] = {
    (1, 10): Rules((1, 8, 0), (1, 12, 0), (1, 28, 0), (1, 33, 99)),
    (1, 11): Rules((1, 9, 0), (1, 13, 0), (1, 29, 0), (1, 34, 99)),
    (1, 12): Rules((1, 10, 0), (1, 14, 0), (1, 30, 0), (1, 35, 99)),
}

_VERSION = r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+].*)?$"  # compiled on first use (re keeps it)


def parse(text: str) -> Version:
    match = re.match(_VERSION, text.strip())
    if not match:
        raise UsageError(f"{text!r} is not a version like v1.12.4")
    return int(match[1]), int(match[2]), int(match[3] or 0)


def shown(version: Version) -> str:
    return "v" + ".".join(str(part) for part in version)


def rules_for(target: str) -> Rules:
    major, minor, _ = parse(target)
    rules = RULES.get((major, minor))
    if rules is None:
        supported = ", ".join(f"{a}.{b}" for a, b in RULES)
        raise UsageError(f"Talos {target} is not a version this tool knows the upgrade rules "
                         f"of (it knows {supported}); update talos-tasks")
    return rules


def upgrade_problem(running: str, target: str) -> str | None:
    """Why a node running ``running`` cannot be upgraded to ``target``, or None."""
    if parse(running) == parse(target):
        return None
    rules = rules_for(target)
    host = parse(running)
    major, minor, _ = parse(target)
    if host < rules.min_host:
        return (f"Talos {running} is too old to upgrade to {target}: Talos {major}.{minor} "
                f"upgrades from {shown(rules.min_host)} or newer; upgrade it to an "
                "intermediate minor first")
    if host >= rules.max_host_downgrade:
        return (f"Talos {running} is too new to downgrade to {target} (allowed from "
                f"{shown(rules.min_host)} to below {shown(rules.max_host_downgrade)})")
    if host in rules.denied:
        return f"Talos {running} is denied for upgrade to {target}"
    return None


def kubernetes_problem(kubernetes: str, talos: str) -> str | None:
    """Why Kubernetes ``kubernetes`` cannot run on Talos ``talos``, or None."""
    rules = rules_for(talos)
    version = parse(kubernetes)
    top = f"{rules.max_kubernetes[0]}.{rules.max_kubernetes[1]}.x"
    allowed = f"Talos {talos} supports Kubernetes {shown(rules.min_kubernetes)} to {top}"
    if version < rules.min_kubernetes:
        return f"Kubernetes {kubernetes} is too old for Talos {talos}: {allowed}"
    if version >= rules.max_kubernetes:
        return f"Kubernetes {kubernetes} is too new for Talos {talos}: {allowed}"
    return None


def client_problem(client: str, target: str) -> str | None:
    """talosctl should be of the target's minor: it generates configs and installer
    defaults for its own contract."""
    if parse(client)[:2] == parse(target)[:2]:
        return None
    major, minor, _ = parse(target)
    return (f"talosctl is {client}, the cluster's Talos is {target}: use talosctl "
            f"v{major}.{minor}.x (point TALOSCTL at it)")
