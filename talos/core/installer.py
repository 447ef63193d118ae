"""Installer image references: made from a schematic ID and a Talos version, taken apart.

    installer_image(registry, id, version, form)   factory.talos.dev/installer/<id>:v1.12.4
    parse_installer_image(reference)               -> InstallerImage | None

The stock ``ghcr.io/siderolabs/installer:<version>`` is the vanilla schematic's image.
Which schematic and version a node runs is :func:`talos.core.schematic.node_installer_image`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from talos.errors import SchematicError

#: The ID of the empty schematic (``customization: {}``): the stock installer's.
VANILLA_ID = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
INSTALLER_FORMS = ("installer", "metal-installer", "metal-installer-secureboot")
STOCK_REGISTRY = "ghcr.io/siderolabs"

# Patterns are compiled on first use (re keeps them), not at import.
_FACTORY_IMAGE = (
    r"(?P<registry>[^\s/]+(?:/[^\s/]+)*?)/(?P<form>installer|[a-z0-9]+-installer(?:-secureboot)?)"
    r"/(?P<id>[0-9a-f]{64}):(?P<version>[^\s@/:]+)(?:@sha256:[0-9a-f]{64})?"
)
_STOCK_IMAGE = r"ghcr\.io/siderolabs/installer:(?P<version>[^\s@/:]+)(?:@sha256:[0-9a-f]{64})?"


@dataclass(frozen=True)
class InstallerImage:
    """An installer image reference taken apart."""

    registry: str
    form: str
    schematic_id: str
    version: str

    def __str__(self) -> str:
        if self.registry == STOCK_REGISTRY:
            return f"{STOCK_REGISTRY}/installer:{self.version}"
        return installer_image(self.registry, self.schematic_id, self.version, self.form)


def installer_image(
    registry: str, schematic_id: str, talos_version: str, form: str = "installer"
) -> str:
    """``<registry>/<form>/<schematic id>:<version>``, e.g. factory.talos.dev/installer/…"""
    if form not in INSTALLER_FORMS:
        raise SchematicError(
            f"installer form {form!r} is not one of {', '.join(INSTALLER_FORMS)}"
        )
    return f"{registry.rstrip('/')}/{form}/{schematic_id}:{talos_version}"


def parse_installer_image(reference: str) -> InstallerImage | None:
    """Take an installer reference apart; None if it is neither a factory nor stock image.

    The stock ``ghcr.io/siderolabs/installer:<version>`` is the vanilla schematic.
    """
    text = reference.strip()
    stock = re.fullmatch(_STOCK_IMAGE, text)
    if stock:
        return InstallerImage(STOCK_REGISTRY, "installer", VANILLA_ID, stock["version"])
    match = re.fullmatch(_FACTORY_IMAGE, text)
    if not match:
        return None
    return InstallerImage(match["registry"], match["form"], match["id"], match["version"])

