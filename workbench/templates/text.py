"""The exploded project as YAML text: the tree's structure, the sources' comments and spelling.

The exploded data are plain values (YAML 1.1, as snapcraft reads them). For text, each value is
written as its source wrote it: a scalar that comes unchanged from the project or a template is
its round-trip node (``0660`` stays ``0660``, ``yes`` stays ``yes``, quotes are kept), and a
container gets the comments and flow style of the source container it came from. The round trips
are parsed here, on first use, never by explode itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from workbench.templates.provenance import Origin, Tree


def round_trip(tree: Tree) -> Any:
    """``tree.data`` as ruamel round-trip data, dressed with its sources' comments and spelling."""
    return _dress(tree, tree.data, tree.root)


def _dress(tree: Tree, node: Any, origin: Origin | None) -> Any:
    found, source = origin.round_trip_node() if origin is not None else (False, None)
    if isinstance(node, Mapping):
        mapping = CommentedMap()
        for key, value in node.items():
            child = tree.origin(node, key)
            mapping[key] = _dress(tree, value, child)
            _comment(mapping, key, source, origin, child)
        return _styled(mapping, source)
    if isinstance(node, list):
        seq = CommentedSeq()
        for index, value in enumerate(node):
            child = tree.origin(node, index)
            seq.append(_dress(tree, value, child))
            _comment(seq, index, source, origin, child)
        return _styled(seq, source)
    if found and not isinstance(source, Mapping | list):
        return source
    return node


def _comment(out: Any, key: Any, source: Any, parent: Origin | None, child: Origin) -> None:
    """Give ``out[key]`` the comment its element had in ``source``, when it came from there."""
    comments = getattr(source, "ca", None)
    if comments is None or parent is None or not child.source_path:
        return
    if child.source is not parent.source or child.source_path[:-1] != parent.source_path:
        return
    original = child.source_path[-1]
    if original in comments.items:
        out.ca.items[key] = comments.items[original]


def _styled(out: Any, source: Any) -> Any:
    """``out`` with the flow style and leading comment of ``source`` (a round-trip container)."""
    if isinstance(source, CommentedMap | CommentedSeq):
        if source.fa.flow_style():
            out.fa.set_flow_style()
        if source.ca.comment:
            out.ca.comment = source.ca.comment
    return out
