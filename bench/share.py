"""A C build's lifecycle with parts/, stage/ and prime/ on the VM disk against on the 9p share.

A copy of ``examples/build/c-make`` in a temporary directory is built once from the debian-12
image's saved base instance (no cold boot); then, with the VM running, the lifecycle alone
(pull..prime from an empty work dir) runs with the work dir on the VM disk and on the share,
taking turns, once per round. The real cache is used (the saved base as it is); the project's
instance is removed at the end.
The measurement is :func:`workbench.perf.builds.work_dir_times` (notebook 05 charts it); the
phases of a whole build (cold, from the base, warm rebuild) are ``bench/build.py``'s.

    .venv/bin/python -m bench.share [--quick] [--json FILE]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bench.build import EXAMPLES
from bench.common import Row, main, row
from workbench.lifecycle.options import DEFAULT_IMAGE
from workbench.lifecycle.session import clean
from workbench.perf.builds import work_dir_times
from workbench.perf.feedback import Printed

EXAMPLE = "c-make"


def rows(quick: bool) -> list[Row]:
    """Seconds of the lifecycle (pull..prime) with the work dir on the VM disk and on 9p."""
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        project = Path(tmp, EXAMPLE)
        shutil.copytree(EXAMPLES / EXAMPLE, project)
        try:
            times = work_dir_times(project, rounds=rounds, places=(False, True), feedback=Printed())
        finally:
            clean(project)
    return [
        row(
            f"C build ({EXAMPLE}, {DEFAULT_IMAGE}): parts on 9p vs on the VM disk",
            ("9p", times[True]),
            ("disk", times[False]),
            "s",
        )
    ]


if __name__ == "__main__":
    sys.exit(main({"share": rows}, None, prog="bench.share", doc=__doc__ or ""))
