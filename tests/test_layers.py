"""The folders of ``talos/`` are its layers, and imports only go down them.

``core`` (pure) <- ``adapters`` (programs, network, files) <- ``ops`` (one capability
each) <- ``tasks`` (Invoke). ``talos.errors`` sits beside them and anyone may raise from
it. Every import counts, also the ones inside functions and under ``TYPE_CHECKING``: a
core module that reaches for an adapter at run time is as coupled as one that does at
the top. So do modules named in strings: the homes of a package's lazy exports
(``exported_on_first_use(globals(), {"talos.core.merge.loading": (...)})``) and the
name given to ``importlib.import_module`` (or ``__import__``), which must be a literal
outside the one place that imports by a name it is handed (``talos.core.lazyexports``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "talos"
ORDER = ["core", "adapters", "ops", "tasks"]
# What only the edges may do; the pure layer imports none of these.
EDGE_MODULES = {"subprocess", "sh", "httpx", "socket", "urllib.request", "invoke"}
#: The functions that import a module named by a string, and the lazy-export table maker.
IMPORTERS = {"import_module", "__import__"}
LAZY_EXPORTS = "exported_on_first_use"
#: Modules that import by a name they are handed, not one they spell.
NAMES_HANDED_IN = {"talos.core.lazyexports"}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "talos" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in ORDER else None


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append((".".join(parts), path))
    return found


def called(node: ast.Call) -> str:
    """The name of the function a call calls: ``f`` for ``f(...)`` and ``m.f(...)``."""
    function = node.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else ""


def named_in_strings(node: ast.Call, package: str) -> list[str | None]:
    """The modules a call names in strings (None for a name that is not a literal): the
    keys of a lazy-export table, the module given to an importer."""
    name = called(node)
    if name == LAZY_EXPORTS and len(node.args) > 1 and isinstance(node.args[1], ast.Dict):
        return [key.value if isinstance(key, ast.Constant) and isinstance(key.value, str)
                else None for key in node.args[1].keys]
    if name in IMPORTERS and node.args:
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            return [None]
        target = first.value
        if target.startswith("."):  # import_module(".x", __package__): from our package
            level = len(target) - len(target.lstrip("."))
            anchor = package.split(".")[: len(package.split(".")) - level + 1]
            target = ".".join([*anchor, target.lstrip(".")])
        return [target]
    return []


def imported(path: Path, module: str) -> set[str]:
    """Every module ``module`` imports or names for an import; a name that is not a
    literal (where a string names one) counts as ``"?"``."""
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            names.update(name or "?" for name in named_in_strings(node, package))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # `from talos.core import cluster` names the module cluster.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_every_module_sits_in_a_layer() -> None:
    loose = [name for name, _ in modules()
             if name not in {"talos", "talos.errors"} and layer_of(name) is None]
    assert loose == [], f"modules outside core/adapters/ops/tasks: {loose}"


@pytest.mark.parametrize(("module", "path"), modules(), ids=[name for name, _ in modules()])
def test_imports_point_down_the_layers(module: str, path: Path) -> None:
    own = layer_of(module)
    allowed = ORDER[: ORDER.index(own) + 1] if own else ["core"]
    upward = sorted(
        name for name in imported(path, module)
        if (layer := layer_of(name)) is not None and layer not in allowed
    )
    assert upward == [], f"{module} ({own or 'top'}) imports a higher layer: {upward}"


@pytest.mark.parametrize(("module", "path"), modules(), ids=[name for name, _ in modules()])
def test_a_module_imported_by_name_is_named_literally(module: str, path: Path) -> None:
    if module not in NAMES_HANDED_IN:
        assert "?" not in imported(path, module), (
            f"{module} imports a module by a name that is not a literal: spell the name, "
            "so that its layer can be checked")


@pytest.mark.parametrize(
    ("module", "path"),
    [(name, path) for name, path in modules() if layer_of(name) == "core"],
    ids=[name for name, _ in modules() if layer_of(name) == "core"],
)
def test_the_core_runs_no_program_and_opens_no_socket(module: str, path: Path) -> None:
    edges = sorted(name for name in imported(path, module)
                   if name.split(".")[0] in EDGE_MODULES or name in EDGE_MODULES)
    assert edges == [], f"{module} is in the pure layer but imports {edges}"


def test_the_checks_see_an_upward_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from talos.adapters.talosctl import Talosctl\n"
                      "    from ..ops import genconfig\n    import subprocess\n")
    found = imported(sample, "talos.core.sample")
    assert {"talos.adapters.talosctl", "talos.ops.genconfig", "subprocess"} <= found
    assert layer_of("talos.adapters.talosctl") == "adapters"


def test_the_checks_see_modules_named_in_strings(tmp_path: Path) -> None:
    sample = tmp_path / "__init__.py"
    sample.write_text(
        "import importlib\n"
        "__getattr__ = exported_on_first_use(globals(), {\n"
        "    'talos.ops.apply': ('apply',), 'talos.core.sample.model': ('Model',)})\n"
        "def f(name):\n"
        "    importlib.import_module('talos.tasks.nodes')\n"
        "    importlib.import_module('...adapters.sops', __package__)\n"
        "    __import__('talos.ops.status')\n"
        "    return importlib.import_module(name)\n")
    found = imported(sample, "talos.core.sample")
    assert {"talos.ops.apply", "talos.core.sample.model", "talos.tasks.nodes",
            "talos.adapters.sops", "talos.ops.status", "?"} <= found
