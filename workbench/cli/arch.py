"""``workbench arch plan|snap|outcome|convert``: the architectures keyword from the command line.

Thin: parse options, call :mod:`workbench.architectures`, print text or JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.architectures import (
    BuildSet,
    claim,
    convert,
    github_job,
    judge,
    load,
    load_project,
    parse,
    plan,
    plan_project,
    round_trip,
)
from workbench.architectures.workflow import DEFAULT_INSTALL, workflow_yaml
from workbench.errors import ArchitectureError, UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("arch", help="plan, judge and convert the architectures keyword")
    commands = parser.add_subparsers(dest="arch_command", required=True, parser_class=type(parser))

    plan = commands.add_parser("plan", help="the CI's build set")
    _project(plan)
    _ci_options(plan)
    plan.add_argument("--dialect", choices=("proposal", "launchpad"), default="proposal")
    output = plan.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument(
        "--format",
        choices=("github-matrix", "github-workflow"),
        help="print a GitHub Actions job fragment (github-matrix) or a whole workflow",
    )
    plan.add_argument(
        "--install",
        metavar="REQUIREMENT",
        default=DEFAULT_INSTALL,
        help="what the workflow's runners pip install when the repository variable"
        f" WORKBENCH_INSTALL is unset (default: {DEFAULT_INSTALL})",
    )
    plan.set_defaults(handler=_plan)

    snap = commands.add_parser("snap", help="what a snap built on one host claims")
    _project(snap)
    snap.add_argument("--host-arch", required=True, metavar="ARCH")
    snap.add_argument("--dialect", choices=("proposal", "snapcraft"), default="proposal")
    snap.add_argument("--json", action="store_true", help="print JSON")
    snap.set_defaults(handler=_snap)

    outcome = commands.add_parser("outcome", help="is the build set released?")
    _project(outcome)
    outcome.add_argument(
        "--result",
        action="append",
        default=[],
        required=True,
        metavar="ARCH=success|failure",
        help="the result of the build on ARCH (repeat, or separate with commas)",
    )
    _ci_options(outcome)
    outcome.add_argument("--json", action="store_true", help="print JSON")
    outcome.set_defaults(handler=_outcome)

    convert = commands.add_parser("convert", help="the core22 / core24 equivalent")
    _project(convert)
    convert.add_argument("--to", required=True, choices=("core22", "core24"))
    convert.set_defaults(handler=_convert)


def _project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="snapcraft.yaml, or its project directory")


def _ci_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--supported", metavar="A,B,...", help="supported archs in priority order")
    parser.add_argument("--queue", metavar="ARCH=N,...", help="build queue lengths")


def _pairs(text: str, option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        arch, sep, value = item.partition("=")
        if not sep or not arch or not value:
            raise UsageError(f"{option}: expected ARCH=VALUE, got {item!r}", hint="e.g. amd64=3")
        pairs.append((arch.strip(), value.strip()))
    return pairs


def _queue(text: str | None) -> dict[str, int]:
    queue = {}
    for arch, value in _pairs(text or "", "--queue"):
        if not value.isdigit():
            raise UsageError(f"--queue: length of {arch} must be a whole number, not {value!r}")
        queue[arch] = int(value)
    return queue


def _supported(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [a.strip() for a in text.split(",") if a.strip()]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _plan(args: argparse.Namespace) -> int:
    document = load_project(args.path)
    result = plan_project(
        document,
        dialect=args.dialect,
        supported=_supported(args.supported),
        queue=_queue(args.queue),
    )
    if args.format == "github-matrix":
        _print_json(github_job(result))
    elif args.format == "github-workflow":
        name = document.data.get("name")
        print(workflow_yaml(result, name=str(name or args.path.name), install=args.install), end="")
    elif args.json:
        _print_json(result.to_json())
    elif isinstance(result, BuildSet):
        for b in result.builds:
            print(
                f"build on {b.build_on:<8} runs on {','.join(b.run_on):<16} "
                f"{'required' if b.required else 'optional'}  ({b.reason})"
            )
        for d in result.dropped:
            print(f"dropped entry {d.entry}: {d.reason}")
    else:
        for m in result.builds:
            print(f"{m.platform}: build on {m.build_on} for {m.build_for}")
    return 0


def _snap(args: argparse.Namespace) -> int:

    result = claim(load(args.path, dialect=args.dialect), args.host_arch)
    if args.json:
        _print_json(result.to_json())
    else:
        print(f"on {result.host} the snap claims: {', '.join(result.architectures)}")
        print(f"because {result.reason}")
    return 0


def _outcome(args: argparse.Namespace) -> int:

    results: dict[str, Any] = {}
    for arch, value in (p for text in args.result for p in _pairs(text, "--result")):
        if arch in results:
            raise UsageError(f"--result: {arch} is given twice", hint="give each build once")
        results[arch] = value
    build_set = plan(
        parse(load_project(args.path)),
        supported=_supported(args.supported),
        queue=_queue(args.queue),
    )
    result = judge(build_set, results)
    if args.json:
        _print_json(result.to_json())
    else:
        print(f"set {result.set}: {result.reason}")
        print(f"released: {', '.join(result.released) or 'nothing'}")
        print(f"failed: {', '.join(result.failed) or 'nothing'}")
    return 0


def _convert(args: argparse.Namespace) -> int:

    stanza = load(args.path)
    conversion = convert(stanza, args.to)
    proof = round_trip(stanza, conversion)
    if not proof.equal:
        raise ArchitectureError(
            "the conversion plans differently from the original",
            hint="a workbench bug: please report it with the file",
            details=f"legacy: {proof.legacy}\nmodern: {proof.modern}",
            location=stanza.locate(),
        )
    print(conversion.to_yaml(), end="")
    return 0
