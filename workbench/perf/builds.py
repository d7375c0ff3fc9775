"""A build's cost by where its parts are and by how its VM came to be, on a real build VM.

- The work dir: the lifecycle alone (pull..prime from an empty work dir, the VM running) with
  parts/, stage/ and prime/ on the VM disk and on the 9p project share
  (:attr:`~workbench.lifecycle.options.BuildOptions.work_on_share`, the project mounted ``rw``),
  taking turns round after round.
- A new project's first build up to prime: from the image's saved base instance (a copy of it,
  re-keyed on its first start, warm-started) against from scratch (a new instance cold-booted:
  cloud-init's first boot, the workbench injected). The saved base is made beforehand (once per
  machine), outside the timing.

``bench/share.py`` and ``bench/build.py`` print the same measurements in the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from workbench.lifecycle import base_instance, wheelhouse
from workbench.lifecycle.events import Event, Kind, Listener, Timing
from workbench.lifecycle.options import BuildOptions
from workbench.lifecycle.session import Session
from workbench.lifecycle.steps import Step
from workbench.perf.feedback import Feedback
from workbench.progress import Progress

TOLD = frozenset({Kind.NOTICE, Kind.HOST_STARTED, Kind.HOST_FINISHED, Kind.ERROR})
"""The build events a measurement passes on as log lines (not the build's output)."""


def timed_session(
    project: Path, options: BuildOptions, listeners: tuple[Listener, ...] = ()
) -> tuple[float, Timing, Session]:
    """One build session of ``project`` as ``options`` ask: its seconds, its per-phase timing (the
    session's own ``timing`` event), the session (its VM stays as the build left it)."""
    said: list[Timing] = []
    run = Session(project, options, listeners=(timing_of(said), *listeners))
    result = run.run()
    if not said:
        raise RuntimeError(f"the build of {project} sent no timing event")
    return result.elapsed, said[-1], run


def timing_of(said: list[Timing]) -> Listener:
    """A build listener that appends each session's :class:`Timing` to ``said``."""

    def listen(event: Event) -> None:
        if isinstance(event.payload, Timing):
            said.append(event.payload)

    return listen


def wipe(run: Session) -> None:
    run.instance.exec(["rm", "-rf", run.work_dir], check=True)
    run.instance.close()


def told(feedback: Feedback) -> Listener:
    """A build listener passing the session's notices and host actions to ``feedback.log``."""

    def listen(event: Event) -> None:
        if event.kind in TOLD:
            feedback.log(event.line())

    return listen


def work_dir_times(
    project: Path, *, rounds: int, places: Sequence[bool], feedback: Feedback
) -> dict[bool, list[float]]:
    """Seconds of the lifecycle alone per place of the work dir (False: the VM disk, True: the
    9p share), the places taking turns each round, after one build from the saved base (which
    warms the caches). The project's VM stays up; ``clean`` it after."""
    listeners = (told(feedback),)
    times: dict[bool, list[float]] = {place: [] for place in places}
    task = "parts on the VM disk vs on 9p"
    feedback.progress(Progress(task, 0, rounds, "first build", "round"))
    _, _, run = timed_session(project, BuildOptions(step=Step.PRIME, share_mode="rw"), listeners)
    for done in range(rounds):
        feedback.check()
        feedback.progress(Progress(task, done, rounds, f"round {done + 1}", "round"))
        for on_share, values in times.items():
            wipe(run)
            options = BuildOptions(step=Step.PRIME, work_on_share=on_share, share_mode="rw")
            _, timing, run = timed_session(project, options, listeners)
            values.append(timing.seconds("lifecycle"))  # a KeyError when it did not run
    feedback.progress(Progress(task, rounds, rounds, "done", "round", finished=True))
    return times


def first_build_seconds(project: Path, *, from_base: bool, feedback: Feedback) -> float:
    """Seconds of the first build (up to prime, the project mounted ``rw``) of ``project``,
    which has no VM yet: from the saved base, or from scratch. With ``from_base`` the saved base
    is made first when missing (not counted). The project's VM stays up; ``clean`` it after."""
    options = BuildOptions(step=Step.PRIME, from_base=from_base, share_mode="rw")
    run = Session(project, options, listeners=(told(feedback),))
    if from_base:
        feedback.log(f"the saved base of {run.image.image} (made once per machine)")
        base_instance.ensure_base(
            run.image.image,
            memory_mib=run.instance.memory_mib,
            cpus=run.instance.cpus,
            house=wheelhouse.ensure_wheelhouse(
                run.guest, arch=run.image.arch, python=run.image.python, notify=feedback.log
            ),
            notify=feedback.log,
        )
    return run.run().elapsed
