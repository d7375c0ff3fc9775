"""A C build's lifecycle with parts/, stage/ and prime/ on the VM disk against on the 9p share.

A copy of ``examples/build/c-make`` in a temporary directory is built once from the debian-12
image's saved base instance (no cold boot); then, with the VM running, the lifecycle alone
(pull..prime from an empty work dir) runs with the work dir on the VM disk and on the share,
taking turns, once per round. The real cache is used (the saved base as it is); the project's
instance is removed at the end.
The phases of a whole build (cold, from the base, warm rebuild) are ``bench/build.py``'s.

    .venv/bin/python -m bench.share [--quick] [--json FILE]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bench.build import EXAMPLES, session, wipe
from bench.common import Row, main, row
from workbench.lifecycle.options import DEFAULT_IMAGE
from workbench.lifecycle.session import clean
from workbench.lifecycle.steps import Step

EXAMPLE = "c-make"


def rows(quick: bool) -> list[Row]:
    """Seconds of the lifecycle (pull..prime) with the work dir on the VM disk and on 9p."""
    rounds = 1 if quick else 3
    disk: list[float] = []
    share: list[float] = []
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        project = Path(tmp, EXAMPLE)
        shutil.copytree(EXAMPLES / EXAMPLE, project)
        try:
            # from the saved base, the project writable (parts on 9p need it); warms caches
            _, _, run = session(project, step=Step.PRIME, share_mode="rw")
            for _ in range(rounds):
                for on_share, values in ((False, disk), (True, share)):
                    wipe(run)
                    _, timings, run = session(
                        project, step=Step.PRIME, share=on_share, share_mode="rw"
                    )
                    values.append(timings.host["lifecycle"])
        finally:
            clean(project)
    return [
        row(
            f"C build ({EXAMPLE}, {DEFAULT_IMAGE}): parts on 9p vs on the VM disk",
            ("9p", share),
            ("disk", disk),
            "s",
        )
    ]


if __name__ == "__main__":
    sys.exit(main({"share": rows}, None, prog="bench.share", doc=__doc__ or ""))
