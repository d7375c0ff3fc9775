"""Explode against plain YAML loading, on real-sized input.

Three inputs: the ten real-shaped projects of ``tests/data/snapcraft`` (5 to 8 KiB each, built-in
templates and ``tests/data/templates``), a generated 200-part project with 5 templates, and a
generated project of about 1 MiB (the loader's limit). Measured side by side in one run, round
after round (each case called again and again for a time budget, the cases taking turns):
explode of the YAML text to JSON (``explode(text).to_json()``) and to YAML text with the comments
kept (``to_yaml()``: the project's text spliced, template values by the C emitter), against a
plain PyYAML load (C loader) of the same texts. Rows: milliseconds per call, each output against
the load.

    .venv/bin/python -m bench.explode [--quick] [--json FILE]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.common import Row, against_safe_load, main
from workbench.templates import Registry, explode

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "snapcraft"
CORPUS_TEMPLATES = ROOT / "tests" / "data" / "templates"
GOALS = {"explode to JSON": "goal <= 3x", "explode to YAML text": "goal <= 6x"}
MIB_PARTS = 6200  # just under 1 MiB of project text (the loader's limit)

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


def project_text(parts: int = PARTS) -> str:
    """``parts`` parts with grammar and comments, 20 apps naming the templates, a root list."""
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
    for part in range(parts):
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


def outputs(texts: list[str], registry: Registry) -> dict[str, Callable[[], object]]:
    """The two explode outputs of every text: JSON, and YAML text with comments."""
    return {
        "explode to JSON": lambda: [explode(t, templates=registry).to_json() for t in texts],
        "explode to YAML text": lambda: [explode(t, templates=registry).to_yaml() for t in texts],
    }


def rows(quick: bool) -> list[Row]:
    """Explode outputs against PyYAML loads: the real files, 200 parts, and 1 MiB (JSON only)."""
    corpus = [file.read_text() for file in sorted(CORPUS.glob("*.yaml"))]
    text = project_text()
    big = project_text(MIB_PARTS)
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(TEMPLATES):
            Path(tmp, f"bench{index}.yaml").write_text(template_text(index))
        registry = Registry.default([tmp, CORPUS_TEMPLATES])
        for name in registry.names():
            registry.get(name)  # parse the template files once, outside the timing
        result = explode(text, templates=registry)
        assert len(result.project["parts"]) == PARTS + TEMPLATES
        kib = sum(map(len, corpus)) // 1024
        table = against_safe_load(
            outputs(corpus, registry),
            corpus,
            f"{len(corpus)} real-shaped files, {kib} KiB",
            quick=quick,
            goals=GOALS,
        )
        table += against_safe_load(
            outputs([text], registry),
            [text],
            f"{PARTS} parts, {TEMPLATES} templates, {len(text) // 1024} KiB",
            quick=quick,
            goals=GOALS,
        )
        json_only = {"explode to JSON": outputs([big], registry)["explode to JSON"]}
        table += against_safe_load(
            json_only,
            [big],
            f"{MIB_PARTS} parts, {TEMPLATES} templates, {len(big) // 1024} KiB",
            quick=quick,
            goals=GOALS,
        )
        return table


if __name__ == "__main__":
    sys.exit(main({"explode": rows}, None, prog="bench.explode", doc=__doc__ or ""))
