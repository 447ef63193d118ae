"""The declarative cluster model: load and validate the cluster file, query its nodes.

Pure: reads the cluster file it is given and checks that the files it names exist;
runs nothing. Every problem is a :class:`ClusterFileError` naming the file, the line
and key path where known, and what to do.

The file (``cluster.yaml``)::

    name: pitower
    endpoint: https://192.168.0.200:6443
    talosVersion: v1.12.4
    kubernetesVersion: v1.35.0
    secrets: secrets.sops.yaml
    installer: {registry: factory.talos.dev, form: installer}
    schematics: {amd: extensions/amd.yaml, rpi: {file: extensions/rpi.yaml, arch: arm64}}
    patches: {all: [patches/general.patch], controlplane: [...], worker: [...]}
    nodes:
      - {name: worker-01, role: controlplane, ip: 192.168.0.201, schematic: amd}

One module per idea (the names here load their modules on first use, so the model
alone does not load the YAML reader):

    model.py      Cluster, Node, SchematicRef, Installer and their queries
    document.py   the file as YAML: plain values and the line of every key path
    reader.py     load_cluster_file, parse_cluster: the checks, field by field
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from talos.core.lazyexports import exported_on_first_use

if TYPE_CHECKING:
    from talos.core.cluster.model import ARCHES as ARCHES
    from talos.core.cluster.model import DEFAULT_FACTORY_URL as DEFAULT_FACTORY_URL
    from talos.core.cluster.model import DEFAULT_REGISTRY as DEFAULT_REGISTRY
    from talos.core.cluster.model import NODE_PATCH_DIR as NODE_PATCH_DIR
    from talos.core.cluster.model import OUTPUT_DIR as OUTPUT_DIR
    from talos.core.cluster.model import ROLES as ROLES
    from talos.core.cluster.model import Cluster as Cluster
    from talos.core.cluster.model import Installer as Installer
    from talos.core.cluster.model import Node as Node
    from talos.core.cluster.model import SchematicRef as SchematicRef
    from talos.core.cluster.reader import load_cluster_file as load_cluster_file
    from talos.core.cluster.reader import parse_cluster as parse_cluster
else:  # type checkers see the names above, and an unknown one is an error there
    __getattr__ = exported_on_first_use(globals(), {
        "talos.core.cluster.model": (
            "ARCHES", "DEFAULT_FACTORY_URL", "DEFAULT_REGISTRY", "NODE_PATCH_DIR", "OUTPUT_DIR",
            "ROLES", "Cluster", "Installer", "Node", "SchematicRef",
        ),
        "talos.core.cluster.reader": ("load_cluster_file", "parse_cluster"),
    })
