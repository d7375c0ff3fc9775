"""Fixtures of the browser tests: a JupyterLab (or Voila) server and Debian's headless Chromium.

The servers run on 127.0.0.1, on a free port, in a private copy of ``notebooks/`` and
``examples/`` (JupyterLab autosaves edited notebooks: the repository's copies must not change),
with private Jupyter config, data, runtime and settings directories. JupyterLab needs a token.
Chromium is ``/usr/bin/chromium``, driven by Playwright over CDP; no browser is ever downloaded.
Screenshots go to ``tests/artifacts/`` (a temporary directory when it is not writable).
The kernels import this checkout's ``workbench``. ``tiny_lab`` is a JupyterLab whose notebook 03
boots the ``tiny`` image in a private cache. The helpers drive a notebook: :func:`run_all_cells`
(open it, clear its outputs, run every cell, wait for the last), :func:`error_outputs` (what
failed), :func:`menu` and :func:`shutdown_kernels`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workbench import dirs
from workbench.vm.teardown import clean_instances

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 120.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running server: its base URL, the query string that authenticates, its work tree."""

    base: str
    query: str
    tree: Path
    log: Path

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}{self.query}"


def _workspace(tmp: Path) -> tuple[Path, dict[str, str]]:
    """A copy of notebooks/ and examples/ plus an environment with private Jupyter dirs, in which
    ``import workbench`` loads this checkout (also when another one is installed editable)."""
    tree = tmp / "tree"
    shutil.copytree(ROOT / "notebooks", tree / "notebooks")
    shutil.copytree(ROOT / "examples", tree / "examples")
    env = dict(os.environ)
    path = [str(ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        PYTHONPATH=os.pathsep.join(path),  # the kernels import this checkout's workbench
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),  # no news prompt: the lab's own settings
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        PYTHONUNBUFFERED="1",
    )
    return tree, env


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # the server answers (an error page is an answer)
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not ready after {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


def _serve(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, ready: str) -> Any:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, ready, log)
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@contextlib.contextmanager
def _lab(tmp: Path, extra_env: Mapping[str, str]) -> Iterator[Server]:
    """JupyterLab on 127.0.0.1 with a token in a copy of the tree, ``extra_env`` in its env."""
    tree, env = _workspace(tmp)
    env.update(extra_env)
    port, token = free_port(), os.urandom(16).hex()
    argv = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tree}",
        "--LabApp.expose_app_in_browser=True",  # as ./dev lab: widgets may open terminal tabs
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    log = tmp / "lab.log"
    proc = _serve(argv, cwd=tree, env=env, log=log, ready=f"{base}/api/status?token={token}")
    try:
        yield Server(base, f"?token={token}", tree, log)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """JupyterLab on 127.0.0.1 with a token, serving a copy of notebooks/ and examples/."""
    with _lab(tmp_path_factory.mktemp("lab"), {}) as server:
        yield server


@pytest.fixture(scope="module")
def tiny_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """:func:`jupyter_lab` whose notebook 03 runs on the ``tiny`` image (boots in seconds) in a
    private cache that links to the machine's base images, as its nbval test does; every VM left
    in that cache is destroyed at the end."""
    tmp = tmp_path_factory.mktemp("vl")  # short: the instances' unix socket paths
    cache = tmp / "cache"
    cache.mkdir()
    images = dirs.images_dir()
    images.mkdir(parents=True, exist_ok=True)
    (cache / "images").symlink_to(images)
    env = {"WORKBENCH_NOTEBOOK_IMAGE": "tiny", "WORKBENCH_CACHE_DIR": str(cache)}
    try:
        with _lab(tmp, env) as server:
            yield server
    finally:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_CACHE_DIR", str(cache))
            clean_instances()


@pytest.fixture(scope="module")
def dev_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``./dev lab`` itself (the README's first command), on the checkout's notebooks/, with
    private Jupyter directories; opening files there writes nothing."""
    tmp = tmp_path_factory.mktemp("dev-lab")
    _, env = _workspace(tmp)
    port, token = free_port(), os.urandom(16).hex()
    argv = [str(ROOT / "dev"), "lab", "--no-browser", f"--port={port}"]
    argv.append(f"--IdentityProvider.token={token}")
    base = f"http://127.0.0.1:{port}"
    log = tmp / "lab.log"
    proc = _serve(argv, cwd=tmp, env=env, log=log, ready=f"{base}/api/status?token={token}")
    try:
        yield Server(base, f"?token={token}", ROOT / "notebooks", log)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Voila serving notebooks/02-architectures.ipynb (as the README's review command does)."""
    tmp = tmp_path_factory.mktemp("voila")
    tree, env = _workspace(tmp)
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "voila",
        "notebooks/02-architectures.ipynb",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
    ]
    base = f"http://127.0.0.1:{port}"
    log = tmp / "voila.log"
    proc = _serve(argv, cwd=tree, env=env, log=log, ready=f"{base}/static/")
    try:
        yield Server(base, "", tree, log)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (heavy, browser tests only)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page, 1400x1000, in its own context."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


Shoot = Callable[[str], Path]


def artifacts(fallback: Path) -> Path:
    """``tests/artifacts/`` when this user may write there (the checkout may belong to another
    user), else ``fallback``."""
    try:
        ARTIFACTS.mkdir(exist_ok=True)
    except OSError:
        return fallback
    return ARTIFACTS if os.access(ARTIFACTS, os.W_OK | os.X_OK) else fallback


@pytest.fixture
def shoot(page: Any, tmp_path: Path) -> Shoot:
    """``shoot(NAME)`` saves the page as ``tests/artifacts/NAME.png`` (else in the test's
    temporary directory) and returns the path."""
    where = artifacts(tmp_path)

    def save(name: str) -> Path:
        path = where / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


RUN_TIMEOUT = 180_000
"""Milliseconds for a kernel to start and a notebook's cells to run, on a shared 2-core machine."""

ALL_RAN = """() => {
  const panel = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden)");
  if (!panel) return false;
  if (panel.querySelector(".jp-OutputArea-output[data-mime-type*='stderr']")) return true;
  const prompts = [...panel.querySelectorAll(".jp-CodeCell .jp-InputPrompt")];
  return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
}"""
"""True once every code cell of the open notebook shows its execution count, or one failed."""


def menu(page: Any, *path: str) -> None:
    """Click through JupyterLab's menu bar: ``menu(page, "Run", "Run All Cells")``."""
    for name in path:
        page.get_by_role("menuitem", name=name, exact=True).click()


def run_all_cells(page: Any, lab: Server, notebook: str, *, timeout: float = RUN_TIMEOUT) -> None:
    """Open ``notebooks/NOTEBOOK`` in JupyterLab (a fresh workspace: no tab restored from an
    earlier test), clear its stored outputs, run every cell and wait until each code cell has run
    (or one wrote to stderr: see :func:`error_outputs`)."""
    workspace = notebook.removesuffix(".ipynb")
    page.goto(lab.url(f"lab/workspaces/{workspace}/tree/notebooks/{notebook}"))
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=timeout)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=timeout)
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.locator(".jp-OutputArea-output").first.wait_for(state="detached", timeout=timeout)
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(ALL_RAN, timeout=timeout)


def error_outputs(page: Any) -> list[str]:
    """The text of every error or stderr output in the page, and of every widget that failed to
    display."""
    errors: list[str] = page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type*='stderr']", "els => els.map(e => e.innerText)"
    )
    failed = page.get_by_text("Error displaying widget")
    return errors + [failed.nth(i).inner_text() for i in range(failed.count())]


def shutdown_kernels(lab: Server) -> None:
    """Shut down every kernel of ``lab`` (a notebook's kernel outlives its browser page)."""
    with urllib.request.urlopen(f"{lab.base}/api/kernels{lab.query}", timeout=30) as answer:
        kernels = json.load(answer)
    for kernel in kernels:
        request = urllib.request.Request(
            f"{lab.base}/api/kernels/{kernel['id']}{lab.query}", method="DELETE"
        )
        with urllib.request.urlopen(request, timeout=60):
            pass
