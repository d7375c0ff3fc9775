"""Every notebook runs top to bottom and prints what it printed before.

nbval runs in a child pytest (``--nbval`` on the notebooks, ``--nbval-current-env`` so the kernel
is this interpreter), so that a plain ``pytest`` (``testpaths = ["tests"]``, as ``./dev test`` runs
it) covers the notebooks without collecting ``notebooks/`` itself; each notebook gets a fresh
kernel. Outputs are compared strictly (no ``--nbval-lax``): every printed line is deterministic.
The sanitised outputs are a displayed view's text repr (its widget ids and trait values vary;
nbval already skips the widget-view data itself) and measured times (``0.79 s``).

The VM notebook (03) boots a real VM, so it runs in a slow test of its own, on the ``tiny`` image
(``WORKBENCH_NOTEBOOK_IMAGE``) and in a private cache (its instances and project copy) that links
to the machine's base images. The performance notebook (05) boots real VMs and builds too: a slow
test of its own in quick mode (``WORKBENCH_PERF_QUICK``), in a private cache that links to the
machine's base images, wheelhouse and saved base instances (made once per machine); its measured
figures, ratios and accelerator are sanitised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import dirs
from workbench.vm.teardown import clean_instances

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

SANITIZE = r"""[displayed views]
regex: (?s)^(\w+View)\(.*
replace: \1(...)

[measured times]
regex: \b\d+\.\d+ s\b
replace: #.## s

[clock times]
regex: stops at \d\d:\d\d \(in [^)]*\)
replace: stops at HH:MM (in N)

[idle since]
regex: idle since \d\d:\d\d
replace: idle since HH:MM
"""


PERF_SANITIZE = r"""[measured figures]
regex: \b\d+(\.\d+)?( \[[\d.]+\.\.[\d.]+\])? (s|MB/s)\b
replace: N UNIT

[ratios]
regex: A/B \d+(\.\d+)?x
replace: A/B Nx

[accelerator]
regex: \b(KVM|TCG)\b
replace: ACCEL

[cores]
regex: \d+ cores
replace: N cores
"""
"""Before the common rules: the figures in any form (an integer, a spread) become one text."""

NAMES = ("01-explode.ipynb", "02-architectures.ipynb", "04-template-authoring.ipynb")
VM_NOTEBOOK = "03-build-vm.ipynb"
PERF_NOTEBOOK = "05-performance.ipynb"
PERF_SHARED_CACHE = ("images", "wheelhouse", "bases")


def code_cells(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum(cell["cell_type"] == "code" for cell in cells)


def run_nbval(
    names: tuple[str, ...],
    tmp_path: Path,
    env: dict[str, str] | None = None,
    rules: str = SANITIZE,
) -> None:
    """Run the notebooks ``names`` under nbval; every code cell must pass."""
    sanitize = tmp_path / "sanitize.cfg"
    sanitize.write_text(rules)
    notebooks = [NOTEBOOKS / name for name in names]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(sanitize),
            *map(str, notebooks),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for notebook in notebooks:
        passed = proc.stdout.count(f"PASSED notebooks/{notebook.name}::")
        assert passed == code_cells(notebook), notebook.name


def test_notebooks_run_and_match_their_outputs(tmp_path: Path) -> None:
    run_nbval(NAMES, tmp_path)


@pytest.mark.slow
def test_the_vm_notebook_runs_on_the_tiny_image(tmp_path_factory: pytest.TempPathFactory) -> None:

    tmp_path = tmp_path_factory.mktemp("nb")  # short: the instance's unix socket path
    cache = tmp_path / "cache"
    cache.mkdir()
    images = dirs.images_dir()
    images.mkdir(parents=True, exist_ok=True)
    (cache / "images").symlink_to(images)
    try:
        run_nbval(
            (VM_NOTEBOOK,),
            tmp_path,
            {"WORKBENCH_NOTEBOOK_IMAGE": "tiny", "WORKBENCH_CACHE_DIR": str(cache)},
        )
    finally:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_CACHE_DIR", str(cache))
            left = clean_instances()
    assert left == []  # the notebook's last cell cleaned its VM
    assert (cache / "projects" / "c-make" / "snapcraft.yaml").is_file()


@pytest.mark.slow
def test_the_performance_notebook_measures_and_charts_in_quick_mode(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp_path = tmp_path_factory.mktemp("nb")  # short: the instances' unix socket paths
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in PERF_SHARED_CACHE:  # the saved base is made once per machine, not per run
        (dirs.cache_dir() / name).mkdir(parents=True, exist_ok=True)
        (cache / name).symlink_to(dirs.cache_dir() / name)
    try:
        run_nbval(
            (PERF_NOTEBOOK,),
            tmp_path,
            {"WORKBENCH_PERF_QUICK": "1", "WORKBENCH_CACHE_DIR": str(cache)},
            PERF_SANITIZE + SANITIZE,
        )
    finally:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKBENCH_CACHE_DIR", str(cache))
            left = clean_instances()
    assert left == []  # every VM the measurements made was removed


def test_notebooks_open_with_what_they_teach() -> None:
    for notebook in sorted(NOTEBOOKS.glob("0*.ipynb")):
        first = json.loads(notebook.read_text())["cells"][0]
        assert first["cell_type"] == "markdown", notebook.name
        assert "**What this teaches.**" in "".join(first["source"]), notebook.name


def test_stored_outputs_hold_no_widget_state() -> None:
    for notebook in sorted(NOTEBOOKS.glob("0*.ipynb")):
        data = json.loads(notebook.read_text())
        assert "widgets" not in data["metadata"], notebook.name
