"""Build the C example in a real debian-12 VM: cold vs from the base vs warm, parts on 9p vs disk.

All in one run, side by side, in a private cache (base images, the wheelhouse and the saved base
instances shared with the real cache, so the once-per-machine base is made at most once):

1. first build from cold: a new instance booted cold (cloud-init), injection, lifecycle, pack;
2. first build of another new project started from the image's saved base instance;
3. rebuild on a warm start: the VM saved (``down --save``), the work dir wiped, build again;
4. the lifecycle alone (pull..prime from an empty work dir, VM running) with parts/, stage/ and
   prime/ on the VM disk, then on the 9p share, alternating, ``--repeat`` times each (median).

Prints seconds and ratios. A phase a row names that the session did not run (its ``timing``
event has no such phase) stops the benchmark with that error instead of counting as 0.
``--quick`` (CI): one repeat instead of three. ``--example python-app`` measures the Python app
instead (many small files: where 9p hurts).

    .venv/bin/python bench/build.py [--quick] [--example NAME]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from workbench import dirs
from workbench.lifecycle import base_instance, wheelhouse
from workbench.lifecycle.events import Timing
from workbench.lifecycle.options import DEFAULT_CPUS, DEFAULT_IMAGE, DEFAULT_MEMORY, BuildOptions
from workbench.lifecycle.session import Session, clean
from workbench.lifecycle.steps import Step
from workbench.perf.builds import timed_session, wipe
from workbench.vm.config import parse_memory

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "build"


def session(
    project: Path,
    *,
    step: Step = Step.PACK,
    share: bool = False,
    from_base: bool = True,
    share_mode: str = "ro",
) -> tuple[float, Timing, Session]:
    """One build session; ``share``: parts/ on the 9p share (the VM must be ``rw``)."""
    options = BuildOptions(
        step=step, work_on_share=share, from_base=from_base, share_mode=share_mode
    )
    return timed_session(project, options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat (CI)")
    parser.add_argument("--repeat", type=int, default=3, help="lifecycle repeats (default 3)")
    parser.add_argument(
        "--example", default="c-make", help="which examples/build project (default: c-make)"
    )
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    real = dirs.cache_dir()
    with tempfile.TemporaryDirectory(prefix="wb-bench-build-") as tmp:
        cache = Path(tmp) / "cache"
        cache.mkdir()
        for shared in ("images", "wheelhouse", "bases"):
            (real / shared).mkdir(parents=True, exist_ok=True)
            (cache / shared).symlink_to(real / shared)
        os.environ["WORKBENCH_CACHE_DIR"] = str(cache)
        projects = [Path(tmp) / name for name in ("cold", "from-base")]
        for project in projects:
            shutil.copytree(EXAMPLES / args.example, project)
        try:
            rows = measure(*projects, repeat=repeat)
        finally:
            for project in projects:
                clean(project)
    width = max(len(name) for name, _ in rows)
    cold = rows[0][1]
    disk = dict(rows)["lifecycle, parts on the VM disk (median)"]
    print(f"{'measurement':<{width}}  {'seconds':>8}  ratio")
    for name, seconds in rows:
        base, label = (disk, "x disk") if "lifecycle" in name else (cold, "x cold")
        print(f"{name:<{width}}  {seconds:8.1f}  {seconds / base:5.2f} {label}")


def measure(cold_project: Path, project: Path, *, repeat: int) -> list[tuple[str, float]]:
    cold, cold_timings, run = session(cold_project, from_base=False)
    rows = [("first build from cold (boot, inject, build, pack)", cold)]
    for name in ("boot", "inject"):
        rows.append((f"  of which {name}", cold_timings.seconds(name)))
    run.instance.down()
    started = time.monotonic()
    base_instance.ensure_base(
        DEFAULT_IMAGE,
        memory_mib=parse_memory(DEFAULT_MEMORY),
        cpus=DEFAULT_CPUS,
        house=wheelhouse.ensure_wheelhouse(),
        notify=print,
    )
    rows.append(
        ("making the saved base (once per machine; ~0 if cached)", time.monotonic() - started)
    )
    first, first_timings, run = session(project)
    rows.append(("first build of a new project from the saved base", first))
    for name in ("base", "boot"):  # the base holds this workbench: no inject
        rows.append((f"  of which {name}", first_timings.seconds(name)))
    wipe(run)
    run.instance.down(save=True)
    warm, warm_timings, run = session(project)
    rows.append(("rebuild on a warm start (loadvm, build, pack)", warm))
    rows.append(("  of which boot (warm start)", warm_timings.seconds("boot")))
    on_disk: list[float] = []
    on_share: list[float] = []
    run.instance.down(save=True)  # parts on 9p need the project writable: restart it rw
    for _ in range(repeat):
        for share, results in ((False, on_disk), (True, on_share)):
            wipe(run)
            _, timings, run = session(project, step=Step.PRIME, share=share, share_mode="rw")
            results.append(timings.seconds("lifecycle"))
    rows.append(("lifecycle, parts on the VM disk (median)", statistics.median(on_disk)))
    rows.append(("lifecycle, parts on the 9p share (median)", statistics.median(on_share)))
    return rows


if __name__ == "__main__":
    main()
