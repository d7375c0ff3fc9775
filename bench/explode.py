"""Explode against plain YAML loading: a generated 200-part project with 5 templates.

Measured side by side in one run, round after round (each case called again and again for a time
budget, the cases taking turns): ``explode`` of the YAML text (its ruamel round-trip load
included), the ruamel round-trip load alone, and a plain PyYAML ``safe_load`` (C loader when
available) of the same text. Rows: milliseconds per call, explode against each load.

    .venv/bin/python -m bench.explode [--quick] [--json FILE]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.common import Row, against_yaml_loads, main
from workbench.templates import Registry, explode

TEMPLATES = 5
PARTS = 200
APPS = 20
PLUGINS = ("make", "python", "cmake", "nil")


def template_text(index: int) -> str:
    """A template with root keys, an app snippet, part snippets, selectors and an own part."""
    name = f"bench{index}"
    return f"""\
template:
  summary: benchmark template {index}
  bases: [core20, core22]
  confinement: [strict, devmode]
apps:
  "*":
    command-chain: [snap/command-chain/{name}/launch]
    plugs: [desktop, x11, plug{index}]
    environment:
      {name.upper()}_HOME: $SNAP/{name}
parts:
  "*":
    after: [{name}/helper]
    build-environment:
      - {name.upper()}: "1"
  "*[plugin=python]":
    after: [{name}/helper]
    build-packages@core22: [python3-dev, lib{name}-dev]
    build-packages@: [python3-dev]
  {name}/helper:
    plugin: make
    source@core20: https://example.invalid/{name}-20.tar.gz
    source@: https://example.invalid/{name}.tar.gz
    stage-packages: [lib{name}0, libcommon0]
plugs:
  {name}-content:
    interface: content
    target: $SNAP/{name}
environment:
  {name.upper()}_ENABLED: "yes"
"""


def project_text() -> str:
    """200 parts with grammar and comments, 20 apps naming the templates, a root list too."""
    names = ", ".join(f"bench{i}" for i in range(TEMPLATES))
    lines = [
        "# generated for bench/explode.py",
        "name: bench",
        "base: core22",
        "confinement: strict",
        f"templates: [{names}]",
        "apps:",
    ]
    for app in range(APPS):
        lines += [f"  app{app}:", f"    command: bin/app{app}  # app {app}", "    plugs: [home]"]
        if app % 2:
            lines.append(f"    templates: [{names}]")
    lines.append("parts:")
    for part in range(PARTS):
        lines += [
            f"  part{part}:",
            f"    plugin: {PLUGINS[part % len(PLUGINS)]}",
            f"    source: src/part{part}",
            f"    after: [part{part - 1}]" if part else "    after: []",
            "    stage-packages:",
            f"      - libpart{part}",
            "      - on arm64: [libarm]",
            "      - else: [libother]",
        ]
    return "\n".join(lines) + "\n"


def rows(quick: bool) -> list[Row]:
    """explode(text) against a PyYAML safe_load and a ruamel round-trip load of the same text."""
    text = project_text()
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(TEMPLATES):
            Path(tmp, f"bench{index}.yaml").write_text(template_text(index))
        registry = Registry.default([tmp])
        for name in registry.names():
            registry.get(name)  # parse the template files once, outside the timing
        result = explode(text, templates=registry)
        assert len(result.project["parts"]) == PARTS + TEMPLATES
        what = f"{PARTS} parts, {TEMPLATES} templates, {len(text) // 1024} KiB"
        return against_yaml_loads(
            "explode", what, lambda: explode(text, templates=registry), text, quick=quick
        )


if __name__ == "__main__":
    sys.exit(main({"explode": rows}, None, prog="bench.explode", doc=__doc__ or ""))
