"""Exploded projects per second: a generated 200-part project with 5 templates.

Measured side by side in one run, round after round: ``explode`` of the YAML text (ruamel
round-trip load included), ``explode`` of an already loaded Document, the ruamel round-trip load
alone, and a plain PyYAML ``safe_load`` (C loader when available) of the same text. Prints
min/median/max rates over the rounds and each case's median time as a multiple of safe_load's.

    python bench/explode.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from workbench.templates import Registry, explode
from workbench.yamlpos import load_text

TEMPLATES = 5
PARTS = 200
APPS = 20
PLUGINS = ("make", "python", "cmake", "nil")

SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def measure(
    cases: dict[str, Callable[[], object]], *, rounds: int, seconds: float
) -> dict[str, list[float]]:
    """Per case, the calls per second of each round; the cases take turns within each round."""
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, call in cases.items():
            count, start = 0, time.perf_counter()
            while True:
                call()
                count += 1
                elapsed = time.perf_counter() - start
                if elapsed >= seconds:
                    break
            rates[name].append(count / elapsed)
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (CI)")
    args = parser.parse_args(argv)
    rounds, seconds = (3, 0.3) if args.quick else (7, 1.5)
    text = project_text()
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(TEMPLATES):
            Path(tmp, f"bench{index}.yaml").write_text(template_text(index))
        registry = Registry.default([tmp])
        for name in registry.names():
            registry.get(name)  # parse the template files once, outside the timing
        doc = load_text(text, file="snapcraft.yaml")
        result = explode(text, templates=registry)
        assert len(result.project["parts"]) == PARTS + TEMPLATES
        cases: dict[str, Callable[[], object]] = {
            "explode(text)": lambda: explode(text, templates=registry),
            "explode(Document)": lambda: explode(doc, templates=registry),
            "ruamel round-trip load": lambda: load_text(text),
            f"yaml.safe_load ({SafeLoader.__name__})": lambda: yaml.load(text, Loader=SafeLoader),
        }
        rates = measure(cases, rounds=rounds, seconds=seconds)
    baseline = statistics.median(rates[list(cases)[-1]])
    print(f"{PARTS} parts, {APPS} apps, {TEMPLATES} templates; {len(text)} bytes; {rounds} rounds")
    print(f"{'case':32} {'min/s':>9} {'median/s':>9} {'max/s':>9} {'time vs safe_load':>18}")
    for name, values in rates.items():
        median = statistics.median(values)
        low, high = min(values), max(values)
        print(f"{name:32} {low:9.1f} {median:9.1f} {high:9.1f} {baseline / median:17.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
