"""The README's map of ``talos/`` matches the tree: every module is listed, with a line
on what it is for, and nothing listed is gone."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# A map line: indentation, a name ending in .py or /, then what it is for.
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.]+(?:\.py|/))(?:\s+(?P<purpose>\S.*))?$")


def map_block() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^### Layout\n.*?^```text\n(?P<body>.*?)^```", text, re.M | re.S)
    assert match, "README.md has no '### Layout' section with a ```text block"
    return match.group("body").splitlines()


def listed(lines: list[str]) -> dict[str, str]:
    """Relative paths in the map (folders end with /), each with its purpose."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in lines:
        entry = ENTRY.match(line)
        if not entry:
            continue
        depth = len(entry["indent"])
        while stack and stack[-1][0] >= depth:
            stack.pop()
        path = "".join(name for _, name in stack) + entry["name"]
        found[path] = entry["purpose"] or ""
        if path.endswith("/"):
            stack.append((depth, entry["name"]))
    return found


def in_tree() -> set[str]:
    paths = set()
    for path in (REPO / "talos").rglob("*.py"):
        rel = path.relative_to(REPO).as_posix()
        if path.name != "__init__.py":
            paths.add(rel)
        for parent in path.relative_to(REPO).parents:
            if parent.as_posix() != ".":
                paths.add(parent.as_posix() + "/")
    return paths


def test_every_module_is_on_the_map_and_every_entry_exists() -> None:
    shown = {path for path in listed(map_block()) if path.startswith("talos/")}
    tree = in_tree()
    assert sorted(tree - shown) == [], "modules missing from the README's map"
    assert sorted(shown - tree) == [], "the README's map lists what is not in talos/"


def test_each_module_says_what_it_is_for() -> None:
    bare = [path for path, purpose in listed(map_block()).items()
            if path.startswith("talos/") and path.endswith(".py") and not purpose]
    assert bare == []


def test_the_map_reader_nests_by_indentation() -> None:
    lines = ["talos/            the package", "  core/           pure",
             "    cluster.py    the model", "  errors.py       the tree"]
    assert listed(lines) == {"talos/": "the package", "talos/core/": "pure",
                             "talos/core/cluster.py": "the model",
                             "talos/errors.py": "the tree"}
