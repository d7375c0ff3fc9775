"""The build view's debug panel in a real browser: JupyterLab in headless Chromium runs a small
notebook over a copy of ``examples/build/broken-make`` on debian-12; the chooser's **Build** fails
at ``build``, the panel opens with the compiler's error line highlighted, commands typed into its
box run in the part's build directory as the build user (the directory kept after a ``cd``), the
copy is fixed on the host, and **Retry this step** passes. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from browser_fixtures import ROOT, Server
from vm_fixtures import build_cache

from workbench.vm.teardown import clean_instances

if TYPE_CHECKING:
    from browser_fixtures import Shoot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

BUILD_TIMEOUT = 2400_000  # ms: a debian-12 VM from its base, build-packages, a failed build (TCG)
COMMAND_TIMEOUT = 300_000
CELL = """\
from workbench.lifecycle import BuildController, BuildOptions
from workbench.widgets import BuildView

project = "../examples/build/broken-make"  # the lab's own copy
view = BuildView(BuildController(project, BuildOptions(), stop_after=900))
view"""
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": CELL.splitlines(keepends=True),
        }
    ],
    "metadata": {"kernelspec": KERNEL},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def debug_lab(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    """The suite's JupyterLab (a copy of notebooks/ and examples/), started with a private build
    cache in its environment (its kernels and terminals inherit it, and this checkout's
    workbench), plus a notebook of a build view of its copy of broken-make."""
    with build_cache(tmp_path_factory.mktemp("dlab")), pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(ROOT))
        lab: Server = request.getfixturevalue("jupyter_lab")  # started now: with this environment
        (lab.tree / "notebooks" / "debug-panel.ipynb").write_text(json.dumps(NOTEBOOK))
        try:
            yield lab
        finally:
            clean_instances()


def button_name(label: str) -> re.Pattern[str]:
    """A widget button's accessible name: its icon's glyph (if any), then exactly ``label``."""
    return re.compile(rf"^\W*{re.escape(label)}$")


def type_command(page: Any, command: str) -> None:
    box = page.locator(".wb-debug-command input")
    box.fill(command)
    box.press("Enter")


def terminal_says(lab: Server, name: str, command: str, wanted: re.Pattern[str]) -> str:
    """Type ``command`` into the lab's terminal ``name`` and read it until ``wanted`` shows."""
    import websocket  # noqa: PLC0415 (websocket-client, a jupyter_server dependency)

    token = lab.query.removeprefix("?token=")
    url = f"{lab.base.replace('http', 'ws', 1)}/terminals/websocket/{name}?token={token}"
    socket = websocket.create_connection(url, timeout=30)
    seen = ""
    try:
        socket.send(json.dumps(["stdin", command + "\r"]))
        deadline = time.monotonic() + COMMAND_TIMEOUT / 1000
        while not wanted.search(seen) and time.monotonic() < deadline:
            try:
                kind, *data = json.loads(socket.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if kind == "stdout":
                seen += "".join(data)
    finally:
        socket.close()
    return seen


def the_terminal_tab_is_in_the_vm(page: Any, lab: Server, shoot: Shoot) -> None:
    """Terminal: its tab opens in front of the notebook, logged into the VM in the part's
    directory as the build user with the step's environment; then back to the notebook."""
    page.get_by_role("button", name=button_name("Terminal")).click()
    note = page.locator(".wb-debug-note")
    # the terminal's tab opens in front of the notebook (which is then hidden, not gone)
    note.get_by_text("is in the VM at").wait_for(state="attached", timeout=COMMAND_TIMEOUT)
    said = note.text_content() or ""
    found = re.search(r"terminal (\S+) is in the VM at (\S+):", said)
    assert found is not None, said
    assert found.group(2).endswith("/parts/hello")
    title = page.locator(".lm-TabBar-tab", has_text=f"Terminal {found.group(1)}").first
    title.wait_for(timeout=COMMAND_TIMEOUT)
    page.locator(".jp-MainAreaWidget .jp-Terminal").first.wait_for(timeout=COMMAND_TIMEOUT)
    wanted = re.compile(r"in=/\S+/parts/hello user=workbench step=BUILD")
    command = "echo in=$PWD user=$(id -un) step=$CRAFT_STEP_NAME"
    assert wanted.search(terminal_says(lab, found.group(1), command, wanted))
    shoot("03-debug-terminal")  # xterm draws on a canvas: the text is read over the websocket
    page.locator(".lm-TabBar-tab", has_text="debug-panel.ipynb").first.click()
    note.wait_for(timeout=COMMAND_TIMEOUT)  # back on the notebook


def test_the_debug_panel_takes_a_failing_part_to_a_fix_and_a_passing_retry(
    page: Any, debug_lab: Server, shoot: Shoot
) -> None:
    page.goto(debug_lab.url("lab/workspaces/debug/tree/notebooks/debug-panel.ipynb"))
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=COMMAND_TIMEOUT)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=COMMAND_TIMEOUT)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    build = page.get_by_role("button", name=button_name("Build"))
    build.wait_for(timeout=COMMAND_TIMEOUT)
    build.click()

    heading = page.locator(".wb-debug-heading")
    heading.get_by_text("build of hello failed").wait_for(timeout=BUILD_TIMEOUT)
    errors = page.locator(".wb-debug-tail [data-error='1']")
    assert "GREETNG" in errors.first.inner_text()
    page.locator(".wb-debug").scroll_into_view_if_needed()
    shoot("03-debug-failed")

    output = page.locator(".wb-debug-output")
    type_command(page, "pwd; id -un; echo step=$CRAFT_STEP_NAME")
    output.get_by_text("exit status 0").wait_for(timeout=COMMAND_TIMEOUT)
    text = output.inner_text()
    assert "/parts/hello/build\nworkbench\nstep=BUILD" in text, text
    type_command(page, "cd ..")
    parent = page.locator(".wb-debug-cwd code", has_text=re.compile(r"/parts/hello$"))
    parent.wait_for(timeout=COMMAND_TIMEOUT)
    type_command(page, "make -C build")
    output.get_by_text("exit status 2").wait_for(timeout=COMMAND_TIMEOUT)
    assert "GREETNG" in output.inner_text()
    page.locator(".wb-debug").scroll_into_view_if_needed()
    shoot("03-debug-command")

    the_terminal_tab_is_in_the_vm(page, debug_lab, shoot)

    source = debug_lab.tree / "examples" / "build" / "broken-make" / "src" / "hello.c"
    source.write_text(source.read_text().replace("GREETNG", "GREETING"))
    page.get_by_role("button", name=button_name("Retry this step")).click()
    note = page.locator(".wb-debug-note")
    note.get_by_text("retry: build of hello passed").wait_for(timeout=BUILD_TIMEOUT)
    assert "inspect what it produced" in heading.inner_text()
    page.locator(".wb-debug").scroll_into_view_if_needed()
    shoot("03-debug-retried")
