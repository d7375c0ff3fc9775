"""The build view's debug panel in a real browser: JupyterLab in headless Chromium runs a small
notebook over a copy of ``examples/build/broken-make`` on debian-12; the chooser's **Build** fails
at ``build``, the panel opens with the compiler's error line highlighted, commands typed into its
box run in the part's build directory as the build user (the directory kept after a ``cd``), the
copy is fixed on the host, and **Retry this step** passes. Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from browser_fixtures import ROOT, Server, _serve, _stop, _workspace, free_port

from workbench import dirs
from workbench.vm.teardown import clean_instances

if TYPE_CHECKING:
    from browser_fixtures import Shoot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SHARED = ("images", "wheelhouse", "bases")
"""Machine-level caches (base images, wheels, saved base instances) the test cache links to."""
BUILD_TIMEOUT = 2400_000  # ms: a debian-12 VM from its base, build-packages, a failed build (TCG)
COMMAND_TIMEOUT = 300_000
CELL = """\
from workbench.lifecycle import BuildController, BuildOptions
from workbench.widgets import BuildView

view = BuildView(BuildController("broken-make", BuildOptions(), stop_after=900))
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
def debug_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """JupyterLab serving a notebook with a build view of a copy of broken-make, in a private
    cache (its instances) that links to the machine's images, wheels and base instances."""
    tmp = tmp_path_factory.mktemp("dlab")  # short: unix socket paths
    real = dirs.cache_dir()
    cache = tmp / "cache"
    cache.mkdir()
    for name in SHARED:
        (real / name).mkdir(parents=True, exist_ok=True)
        (cache / name).symlink_to(real / name)
    _, env = _workspace(tmp)
    tree = tmp / "work"
    tree.mkdir()
    shutil.copytree(ROOT / "examples" / "build" / "broken-make", tree / "broken-make")
    (tree / "debug.ipynb").write_text(json.dumps(NOTEBOOK))
    env["WORKBENCH_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = str(ROOT)  # the kernel and the terminal run this checkout's workbench
    port, token = free_port(), os.urandom(16).hex()
    argv = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1"]
    argv += [f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tree}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    log = tmp / "lab.log"
    proc = _serve(argv, cwd=tree, env=env, log=log, ready=f"{base}/api/status?token={token}")
    try:
        yield Server(base, f"?token={token}", tree, log)
    finally:
        _stop(proc)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_CACHE_DIR", str(cache))
            clean_instances()


def type_command(page: Any, command: str) -> None:
    box = page.locator(".wb-debug-command input")
    box.fill(command)
    box.press("Enter")


def test_the_debug_panel_takes_a_failing_part_to_a_fix_and_a_passing_retry(
    page: Any, debug_lab: Server, shoot: Shoot
) -> None:
    page.goto(debug_lab.url("lab/workspaces/debug/tree/debug.ipynb"))
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=COMMAND_TIMEOUT)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=COMMAND_TIMEOUT)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    build = page.get_by_role("button", name="Build", exact=True)
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

    source = debug_lab.tree / "broken-make" / "src" / "hello.c"
    source.write_text(source.read_text().replace("GREETNG", "GREETING"))
    page.get_by_role("button", name="Retry this step").click()
    note = page.locator(".wb-debug-note")
    note.get_by_text("retry: build of hello passed").wait_for(timeout=BUILD_TIMEOUT)
    assert "inspect what it produced" in heading.inner_text()
    page.locator(".wb-debug").scroll_into_view_if_needed()
    shoot("03-debug-retried")
