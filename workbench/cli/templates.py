"""``workbench templates list|show``: discover templates and read one."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from workbench.cli.explode import add_templates_dir_option
from workbench.templates.registry import Registry, env_template_dirs


def register(subparsers: Any) -> None:
    """Add the ``templates`` subcommand and its ``list`` and ``show`` actions."""
    parser = subparsers.add_parser(
        "templates",
        help="list templates or show one",
        description="Templates come from the built-in set, WORKBENCH_TEMPLATES_PATH and "
        "--templates-dir, later ones shadowing earlier ones.",
    )
    actions = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
    listing = actions.add_parser("list", help="name, summary, bases, experimental, source")
    listing.add_argument("--base", help="only templates supporting this base")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_templates_dir_option(listing)
    listing.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="a template's metadata and definition")
    show.add_argument("name")
    add_templates_dir_option(show)
    show.set_defaults(handler=run_show)


def _registry(args: argparse.Namespace) -> Registry:
    return Registry.default([*env_template_dirs(os.environ), *args.templates_dir])


def run_list(args: argparse.Namespace) -> int:
    """Print every template (``--base``: only those supporting it)."""
    sys.stdout.write(render_list(_registry(args), base=args.base, as_json=args.json))
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print one template."""
    sys.stdout.write(render_show(_registry(args), args.name))
    return 0


def render_list(registry: Registry, *, base: str | None, as_json: bool) -> str:
    """The ``templates list`` output; shadowed definitions are listed under the one in use."""
    rows = []
    for info in registry.infos(base=base):
        shadowed = [entry.source for entry in registry.definitions(info.name)[:-1]]
        rows.append({**info.to_json(), "shadows": shadowed})
    if as_json:
        return json.dumps(rows, indent=2) + "\n"
    if not rows:
        return "no templates" + (f" for base {base}" if base else "") + "\n"
    table = [("NAME", "BASES", "EXPERIMENTAL", "SUMMARY", "SOURCE")]
    for row in rows:
        experimental = "yes" if row["experimental"] else "no"
        table.append(
            (row["name"], ",".join(row["bases"]), experimental, row["summary"], row["source"])
        )
    widths = [max(len(line[col]) for line in table) for col in range(4)]
    lines = []
    for index, line in enumerate(table):
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        lines.append("  ".join([*cells, line[4]]))
        for source in rows[index - 1]["shadows"] if index else ():
            lines.append(f"{'':{widths[0]}}  (shadows {source})")
    return "\n".join(lines) + "\n"


def render_show(registry: Registry, name: str) -> str:
    """The ``templates show`` output: metadata, shadowed definitions, then the definition."""
    info = registry.get(name).info
    lines = [
        f"name:         {info.name}",
        f"summary:      {info.summary}",
        f"bases:        {', '.join(info.bases)}",
        f"confinement:  {', '.join(info.confinement)}",
        f"experimental: {'yes' if info.experimental else 'no'}",
        f"source:       {info.source}",
    ]
    lines += [f"shadows:      {entry.source}" for entry in registry.definitions(name)[:-1]]
    source = Path(info.source)
    body = source.read_text(encoding="utf-8") if source.is_file() else "(a Python function)\n"
    return "\n".join(lines) + "\n\n" + body
