"""The exploded project as YAML text: the tree's structure, the sources' comments and spelling.

The exploded data are plain values (YAML 1.1, as snapcraft reads them). :func:`to_yaml` splices
the text: what comes unchanged from the project is its own text (keys, values, comments, blank
lines and spelling: ``0660`` stays ``0660``, ``yes`` stays ``yes``), cut out of the source at the
libyaml node marks, and what a template added or a merge changed is written by PyYAML's C emitter
and put in at the indentation of its place. A document the splice cannot cover (anchors and
aliases, a flow mapping or a flow list with containers that a template changed, keys that do not
start their line) is written from the ruamel round trip instead (:func:`round_trip`), which is then
parsed here, on first use, never by explode itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from workbench.templates.provenance import Origin, Tree
from workbench.yamlpos import Document, dump

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s,\]}&]")  # an anchor (or a lookalike in a string)
_ITEM = re.compile(r"^- ", re.MULTILINE)
_DASH = re.compile(r" *- +")
_FLOW_SAFE = re.compile(r"[\w/$.-][\w/.$@=+-]*")
_STR = "tag:yaml.org,2002:str"
_LAST = "\0"  # a last key that makes the emitter write an entry as a block mapping
_Path = tuple[str | int, ...]
_RESOLVER: Any = yaml.resolver.Resolver()


def to_yaml(tree: Tree) -> str:
    """``tree.data`` as YAML text keeping the project's own text (comments, spelling, order)."""
    try:
        return _Splice(tree).text()
    except _Unsupported:
        return dump(round_trip(tree))


class _Unsupported(Exception):
    """The splice does not cover this document: the round trip writes it."""


class _Splice:
    """Chunks of output: source slices, and template values written in one C emitter run."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.chunks: list[str | tuple[int, str, str]] = []  # pending value, first, next lines
        self.pending: list[Any] = []
        self.pristine: dict[int, bool] = {}

    def text(self) -> str:
        root = self.tree.data
        mirror = self.tree.mirror(root)
        if mirror is None or mirror[0].text is None:
            raise _Unsupported
        doc, _ = mirror
        node = doc.root
        if not isinstance(node, yaml.MappingNode) or node.flow_style or not node.value:
            raise _Unsupported
        assert doc.text is not None
        self.chunks.append(doc.text[: node.value[0][0].start_mark.index])
        self.mapping(root, doc, (), node, "")
        text = self.join()
        if _ANCHOR.search(doc.text):  # an alias written before its anchor, or without it?
            try:
                if yaml.load(text, Loader=_LOADER) != root:
                    raise _Unsupported
            except yaml.YAMLError:
                raise _Unsupported from None
        return text

    def join(self) -> str:
        pieces: list[str] = []
        if self.pending:
            written = yaml.dump(
                [*self.pending, {}],  # a mapping among the items: a block list
                Dumper=_DUMPER,
                sort_keys=False,
                allow_unicode=True,
                width=4096,
                default_flow_style=None,
            )
            pieces = [piece.replace("\n  ", "\n") for piece in _ITEM.split(written)[1:]]
        out: list[str] = []
        for chunk in self.chunks:
            if isinstance(chunk, str):
                out.append(chunk)
                continue
            at, first, indent = chunk
            piece = pieces[at].rstrip("\n")
            if isinstance(self.pending[at], dict) and _LAST in self.pending[at]:  # an entry
                piece = piece.rsplit("\n", 1)[0]
            out.append(first + piece.replace("\n", "\n" + indent) + "\n")
        text = "".join(out)
        return text if text.endswith("\n") else text + "\n"

    def written(self, value: Any, first: str, indent: str) -> None:
        """``value`` (a one-entry mapping, or a list item) by the C emitter, its first line after
        ``first`` and the others indented by ``indent``."""
        self.chunks.append((len(self.pending), first, indent))
        self.pending.append(value)

    def is_pristine(self, value: Any) -> bool:
        """True for a scalar, or a container copied from its source and never edited since."""
        if not isinstance(value, dict | list):
            return True
        known = self.pristine.get(id(value))
        if known is None:
            children = value.values() if isinstance(value, dict) else value
            known = (
                self.tree.mirror(value) is not None
                and not self.tree.edited(value)
                and all(self.is_pristine(child) for child in children)
            )
            self.pristine[id(value)] = known
        return known

    def mapping(
        self,
        data: dict[Any, Any],
        doc: Document,
        path: _Path,
        node: Any,
        first: str,
    ) -> None:
        """A block mapping of ``doc`` at ``path`` (``node``), as edited into ``data``; ``first``
        is what already stands before its first key on the line (``"- "`` in a list)."""
        assert doc.text is not None
        text, pairs, keys = doc.text, node.value, doc.keys(node)
        begin = node.start_mark.index
        # A merge (``<<: *anchor``) is flattened into the node by the loader: the merged pairs'
        # marks lie in the anchor, outside this mapping. Its own pairs are the others; the merge
        # lines stay in the text between them, and merged keys come back through them.
        own = [at for at, (key, _) in enumerate(pairs) if key.start_mark.index >= begin]
        if not own:
            raise _Unsupported
        col, after = pairs[own[0]][0].start_mark.column, begin
        for at in own:
            mark = pairs[at][0].start_mark
            if mark.index < after:
                raise _Unsupported  # keys out of order
            if (at != own[0] or not first) and text[_line(text, mark.index) : mark.index].strip():
                raise _Unsupported  # a key that does not start its line
            after = mark.index + 1
        lead = first
        merged = {str(pairs[at][0].value) for at in range(len(pairs)) if at not in own}
        # a merged key explode removed (an app's `extensions`): write the merged keys out
        expand = not merged <= {str(key) for key in data}
        if pairs[own[0]][0].start_mark.index > begin and not expand:  # merge lines come first
            lead = first or " " * node.start_mark.column
            self.chunks.append(lead + text[begin : _line(text, pairs[own[0]][0].start_mark.index)])
            lead = ""
        following_own = dict(zip(own, [*own[1:], None], strict=True))
        for key, value in data.items():
            origin = self.tree.origin(data, key)
            found = keys.get(str(key)) if self._from(origin, doc, path) else None
            if found is not None and found not in following_own:  # a merged key
                if self.is_pristine(value) and not expand:
                    continue  # it comes back through the merge line (checked by the reload)
                found = None  # written as a key of its own (which wins over <<)
            indent, lead = lead or " " * col, ""
            if found is None:
                self.written({key: value, _LAST: {}}, indent, " " * col)
                continue
            key_node, value_node = pairs[found]
            start = key_node.start_mark.index
            next_own = following_own[found]
            following = pairs[next_own][0] if next_own is not None else None
            end = _cut(text, following.start_mark.index if following else None, node)
            self.chunks.append(indent)
            if self.is_pristine(value):
                own_text = text[start:end]
                if expand:  # the merge lines go: their keys are written out
                    own_text = re.sub(rf"(?m)^ {{{col}}}<<[ \t]*:[^\n]*\n", "", own_text)
                self.chunks.append(own_text)
            else:
                self.value(value, doc, (*path, str(key)), value_node, (start, end))

    def value(
        self, data: Any, doc: Document, path: _Path, node: Any, span: tuple[int, int]
    ) -> None:
        """An edited container at ``path`` whose text is ``doc.text[start:end]`` (``span``): the
        text before it, itself, the text after it."""
        assert doc.text is not None
        text, (start, end) = doc.text, span
        if self.tree.mirror(data) != (doc, path) or not start <= node.start_mark.index < end:
            raise _Unsupported  # not this document's node, or an alias
        if isinstance(node, yaml.SequenceNode) and node.flow_style:
            self.chunks.append(text[start : node.start_mark.index])
            self.chunks.append(self.flow(data, doc, path, node))
            self.chunks.append(text[node.end_mark.index : end])
        elif isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
            self.chunks.append(text[start : _line(text, node.start_mark.index)])
            self.mapping(data, doc, path, node, "")
        elif isinstance(node, yaml.SequenceNode) and node.value:
            self.chunks.append(text[start : _line(text, node.start_mark.index)])
            self.sequence(data, doc, path, node)
        else:
            raise _Unsupported

    def sequence(self, data: list[Any], doc: Document, path: _Path, node: Any) -> None:
        """A block list of ``doc`` at ``path``, as edited into ``data``."""
        assert doc.text is not None
        text, items = doc.text, node.value
        starts = [_line(text, item.start_mark.index) for item in items]
        after = _line(text, node.start_mark.index)
        for item, line in zip(items, starts, strict=True):
            if line < after or not _DASH.fullmatch(text, line, item.start_mark.index):
                raise _Unsupported  # an alias, or not one item per line
            after = item.start_mark.index + 1
        col = text.index("-", starts[0]) - starts[0]
        for index, value in enumerate(data):
            origin = self.tree.origin(data, index)
            at = origin.source_path[-1] if self._from(origin, doc, path) else None
            if not isinstance(at, int) or not 0 <= at < len(items):
                self.written(value, " " * col + "- ", " " * (col + 2))
                continue
            end = _cut(text, starts[at + 1] if at + 1 < len(items) else None, node)
            if self.is_pristine(value):
                self.chunks.append(text[starts[at] : end])
                continue
            item = items[at]
            prefix = text[starts[at] : item.start_mark.index]
            if isinstance(item, yaml.MappingNode) and not item.flow_style and item.value:
                self.mapping(value, doc, (*path, at), item, prefix)
            else:
                self.value(value, doc, (*path, at), item, (starts[at], end))

    def flow(self, data: list[Any], doc: Document, path: _Path, node: Any) -> str:
        """An edited flow list of scalars: the source's items as written, the others plain."""
        assert doc.text is not None
        items = []
        for index, value in enumerate(data):
            origin = self.tree.origin(data, index)
            at = origin.source_path[-1] if self._from(origin, doc, path) else None
            if isinstance(at, int) and 0 <= at < len(node.value) and self.is_pristine(value):
                item = node.value[at]
                items.append(doc.text[item.start_mark.index : item.end_mark.index])
            elif isinstance(value, str) and _plain(value):
                items.append(value)
            elif isinstance(value, str) and value.isascii() and value.isprintable():
                items.append(json.dumps(value))  # a JSON string is a YAML double-quoted one
            else:
                raise _Unsupported
        return "[" + ", ".join(items) + "]"

    @staticmethod
    def _from(origin: Origin, doc: Document, path: _Path) -> bool:
        """True when ``origin`` is an element of the node at ``path`` of ``doc``."""
        return origin.source is doc and origin.source_path[:-1] == path


def _line(text: str, index: int) -> int:
    """The start of the line of ``text`` holding ``index``."""
    return text.rfind("\n", 0, index) + 1


def _cut(text: str, index: int | None, node: Any) -> int:
    """Where the text of an element ends: the start of the line of ``index`` (the next element),
    or of the end of ``node`` when it is the last (its end itself when text precedes it there)."""
    end = node.end_mark.index if index is None else index
    line = _line(text, end)
    return line if not text[line:end].strip() else end


def _plain(value: str) -> bool:
    """True when ``value`` reads back as this string written plain in a flow list."""
    return bool(_FLOW_SAFE.fullmatch(value)) and (
        _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR
    )


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
