"""One image build in progress: named steps reported to a listener, commands logged to a file.

A builder declares its steps up front, enters each with :meth:`BuildSession.step` and runs host
commands with :meth:`BuildSession.run`: their output goes to the build log next to the image, and
a failure raises :class:`~workbench.errors.VmError` with the log's tail and path.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TextIO

from workbench.errors import VmError
from workbench.progress import Progress, ProgressListener

TAIL_LINES = 30


class BuildSession:
    """Steps, progress and the build log of one image build."""

    def __init__(
        self,
        name: str,
        steps: Sequence[str],
        log: TextIO,
        log_path: Path,
        listener: ProgressListener,
    ) -> None:
        self.name = name
        self.steps = list(steps)
        self.log = log
        self.log_path = log_path
        self.listener = listener
        self.started = time.monotonic()
        self.durations: dict[str, float] = {}

    @property
    def task(self) -> str:
        return f"build {self.name}"

    def note(self, text: str) -> None:
        """Append a timestamped line to the build log."""
        self.log.write(f"[{time.monotonic() - self.started:8.2f}s] {text}\n")
        self.log.flush()

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Run one declared step: progress before and after, its duration in the log."""
        index = self.steps.index(title)
        self.listener(Progress(self.task, index, len(self.steps), title, unit="step"))
        self.note(f"== {title}")
        begin = time.monotonic()
        yield
        self.durations[title] = time.monotonic() - begin
        self.note(f"== {title}: {self.durations[title]:.1f}s")
        last = index + 1 == len(self.steps)
        self.listener(
            Progress(self.task, index + 1, len(self.steps), title, unit="step", finished=last)
        )

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """Run ``argv`` with its output in the log; raise VmError (with the log tail) on failure."""
        self.note("$ " + shlex.join(argv))
        begin = time.monotonic()
        try:
            proc = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                check=False,
            )
        except FileNotFoundError as exc:
            raise VmError(
                f"cannot build image {self.name}: {argv[0]} is not installed",
                hint="run ./dev to install the host packages",
            ) from exc
        self.note(f"exit {proc.returncode} after {time.monotonic() - begin:.1f}s")
        if proc.returncode != 0:
            self.fail(f"{argv[0]} exited with status {proc.returncode}")

    def fail(self, what: str) -> NoReturn:
        """Raise the build failure ``what`` with the log's tail."""
        self.log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()
        raise VmError(
            f"building image {self.name} failed: {what}",
            hint=f"see {self.log_path}",
            details="\n".join(lines[-TAIL_LINES:]),
        )
