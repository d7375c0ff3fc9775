"""YAML with source positions: values as snapcraft reads them, positions and comments on demand.

:func:`load_file` / :func:`load_text` return a :class:`Document`. Its ``data`` comes from PyYAML's
C loader (libyaml, YAML 1.1: ``0660`` is 432, ``yes`` is true, ``1:30`` is 90), exactly what
snapcraft, snapd and Launchpad read. Positions come from the libyaml node tree kept beside the
data (:meth:`Document.locate`, :meth:`Document.node`); the ruamel.yaml round trip that keeps
comments and the user's spelling is parsed only for YAML text the splice of
:mod:`workbench.templates.text` does not cover (:meth:`Document.round_trip`).

Loading refuses, with a positioned :class:`~workbench.errors.SourceError`, what would hurt later:
syntax errors, duplicate keys or anchors, non-UTF-8 bytes, files over :data:`MAX_BYTES` or that are
not regular files (FIFOs, devices), nesting deeper than :data:`MAX_DEPTH`, and alias bombs or
cycles that expand past :data:`MAX_NODES` nodes. When libyaml refuses a file, the round-trip
parser is asked too, for its more precise message and position.

Modules: :mod:`~workbench.yamlpos.load` (libyaml loading and its refusals),
:mod:`~workbench.yamlpos.limits`, :mod:`~workbench.yamlpos.document`,
:mod:`~workbench.yamlpos.positions` (key paths -> positions), :mod:`~workbench.yamlpos.roundtrip`
(ruamel parse and dump), :mod:`~workbench.yamlpos.plain` (plain values and JSON).
"""

from workbench.yamlpos.document import Document
from workbench.yamlpos.limits import MAX_BYTES, MAX_DEPTH, MAX_NODES
from workbench.yamlpos.load import load_file, load_text
from workbench.yamlpos.plain import to_json, to_plain
from workbench.yamlpos.positions import KeyPath, key_path, locate
from workbench.yamlpos.roundtrip import dump

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Document",
    "KeyPath",
    "dump",
    "key_path",
    "load_file",
    "load_text",
    "locate",
    "to_json",
    "to_plain",
]
