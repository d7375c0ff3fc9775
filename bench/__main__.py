"""Every benchmark in one run, printed as one table.

    .venv/bin/python -m bench [--quick] [--json FILE]      (or: ./dev bench ...)

Runs explode, architectures, vm, share, daily and arm64 in turn (each also runs alone:
``python -m bench.vm``).
A benchmark that fails is reported with its error after the table, and the exit status is 1.
"""

from __future__ import annotations

import sys

from bench import architectures, arm64, daily, explode, share, vm
from bench.common import Benchmark, main

BENCHMARKS: dict[str, Benchmark] = {
    "explode": explode.rows,
    "architectures": architectures.rows,
    "vm": vm.rows,
    "share": share.rows,
    "daily": daily.rows,
    "arm64": arm64.rows,
}

if __name__ == "__main__":
    sys.exit(main(BENCHMARKS, None, prog="bench", doc=__doc__ or ""))
