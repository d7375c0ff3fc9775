"""``python -m workbench``: a thin argparse layer over the library.

Each subcommand lives in its own module under :mod:`workbench.cli` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a function taking the parsed
arguments and returning an exit code. Errors are formatted here, once: one line, exit code 2 for
user errors, 1 for failures of the environment, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from workbench import __version__
from workbench.errors import WorkbenchError, format_error
from workbench.lifecycle.safetext import printable

COMMAND_MODULES: tuple[str, ...] = ("explode", "templates", "arch", "vm", "build")


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="workbench",
        description="Explore and run the snapcraft build design.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"workbench.cli.{name}").register(sub)
    return parser


def report(err: WorkbenchError) -> None:
    """Print ``err`` on stderr: its one line, then its details; escaped, as both may hold what a
    guest printed (:func:`~workbench.lifecycle.safetext.printable`)."""
    print(printable(format_error(err), limit=None), file=sys.stderr)
    if err.details:
        print(printable(err.details.rstrip(), multiline=True, limit=None), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except WorkbenchError as err:
        report(err)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(
            f"internal error: {type(exc).__name__}: {printable(str(exc))} "
            "(a workbench bug; rerun with WORKBENCH_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return 1
    return code
