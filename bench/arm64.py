"""The C example built on arm64 (emulated under TCG) against amd64, side by side in one run.

Each round copies ``examples/build/c-make`` into two new projects and builds one in the amd64
VM and the other in the arm64 VM (``--build-on arm64``), each the first build of a new project
from its image's saved base instance (made first when missing, not counted); then, with both VMs
running, the lifecycle alone again from an empty work dir. The ratios say what emulation costs a
build here: the boot, the guest runner's Python and the compiler all run emulated.

    .venv/bin/python -m bench.arm64 [--quick] [--json FILE]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import Row, main, row
from workbench.lifecycle.options import BuildOptions
from workbench.lifecycle.session import clean
from workbench.lifecycle.steps import Step
from workbench.perf.builds import timed_session, wipe

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "build" / "c-make"
ARCHS = ("arm64", "amd64")


def build_round(tmp: Path, n: int) -> dict[str, tuple[float, float]]:
    """Per architecture: seconds of the first build from the saved base, and of the lifecycle
    alone (pull..prime) rebuilt from an empty work dir with the VM running."""
    seconds = {}
    for arch in ARCHS:
        project = tmp / f"{arch}-{n}"
        shutil.copytree(EXAMPLE, project)
        try:
            first, _, run = timed_session(project, BuildOptions(build_on=arch, step=Step.PRIME))
            wipe(run)
            _, timings, run = timed_session(project, BuildOptions(build_on=arch, step=Step.PRIME))
            seconds[arch] = (first, timings.seconds("lifecycle"))
        finally:
            clean(project)
    return seconds


def rows(quick: bool) -> list[Row]:
    """First build from the base, then the lifecycle alone: arm64 (emulated) vs amd64."""
    rounds = 1 if quick else 2
    first: dict[str, list[float]] = {arch: [] for arch in ARCHS}
    lifecycle: dict[str, list[float]] = {arch: [] for arch in ARCHS}
    with tempfile.TemporaryDirectory(prefix="wb-bench-arm64-") as tmp:
        for n in range(rounds):
            for arch, (build, again) in build_round(Path(tmp), n).items():
                first[arch].append(build)
                lifecycle[arch].append(again)
    return [
        row(
            "c-make first build of a new project (from the saved base): arm64 emulated vs amd64",
            ("arm64", first["arm64"]),
            ("amd64", first["amd64"]),
            "s",
        ),
        row(
            "c-make lifecycle alone (pull..prime, VM running): arm64 emulated vs amd64",
            ("arm64", lifecycle["arm64"]),
            ("amd64", lifecycle["amd64"]),
            "s",
        ),
    ]


if __name__ == "__main__":
    sys.exit(main({"arm64": rows}, None, prog="bench.arm64", doc=__doc__ or ""))
