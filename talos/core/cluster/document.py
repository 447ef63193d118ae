"""The cluster file as YAML: plain values, and the line of every key path (for errors)."""

from __future__ import annotations

from typing import Any

import yaml

from talos.core.goyaml.reader import compose_all, one_line, safe_loader
from talos.errors import ClusterFileError

_STR_TAG = "tag:yaml.org,2002:str"


class ClusterDocument:
    """A YAML mapping turned into plain values, remembering the line of every key path."""

    def __init__(self, shown: str, value: Any, lines: dict[str, int], raw: dict[str, str]):
        self.shown = shown
        self.value = value
        self.lines = lines
        self.raw = raw

    @classmethod
    def parse(cls, text: str, shown: str) -> ClusterDocument:
        try:
            documents = list(compose_all(text, safe_loader()))
        except yaml.YAMLError as exc:
            problem = one_line(exc)
            mark = problem.problem_mark
            raise ClusterFileError(
                shown, f"malformed YAML: {problem.problem}",
                line=mark.line + 1 if mark is not None else None,
            ) from None
        if len(documents) > 1:
            raise ClusterFileError(
                shown, "holds more than one YAML document; keep one",
                line=documents[1][1].start_mark.line + 1,
            )
        if not documents:
            raise ClusterFileError(shown, "the file is empty; describe the cluster in it")
        loader, root = documents[0]
        lines: dict[str, int] = {}
        raw: dict[str, str] = {}
        value = cls._convert(loader, root, "", lines, raw, shown)
        return cls(shown, value, lines, raw)

    @classmethod
    def _convert(
        cls,
        loader: Any,
        node: yaml.Node,
        path: str,
        lines: dict[str, int],
        raw: dict[str, str],
        shown: str,
    ) -> Any:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
                    raise ClusterFileError(
                        shown, f"a key must be a plain name, not {kind}; write it as a word",
                        line=key_node.start_mark.line + 1, key=path or None,
                    )
                key = str(key_node.value)
                child = f"{path}.{key}" if path else key
                if key in result:
                    raise ClusterFileError(
                        shown, "key given twice; keep one", line=key_node.start_mark.line + 1,
                        key=child,
                    )
                lines[child] = key_node.start_mark.line + 1
                result[key] = cls._convert(loader, value_node, child, lines, raw, shown)
                lines[child] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            return [
                cls._convert(loader, item, f"{path}[{i}]", lines, raw, shown)
                for i, item in enumerate(node.value)
            ]
        raw[path] = str(node.value)
        if node.tag == _STR_TAG:
            return node.value  # what the constructor would return, without its detour
        try:
            return loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = one_line(exc)
            raise ClusterFileError(
                shown, f"malformed YAML: {problem.problem}", line=node.start_mark.line + 1,
                key=path or None,
            ) from None

    def line(self, path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rpartition(".")[0] if "." in path else ""
        return None

    def error(self, path: str, message: str) -> ClusterFileError:
        return ClusterFileError(self.shown, message, line=self.line(path), key=path or None)
