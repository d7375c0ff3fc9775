"""``workbench explode PATH``: print the project with its templates applied."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from workbench.templates import Exploded, ExplodeOptions, Registry, explode
from workbench.templates.registry import env_template_dirs
from workbench.yamlpos import dump

EXPERIMENTAL_ENV = "WORKBENCH_EXPERIMENTAL"


def register(subparsers: Any) -> None:
    """Add the ``explode`` subcommand."""
    parser = subparsers.add_parser(
        "explode",
        help="apply a project's templates and print the result",
        description="Apply the templates of a snapcraft.yaml and print the exploded project. "
        "The input file is never written.",
    )
    parser.add_argument("path", help="snapcraft.yaml, or a project directory containing one")
    add_templates_dir_option(parser)
    parser.add_argument("--base", help="use this base instead of the project's")
    parser.add_argument("--build-on", metavar="ARCH", help="resolve grammar: build on ARCH")
    parser.add_argument("--build-for", metavar="ARCH", help="resolve grammar: build for ARCH")
    parser.add_argument(
        "--strict", action="store_true", help="any override or template disagreement is an error"
    )
    parser.add_argument(
        "--enable-experimental",
        action="store_true",
        help=f"allow experimental templates (or set {EXPERIMENTAL_ENV}=1)",
    )
    parser.add_argument(
        "--format",
        choices=("yaml", "json"),
        help="output format (default: yaml; json with --provenance)",
    )
    parser.add_argument(
        "--provenance",
        action="store_true",
        help="print {project, provenance, overrides}: where every value came from",
    )
    parser.set_defaults(handler=run)


def add_templates_dir_option(parser: argparse.ArgumentParser) -> None:
    """``--templates-dir DIR`` (repeatable), shared with the ``templates`` command."""
    parser.add_argument(
        "--templates-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory of NAME.yaml templates; later ones shadow earlier ones "
        "(after WORKBENCH_TEMPLATES_PATH)",
    )


def run(args: argparse.Namespace) -> int:
    """Explode ``args.path`` and print it."""
    registry = Registry.default([*env_template_dirs(os.environ), *args.templates_dir])
    result = explode(
        Path(args.path),
        templates=registry,
        options=ExplodeOptions(
            base=args.base,
            build_on=args.build_on,
            build_for=args.build_for,
            strict=args.strict,
            enable_experimental=args.enable_experimental or os.environ.get(EXPERIMENTAL_ENV) == "1",
        ),
    )
    sys.stdout.write(render(result, fmt=args.format, provenance=args.provenance))
    return 0


def render(result: Exploded, *, fmt: str | None, provenance: bool) -> str:
    """The text to print: YAML or JSON, of the project or of the provenance report."""
    if provenance:
        report = result.report()
        return dump(report) if fmt == "yaml" else json.dumps(report, indent=2) + "\n"
    return result.to_json() + "\n" if fmt == "json" else result.to_yaml()
