"""YAML read with line numbers kept, so errors can say file, line and problem."""
from __future__ import annotations

from pathlib import Path

import yaml


class Mapping(dict):
    """A YAML mapping that remembers the line of itself and of each key (1-based)."""
    line: int = 0
    key_lines: dict

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class Sequence(list):
    line: int = 0
    item_lines: list


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader, node):
    loader.flatten_mapping(node)
    result = Mapping()
    result.line, result.key_lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _sequence(loader, node):
    result = Sequence(loader.construct_object(child, deep=True) for child in node.value)
    result.line, result.item_lines = node.start_mark.line + 1, [c.start_mark.line + 1 for c in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
# Dates stay text (ISO strings) so the JSON Schema sees what was written.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def load(path: Path):
    with path.open() as fh:
        return yaml.load(fh, Loader=_Loader)


def line_at(document, path) -> int:
    """The line of the deepest node along a JSON-Schema style path that exists."""
    node, line = document, getattr(document, "line", 1)
    for part in path:
        if isinstance(node, Mapping) and part in node:
            line, node = node.line_of(part), node[part]
        elif isinstance(node, Sequence) and isinstance(part, int) and part < len(node):
            line, node = node.item_lines[part], node[part]
        else:
            break
    return line
