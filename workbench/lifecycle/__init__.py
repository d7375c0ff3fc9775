"""Builds in the VM, step by step: pull, build, stage, prime (craft-parts in the guest), pack.

Host side: :mod:`.build_project` (find the project upward, explode, resolve architectures and
grammar),
:mod:`.steps` (the steps and the host plan, as data), :mod:`.session` (boot, inject, run, pack),
:mod:`.wheelhouse` (the injection), :mod:`.base_instance` (new projects start from a saved base
instance), :mod:`.keepalive` (the idle policy after a build), :mod:`.snapyaml` (meta/snap.yaml),
:mod:`.outputs` (the .snap and prime fetched into the project), :mod:`.prime` (prime/ in the VM
and the packed snap.yaml, as data), :mod:`.events` (the typed event stream), :mod:`.wire` (its
versioned JSON lines, ``events.jsonl`` and ``build.log``), :mod:`.safetext` (guest text made safe
to show), :mod:`.controller` (the one decision point that ``workbench build`` and the
notebook's build view both drive), :mod:`.choices` (what to build, mapped onto the options for
both) and :mod:`.debug` (one part debugged in place). Guest side: :mod:`.guest` (the runner
driving craft-parts) and :mod:`.pack`; these two and :mod:`.events`, :mod:`.wire`,
:mod:`.safetext` and :mod:`.steps` import only the standard library at module level, because the
guest has no host dependencies.

Developing the guest side: a debian-12 instance that ran one build has the wheelhouse installed
in ``/opt/workbench/venv``; pushing edited ``workbench/lifecycle/*.py`` files into that venv's
``site-packages/workbench/lifecycle/`` (``Instance.push``) and running ``runuser -u workbench --
python -m workbench.lifecycle.guest run - < SPEC.json`` there with ``cwd=/project``
(``prepare`` as root) takes seconds, which is how the runner was developed (a full ``build``
reinstalls the wheelhouse whenever the sources change).

Importing this package loads nothing; the names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.lazy import lazy_getattr

_LAZY = {
    "BuildController": "workbench.lifecycle.controller",
    "copy_example": "workbench.lifecycle.build_project",
    "BuildOptions": "workbench.lifecycle.options",
    "BuildResult": "workbench.lifecycle.options",
    "Session": "workbench.lifecycle.session",
    "clean": "workbench.lifecycle.session",
    "Step": "workbench.lifecycle.steps",
    "ShellMode": "workbench.lifecycle.steps",
    "HostAction": "workbench.lifecycle.steps",
    "Event": "workbench.lifecycle.events",
    "read_events": "workbench.lifecycle.wire",
    "BuildProject": "workbench.lifecycle.build_project",
    "resolve_build": "workbench.lifecycle.build_project",
}

__all__ = [
    "BuildController",
    "BuildOptions",
    "BuildProject",
    "BuildResult",
    "Event",
    "HostAction",
    "Session",
    "ShellMode",
    "Step",
    "clean",
    "copy_example",
    "read_events",
    "resolve_build",
]

if TYPE_CHECKING:
    from workbench.lifecycle.build_project import BuildProject, copy_example, resolve_build
    from workbench.lifecycle.controller import BuildController
    from workbench.lifecycle.events import Event
    from workbench.lifecycle.options import BuildOptions, BuildResult
    from workbench.lifecycle.session import Session, clean
    from workbench.lifecycle.steps import HostAction, ShellMode, Step
    from workbench.lifecycle.wire import read_events


__getattr__ = lazy_getattr(__name__, _LAZY)
