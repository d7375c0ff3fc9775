"""The build view's debug panel: one part's failed (or passed) step, debugged in place.

It shows a :class:`~workbench.lifecycle.debug.PartDebugger`: the part and step with the failure,
the step's log tail with the error lines marked, the part's state (steps done, read from the VM),
a directory choice (src, build, install) with a command box that runs there as the build user
with the step's environment (the directory kept between commands), **Terminal** (a JupyterLab
terminal logged into the VM at that directory, see :mod:`workbench.widgets.terminal`) and
**Retry** (pull the part again from the edited project, run it up to the step). Every action is a
method too. The work runs on the build view's task runner (``start``), one task at a time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

import ipywidgets as w

from workbench.lifecycle.debug import (
    DIRECTORY_KINDS,
    CommandOutcome,
    LogLine,
    PartDebugger,
    PartState,
)
from workbench.lifecycle.options import BuildResult
from workbench.widgets.log import LogPane
from workbench.widgets.style import CSS, esc, verdict_badge
from workbench.widgets.tasks import Reporter
from workbench.widgets.terminal import open_tab_script, open_terminal, running_server

Starter = Callable[[str, Callable[[Reporter], Any], LogPane, Callable[[Any], str]], None]
"""How the panel runs work: the build view's ``_start(name, job, pane, on_done)``."""


def render_tail(lines: tuple[LogLine, ...]) -> str:
    """The log tail as HTML, the error lines highlighted (``data-error="1"``)."""
    rows = "".join(
        f'<span class="wb-line{" wb-err" if line.error else ""}"'
        f' data-error="{int(line.error)}">{esc(line.text) or " "}</span>'
        for line in lines
    )
    return CSS + f'<pre class="wb-pre wb-debug-log">{rows}</pre>'


def describe_state(state: PartState) -> str:
    """The part's state as one line: which steps are done."""
    done = ", ".join(state.done) or "none"
    return f"{state.part}: steps done: {done}; commands get craft-parts' {state.step} environment"


class DebugView(w.VBox):  # type: ignore[misc]
    """The debug panel (empty until :meth:`show`)."""

    def __init__(self, start: Starter) -> None:
        self._start = start
        self.debugger: PartDebugger | None = None
        self.heading = w.HTML()
        self.heading.add_class("wb-debug-heading")
        self.tail = w.HTML(layout=w.Layout(max_height="16em", overflow="auto", width="100%"))
        self.tail.add_class("wb-debug-tail")
        self.state_line = w.HTML()
        self.state_line.add_class("wb-debug-state")
        self.directory = w.ToggleButtons(options=DIRECTORY_KINDS, value="build")
        self.cwd_line = w.HTML()
        self.cwd_line.add_class("wb-debug-cwd")
        self.command = w.Text("", placeholder="make, ls -la, env...", continuous_update=False)
        self.command.add_class("wb-debug-command")
        self.run_button = w.Button(description="Run here", icon="terminal")
        self.output = LogPane(max_lines=400, height="14em")
        self.output.add_class("wb-debug-output")
        self.inspect_button = w.Button(description="Inspect", icon="search")
        self.terminal_button = w.Button(description="Terminal", icon="external-link")
        self.retry_button = w.Button(
            description="Retry this step", icon="redo", button_style="warning"
        )
        self.note = w.HTML()
        self.note.add_class("wb-debug-note")
        self.tab_opener = w.Output(layout=w.Layout(height="0px", overflow="hidden"))
        self.note_text = ""
        self.add_class("wb-debug")
        super().__init__([])
        self.directory.observe(lambda change: self.choose(change["new"]), "value")
        self.command.observe(lambda _change: self.run_command(), "value")
        self.run_button.on_click(lambda _b: self.run_command())
        self.inspect_button.on_click(lambda _b: self.inspect())
        self.terminal_button.on_click(lambda _b: self.open_terminal())
        self.retry_button.on_click(lambda _b: self.retry())

    def show(self, debugger: PartDebugger) -> None:
        """Debug ``debugger``'s part and step: its failure and log tail (read on the host)."""
        self.debugger = debugger
        failure = debugger.failure
        where = f"{debugger.step.label} of {debugger.part}"
        if failure is not None:
            self.heading.value = verdict_badge(False, f"{where} failed: {failure.brief}")
        else:
            self.heading.value = verdict_badge(True, f"{where}: inspect what it produced")
        self.tail.value = render_tail(debugger.log_tail())
        self.state_line.value = esc("state: not read yet (Run here or Inspect reads it)")
        with self.directory.hold_trait_notifications():
            self.directory.value = debugger.directory
        self.cwd_line.value = ""
        self.output.clear()
        self._say(True, "")
        self.children = [
            self.heading,
            self.tail,
            self.state_line,
            w.HBox([w.HTML("<b>run in</b>"), self.directory, self.cwd_line]),
            w.HBox([self.command, self.run_button]),
            self.output,
            w.HBox([self.inspect_button, self.terminal_button, self.retry_button]),
            self.note,
            self.tab_opener,
        ]

    def _debugger(self) -> PartDebugger:
        if self.debugger is None:  # the callers check first: a button is only shown after show()
            raise RuntimeError("no part to debug yet")
        return self.debugger

    def _ready(self) -> bool:
        """Whether a part is shown; else say so (a script may call an action first)."""
        if self.debugger is None:
            self._say(False, "nothing to debug yet: a failed step or Debug opens a part here")
        return self.debugger is not None

    def _say(self, ok: bool, text: str) -> None:
        self.note.value = verdict_badge(ok, text)
        self.note_text = text

    def inspect(self) -> None:
        """Read the part's state (steps done, directories, the step's environment) from the VM."""
        if not self._ready():
            return
        self._start("inspect", self._debugger().inspect, self.output, self._inspected)

    def _inspected(self, state: PartState) -> str:
        self.state_line.value = esc(describe_state(state))
        self._show_cwd()
        return describe_state(state)

    def _show_cwd(self) -> None:
        cwd = self._debugger().cwd
        self.cwd_line.value = f"<code>{esc(cwd)}</code>" if cwd else ""

    def choose(self, kind: str) -> None:
        """Run the next command in the part's ``kind`` directory (src, build or install)."""
        if not self._ready():
            return
        self._debugger().choose(kind)
        if self.directory.value != kind:
            self.directory.value = kind
        self._show_cwd()

    def run_command(self, command: str | None = None) -> None:
        """Run ``command`` (default: the command box) where the part's step ran."""
        text = self.command.value if command is None else command
        if not text.strip() or not self._ready():
            return
        if command is None:
            self.command.value = ""  # the box is ready for the next one (its change runs nothing)
        debugger = self._debugger()
        self.output.append(f"{debugger.cwd or debugger.directory}$ {text}")
        self._start("debug command", partial(debugger.run, text), self.output, self._ran)

    def _ran(self, outcome: CommandOutcome) -> str:
        state = self._debugger().state
        if state is not None:
            self.state_line.value = esc(describe_state(state))
        self._show_cwd()
        said = f"exit status {outcome.exit_status} (in {outcome.cwd})"
        self.output.append(said)
        return said

    def retry(self) -> None:
        """Pull the part again from the project (fix it on the host first) and run it up to the
        step; the build log and timeline show it."""
        if not self._ready():
            return
        self._start("retry", self._debugger().retry, self.output, self._retried)

    def _retried(self, result: BuildResult) -> str:
        debugger = self._debugger()
        self.show(debugger)
        said = f"retry: {debugger.step.label} of {debugger.part} passed in {result.elapsed:.1f} s"
        self._say(True, said)
        return said

    def open_terminal(self) -> None:
        """Open a JupyterLab terminal logged into the VM at the current directory (as the build
        user, with the step's environment); in a kernel no Jupyter server started, say so."""
        if not self._ready():
            return
        debugger = self._debugger()
        server = running_server()
        command = " ".join(debugger.terminal_argv())
        if server is None:
            self._say(
                False,
                "no Jupyter server runs this kernel, so no terminal can open here:"
                f" in a terminal, run {command}",
            )
            return

        def job(feedback: Reporter) -> tuple[str, str]:
            cwd = debugger.prepare_terminal(feedback)
            return open_terminal(server, debugger.terminal_argv()), cwd

        self._start("terminal", job, self.output, self._terminal_opened)

    def _terminal_opened(self, opened: tuple[str, str]) -> str:
        name, cwd = opened
        script = {"application/javascript": open_tab_script(name, secrets.token_hex(8))}
        self.tab_opener.outputs = ({"output_type": "display_data", "data": script, "metadata": {}},)
        said = f"terminal {name} is in the VM at {cwd}"
        self._say(True, f"{said}: its tab opens now (also under Running Terminals and Kernels)")
        return said

    def summary(self) -> str:
        """The panel as plain lines: the heading's part and step, the state, the directory."""
        debugger = self.debugger
        if debugger is None:
            return "debug: nothing to debug"
        failure = debugger.failure
        verdict = f"failed: {failure.brief}" if failure else "passed"
        lines = [f"debug: {debugger.step.label} of {debugger.part} {verdict}"]
        if debugger.state is not None:
            lines.append(describe_state(debugger.state))
        if debugger.cwd:
            lines.append(f"cwd: {debugger.cwd}")
        return "\n".join(lines)
