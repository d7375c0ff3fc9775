"""Lifecycle steps and the host's plan of a build session, as data (craft-parts style).

:class:`Step` is the four craft-parts steps plus ``pack``. :func:`plan` turns what the host knows
before a build (the instance's status, what was injected, the options) into the list of
:class:`HostAction` the session will take, each with the reason it runs or is skipped. It runs
nothing: the session executes the list and the CLI or a notebook can print it first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

from workbench.errors import UsageError
from workbench.lifecycle.safetext import Record


class Step(IntEnum):
    """The lifecycle steps in order; ``PACK`` is the workbench's own, after craft-parts' prime."""

    PULL = 1
    BUILD = 2
    STAGE = 3
    PRIME = 4
    PACK = 5

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Step:
        try:
            return cls[name.upper()]
        except KeyError:
            raise UsageError(
                f"unknown step {name!r}", hint=f"use one of: {', '.join(s.label for s in cls)}"
            ) from None

    def previous(self) -> Step | None:
        return Step(self - 1) if self > Step.PULL else None


STEP_NAMES = tuple(step.label for step in Step)
"""The steps by name, in order (``--step`` choices, the build view's buttons)."""
CLEAN_STEP_NAMES = STEP_NAMES[:-1]
"""A clean undoes one of these and every step after it (``pack`` leaves nothing to undo)."""


def step_directory(work_dir: str, step: Step, part: str | None) -> str:
    """The guest directory where ``step`` of ``part`` happens (where a shell should start)."""
    if part is not None and step is Step.PULL:
        return f"{work_dir}/parts/{part}/src"
    if part is not None and step is Step.BUILD:
        return f"{work_dir}/parts/{part}/build"
    if step is Step.STAGE:
        return f"{work_dir}/stage"
    if step in (Step.PRIME, Step.PACK):
        return f"{work_dir}/prime"
    return work_dir


class ShellMode(IntEnum):
    """When the session opens a shell in the VM (the seed's three flags)."""

    NEVER = 0
    INSTEAD = 1  # --shell: instead of running the target step
    AFTER = 2  # --shell-after: after the step, whether it failed or not
    ON_FAILURE = 3  # --debug: only when the step fails


@dataclass(frozen=True)
class HostAction(Record):
    """One thing the host session does, and why (``skip``: planned but not needed)."""

    name: str
    reason: str
    skip: bool = False

    def to_json(self) -> dict[str, str | bool]:
        return {"name": self.name, "reason": self.reason, "skip": self.skip}


@dataclass(frozen=True)
class Situation:
    """What the host knows before a build: the instance's status, the injected version, and
    whether a new instance starts as a copy of the image's saved base instance."""

    status: str  # a workbench.vm.Status value
    injected: str | None  # wheelhouse key recorded as installed in this instance, if any
    wheelhouse: str  # the key of the host's wheelhouse
    from_base: bool = True


def _boot_reason(status: str) -> HostAction:
    reasons = {
        "running": ("boot", "instance already running: reuse it", True),
        "saved": ("boot", "warm start from the saved state", False),
        "stopped": ("boot", "cold boot of the stopped instance", False),
        "crashed": ("boot", "cold boot: the last run of qemu died", False),
        "absent": ("boot", "first boot of a new instance (cloud-init)", False),
        "remote": ("boot", "an SSH host: log in, copy the project over", False),
    }
    name, reason, skip = reasons.get(status, ("boot", f"instance is {status}: boot it", False))
    return HostAction(name, reason, skip)


def plan(
    target: Step,
    situation: Situation,
    *,
    parts: tuple[str, ...] = (),
    shell: ShellMode = ShellMode.NEVER,
    export_prime: bool = False,
) -> list[HostAction]:
    """The host actions of a session that brings the project to ``target`` (pure)."""
    if situation.status == "absent" and situation.from_base:
        actions = [
            HostAction("base", "new instance: a copy of the image's saved base instance"),
            HostAction("boot", "warm start from the base's saved state"),
        ]
    else:
        actions = [_boot_reason(situation.status)]
    same = situation.injected == situation.wheelhouse
    actions.append(
        HostAction(
            "inject",
            f"workbench {situation.wheelhouse} already installed in the guest"
            if same
            else f"install workbench {situation.wheelhouse} offline from the wheelhouse",
            same,
        )
    )
    which = f"parts {', '.join(parts)}" if parts else "all parts"
    lifecycle_target = min(target, Step.PRIME)
    if shell is ShellMode.INSTEAD:
        before = target.previous()
        actions.append(
            HostAction(
                "lifecycle",
                f"run up to {before.label} for {which}, then a shell instead of {target.label}"
                if before
                else f"nothing before {target.label}: straight to the shell",
                before is None,
            )
        )
        actions.append(HostAction("shell", f"--shell: a shell instead of {target.label}"))
        return actions
    actions.append(
        HostAction(
            "lifecycle",
            f"run up to {lifecycle_target.label} for {which} (steps already done are skipped)",
        )
    )
    if target is Step.PACK:
        actions.append(
            HostAction(
                "pack",
                "write meta/snap.yaml, mksquashfs prime on the VM disk, "
                "fetch the .snap into the project over SFTP",
            )
        )
    if export_prime:
        actions.append(HostAction("export-prime", "--export-prime: fetch prime/ into the project"))
    if shell is ShellMode.AFTER:
        actions.append(HostAction("shell", "--shell-after: a shell after the step, pass or fail"))
    elif shell is ShellMode.ON_FAILURE:
        actions.append(HostAction("shell", "--debug: a shell only if the step fails"))
    return actions


def clean_plan(
    step: Step, situation: Situation, *, parts: tuple[str, ...] = ()
) -> list[HostAction]:
    """The host actions that undo ``step`` and the steps after it for ``parts`` (every part
    without) in an existing instance: start it if needed, inject, clean (pure)."""
    actions = [_boot_reason(situation.status)]
    actions += [a for a in plan(step, replace(situation, from_base=False)) if a.name == "inject"]
    which = f"parts {', '.join(parts)}" if parts else "every part"
    later = " and the steps after it" if step < Step.PRIME else ""
    actions.append(
        HostAction("clean", f"clean {step.label}{later} of {which} in the VM (redone next build)")
    )
    return actions
