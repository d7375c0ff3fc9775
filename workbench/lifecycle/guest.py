"""The runner executed inside the guest: ``python -m workbench.lifecycle.guest COMMAND -``.

The build spec (JSON) comes on standard input (``-``), never as one argument: a large project
would pass the kernel's per-argument limit (128 KiB).

It drives craft-parts with the parts the host resolved, keeps parts/, stage/ and prime/ in the
work directory the host chose (on the VM disk, not the 9p share), runs from the project directory
(``/project``, so local sources resolve as in snapcraft) and prints :mod:`~.events` lines on
stdout; build output goes to stderr. Exit status: 0 done, 1 a step failed, 2 a bad spec.
Only the standard library is imported at module level (craft-parts when running).

The lifecycle runs as the build user (``workbench``); one short command runs as root, because
it changes the system:

- ``prepare`` (root): refresh apt's lists and install the build-packages (craft-parts' own
  executor prologue: the parts' ``build-packages`` and those their plugins need), skipped when the
  same parts were prepared before; then give the work and cache directories to the build user.
- ``run`` (build user): pull..prime with craft-parts; stage-packages are fetched by craft-parts'
  python-apt cache under the (user-owned) cache directory, no root needed.
- ``clean`` (build user): undo the target step and the steps after it for the named parts
  (every part without), with craft-parts' ``LifecycleManager.clean``.
- ``pack`` (build user): meta/snap.yaml and mksquashfs into the work directory.
- ``export`` (build user): prime as a tar file next to the .snap, for ``--export-prime``.
- ``inspect`` (build user): one JSON line for the part debugger (:mod:`.debug`): which steps of
  the first named part are done (craft-parts' state files), its src/build/install directories,
  and the environment script craft-parts generates for that part's ``spec.target`` step.

The guest never writes the project (it is mounted read-only): the host fetches the .snap and
the prime tar over SFTP (:mod:`workbench.lifecycle.outputs`).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import pwd
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.lifecycle.events import (
    Failure,
    LifecyclePlan,
    Payload,
    PlannedStep,
    StepFinished,
    StepSkipped,
    StepStarted,
)
from workbench.lifecycle.pack import PackError, SnapMeta, pack
from workbench.lifecycle.steps import Step, step_directory
from workbench.lifecycle.wire import emit

APPLICATION = "workbench"
PREPARED = "/var/lib/workbench/prepared"
"""Digest of the parts (and target) whose build-packages ``prepare`` installed last."""
IGNORED_SOURCES = ("*.snap", "*_build-set.json", ".workbench-*", "parts", "stage", "prime")


@dataclass(frozen=True)
class GuestSpec:
    """What the host asks the guest runner to do (JSON on standard input)."""

    name: str
    parts: dict[str, Any]
    work_dir: str
    cache_dir: str
    target: str = "prime"
    part_names: list[str] = field(default_factory=list)
    build_for: str = "amd64"
    cpus: int = 1
    snap_yaml: str = ""
    apps: dict[str, Any] = field(default_factory=dict)
    gui: dict[str, str] = field(default_factory=dict)  # snap/gui/ file name -> base64 content
    snap_file: str = ""
    export_prime: bool = False
    user: str = "workbench"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GuestSpec:
        return cls(**json.loads(text))

    @property
    def work(self) -> Path:
        return Path(self.work_dir)

    @property
    def snap(self) -> Path:
        """Where ``pack`` leaves the .snap on the VM disk, for the host to fetch."""
        return self.work / "snap" / self.snap_file

    @property
    def prime_tar(self) -> Path:
        """Where ``pack`` leaves prime as a tar file when it is to be exported."""
        return self.work / "snap" / "prime.tar"

    def parts_digest(self) -> str:
        """What ``prepare`` depends on: the parts and the target architecture."""
        text = json.dumps([self.parts, self.build_for], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def packages(self) -> list[str]:
        """Every build- and stage-package the parts name (for a no-network error)."""
        found: set[str] = set()
        for part in self.parts.values():
            for key in ("build-packages", "stage-packages"):
                found.update(str(p) for p in (part or {}).get(key) or [] if isinstance(p, str))
        return sorted(found)


def _out(payload: Payload) -> None:
    emit(payload, sys.stdout)


def _manager(spec: GuestSpec) -> Any:
    """The craft-parts LifecycleManager of ``spec`` (raises PartsError for invalid parts)."""
    from craft_parts import LifecycleManager  # noqa: PLC0415 (guest-only, heavy)

    return LifecycleManager(
        {"parts": spec.parts},
        application_name=APPLICATION,
        cache_dir=Path(spec.cache_dir),
        work_dir=spec.work,
        arch=spec.build_for,
        project_name=spec.name,
        parallel_build_count=spec.cpus,
        ignore_local_sources=list(IGNORED_SOURCES),
    )


def prepare(spec: GuestSpec) -> int:
    """As root: install the build-packages unless prepared already; own the work dirs.

    Prepared already (the parts' digest matches), it imports nothing heavy: a rebuild's first
    guest process stays short."""
    marker = Path(PREPARED)
    digest = spec.parts_digest()
    started = time.monotonic()
    if not (marker.is_file() and marker.read_text().strip() == digest):
        from craft_parts import PartsError  # noqa: PLC0415 (guest-only, heavy)

        _out(StepStarted(step="prepare", action="build-packages", reason="root"))
        try:
            lcm = _manager(spec)
        except PartsError as err:
            return _refused(err, spec)
        try:
            if spec.packages():
                lcm.refresh_packages_list()  # before planning, as craft-parts asks
            with lcm.action_executor():  # its prologue installs the build-packages
                pass
        except PartsError as err:  # apt cannot reach its mirror: the environment's fault
            _out(_parts_error(err, spec, None, None))
            return 1
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(digest + "\n")
    for directory in (spec.work, Path(spec.cache_dir)):
        directory.mkdir(parents=True, exist_ok=True)
        give(directory, spec.user)
    elapsed = time.monotonic() - started
    _out(StepFinished(step="prepare", action=f"owned by {spec.user}", elapsed=elapsed))
    return 0


def give(root: Path, user: str) -> None:
    """Make ``user`` own ``root`` and everything under it (only what it does not own yet)."""
    entry = pwd.getpwnam(user)
    for path in (root, *root.rglob("*")):
        info = path.lstat()
        if (info.st_uid, info.st_gid) != (entry.pw_uid, entry.pw_gid):
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def run(spec: GuestSpec) -> int:
    """Run craft-parts up to ``spec.target``; 0 when every action succeeded."""
    from craft_parts import PartsError  # noqa: PLC0415 (guest-only, heavy)
    from craft_parts import Step as PartsStep  # noqa: PLC0415 (guest-only, heavy)
    from craft_parts.actions import ActionType  # noqa: PLC0415 (guest-only, heavy)

    target = Step.parse(spec.target)
    try:
        lcm = _manager(spec)
    except PartsError as err:  # the parts as given are invalid: the project's fault
        return _refused(err, spec)
    try:
        actions = lcm.plan(PartsStep[target.name], spec.part_names or None)
    except PartsError as err:
        return _refused(err, spec)
    planned = tuple(
        PlannedStep(
            part=a.part_name,
            step=a.step.name.lower(),
            action=a.action_type.name.lower(),
            reason=a.reason,
            skipped=a.action_type is ActionType.SKIP,
        )
        for a in actions
    )
    _out(LifecyclePlan(target=target.label, actions=planned))
    current: tuple[str, Step] | None = None
    try:
        with lcm.action_executor() as executor:
            for action in actions:
                step = Step[action.step.name]
                current = (action.part_name, step)
                label = action.action_type.name.lower()
                where = {"part": action.part_name, "step": step.label}
                if action.action_type is ActionType.SKIP:
                    _out(StepSkipped(**where, reason=action.reason or "done already"))
                    continue
                _out(StepStarted(**where, action=label, reason=action.reason or None))
                started = time.monotonic()
                sys.stderr.flush()
                executor.execute(action, stdout=sys.stderr, stderr=sys.stderr)
                os.sync()  # the step's state on disk before it counts as done: a killed VM keeps it
                elapsed = time.monotonic() - started
                _out(StepFinished(**where, action=label, elapsed=elapsed))
    except PartsError as err:
        _out(_parts_error(err, spec, *(current or (None, None))))
        return 1
    return 0


def _refused(err: Any, spec: GuestSpec) -> int:
    _out(_parts_error(err, spec, getattr(err, "part_name", None), None))
    return 2


def _parts_error(err: Any, spec: GuestSpec, part: str | None, step: Step | None) -> Failure:
    from craft_parts.errors import StagePackageNotFound  # noqa: PLC0415 (guest-only, heavy)
    from craft_parts.packages.errors import PackagesError  # noqa: PLC0415 (guest-only, heavy)

    kind = type(err).__name__
    hint = getattr(err, "resolution", None)
    brief = str(getattr(err, "brief", err))
    if isinstance(err, PackagesError | StagePackageNotFound):
        brief = f"{brief} (packages named by the parts: {', '.join(spec.packages()) or 'none'})"
        hint = hint or "the guest's apt needs a network to reach deb.debian.org"
    directory = step_directory(spec.work_dir, step, part) if step else spec.work_dir
    return Failure(
        brief=brief,
        part=part,
        step=step.label if step else None,
        hint=hint,
        details=getattr(err, "details", None),
        error=kind,
        directory=directory,
    )


def clean(spec: GuestSpec) -> int:
    """Undo ``spec.target`` and the steps after it for ``spec.part_names`` (every part without)."""
    from craft_parts import PartsError  # noqa: PLC0415 (guest-only, heavy)
    from craft_parts import Step as PartsStep  # noqa: PLC0415 (guest-only, heavy)

    step = Step.parse(spec.target)
    try:
        lcm = _manager(spec)
    except PartsError as err:
        return _refused(err, spec)
    for part in spec.part_names or list(spec.parts):
        _out(StepStarted(part=part, step=step.label, action="clean"))
    started = time.monotonic()
    try:
        lcm.clean(PartsStep[step.name], part_names=spec.part_names or None)
    except PartsError as err:
        _out(_parts_error(err, spec, None, step))
        return 1
    os.sync()  # the cleaned state on disk: a killed VM does not bring the work back
    elapsed = time.monotonic() - started
    for part in spec.part_names or list(spec.parts):
        _out(StepFinished(part=part, step=step.label, action="clean", elapsed=elapsed))
    return 0


def pack_snap(spec: GuestSpec) -> int:
    """Pack prime into ``spec.snap`` on the VM disk."""
    prime = spec.work / "prime"
    started = time.monotonic()
    _out(StepStarted(step="pack", action="mksquashfs"))
    try:
        gui = {name: base64.b64decode(data) for name, data in spec.gui.items()}
        pack(prime, SnapMeta(spec.snap_yaml, spec.apps, spec.name, gui), spec.snap)
    except (PackError, OSError, ValueError) as err:
        _out(Failure(brief=f"pack failed: {err}", step="pack", directory=str(prime)))
        return 1
    elapsed = time.monotonic() - started
    _out(StepFinished(step="pack", action="mksquashfs", elapsed=elapsed))
    return 0


def export_tar(spec: GuestSpec) -> int:
    """Put prime into ``spec.prime_tar`` for the host to fetch (``--export-prime``)."""
    prime = spec.work / "prime"
    try:
        spec.prime_tar.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(spec.prime_tar, "w") as tar:
            tar.add(prime, arcname=".")
    except OSError as err:
        _out(Failure(brief=f"exporting prime failed: {err}", step="prime", directory=str(prime)))
        return 1
    return 0


def inspect(spec: GuestSpec) -> int:
    """Print the state, directories and step environment of the spec's first part as JSON."""
    from craft_parts import PartsError  # noqa: PLC0415 (guest-only, heavy)
    from craft_parts import Step as PartsStep  # noqa: PLC0415 (guest-only, heavy)
    from craft_parts.executor.environment import (  # noqa: PLC0415 (guest-only, heavy)
        generate_step_environment,
    )
    from craft_parts.infos import StepInfo  # noqa: PLC0415 (guest-only, heavy)

    target = Step.parse(spec.target)
    name = (spec.part_names or list(spec.parts))[0]
    try:
        lcm = _manager(spec)
        # craft-parts' own part handler: the plugin and part infos a step runs with
        handler = lcm._executor._create_part_handler(
            next(p for p in lcm._executor._part_list if p.name == name)
        )
        info = StepInfo(handler._part_info, PartsStep[target.name])
        part, plugin = handler._part, handler._plugin
        script = generate_step_environment(part=part, plugin=plugin, step_info=info)
        if target is Step.BUILD:
            script = handler._prepend_build_environment(script)
    except PartsError as err:
        return _refused(err, spec)
    done = [s.label for s in Step if s <= Step.PRIME and (part.part_state_dir / s.label).exists()]
    found = {
        "part": name,
        "step": target.label,
        "done": done,
        "directories": {
            "src": str(part.part_src_subdir),
            "build": str(part.part_build_subdir),
            "install": str(part.part_install_dir),
        },
        "environment": script,
    }
    print(json.dumps(found, sort_keys=True), flush=True)
    return 0


COMMANDS = {
    "prepare": prepare,
    "run": run,
    "clean": clean,
    "pack": pack_snap,
    "export": export_tar,
    "inspect": inspect,
}
ROOT_COMMANDS = ("prepare",)
"""The commands the host runs as root; the others run as the build user."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench.lifecycle.guest")
    parser.add_argument("command", choices=tuple(COMMANDS))
    parser.add_argument("spec", help="the GuestSpec as JSON, or - to read it from stdin")
    args = parser.parse_args(argv)
    try:
        spec = GuestSpec.from_json(sys.stdin.read() if args.spec == "-" else args.spec)
        Step.parse(spec.target)
    except Exception as exc:  # a bad spec is the host's bug; say so in one event
        _out(Failure(brief=f"bad guest spec: {type(exc).__name__}: {exc}"))
        return 2
    return COMMANDS[args.command](spec)


if __name__ == "__main__":
    sys.exit(main())
