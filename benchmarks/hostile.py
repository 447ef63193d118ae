"""How fast hostile YAML is refused, in every input the tool reads (a measurement).

For the cluster file, a patch, a schematic, the decrypted secrets bundle and talosctl's
output, times the refusal of an alias bomb ("billion laughs", which go-yaml refuses at
once), text over the 10 MiB limit and a NUL byte, with libyaml and with PyYAML's pure
Python, and prints the one line each ends with. Goal: each well under a second.

    python benchmarks/hostile.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from talos.core.cluster import load_cluster_file  # noqa: E402
from talos.core.goyaml import reader  # noqa: E402
from talos.core.merge import load_patch, parse_config  # noqa: E402
from talos.core.schematic import load_schematic  # noqa: E402
from talos.errors import TalosError  # noqa: E402
from talos.ops.genconfig import fill_talosconfig  # noqa: E402
from talos.ops.secrets import bundle_values  # noqa: E402

CLUSTER = """\
name: lab
endpoint: https://10.0.0.10:6443
talosVersion: v1.12.4
kubernetesVersion: v1.35.0
secrets: secrets.sops.yaml
schematics: {base: ext.yaml}
nodes:
  - {name: cp-1, role: controlplane, ip: 10.0.0.11, schematic: base}
"""


def laughs(levels: int = 12, width: int = 10) -> str:
    lines = ["lol0: &lol0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def cases() -> dict[str, str]:
    return {
        "alias bomb": laughs(),
        "11 MiB": "a: b\n" + "#" * (11 * 1024 * 1024) + "\n",
        "NUL byte": "a: b\nc: d\x00\n",
    }


def inputs(folder: Path) -> dict[str, Callable[[str], object]]:
    (folder / "ext.yaml").write_text("customization: {}\n")

    def cluster(text: str) -> object:
        path = folder / "cluster.yaml"
        path.write_text(CLUSTER + text if "lol0" in text else text)
        return load_cluster_file(path)

    def patch(text: str) -> object:
        (folder / "hostile.patch").write_text(text)
        return load_patch("@hostile.patch", base_dir=folder)

    def schematic(text: str) -> object:
        (folder / "hostile.yaml").write_text(text)
        return load_schematic(folder / "hostile.yaml", "hostile.yaml")

    def talosconfig(text: str) -> object:
        return fill_talosconfig(text, None)  # type: ignore[arg-type]

    return {
        "cluster file": cluster,
        "patch": patch,
        "schematic": schematic,
        "secrets bundle": lambda text: bundle_values(text, "secrets.sops.yaml"),
        "talosctl gen config": lambda text: parse_config(text, "talosctl gen config (worker.yaml)"),
        "talosctl talosconfig": talosconfig,
    }


def main() -> None:
    backends = [True, False] if reader.LIBYAML else [False]
    slowest = 0.0
    with tempfile.TemporaryDirectory() as work:
        for libyaml in backends:
            reader.LIBYAML = libyaml
            print(f"-- {'libyaml' if libyaml else 'pure Python'}")
            for name, load in inputs(Path(work)).items():
                for case, text in cases().items():
                    start = time.perf_counter()
                    try:
                        load(text)
                        outcome = "ACCEPTED"
                    except TalosError as exc:
                        outcome = str(exc)
                    seconds = time.perf_counter() - start
                    slowest = max(slowest, seconds)
                    lines = "one line" if "\n" not in outcome else "SEVERAL LINES"
                    print(f"{name:>21}  {case:<10} {seconds * 1000:7.1f} ms  {lines}: "
                          f"{outcome[:90]}")
    print(f"slowest refusal: {slowest * 1000:.1f} ms")


if __name__ == "__main__":
    main()
