"""Every notebook (but the VM one, issue 8) runs top to bottom and prints what it printed before.

nbval runs in one child pytest (``--nbval`` on the notebooks, ``--nbval-current-env`` so the kernel
is this interpreter), so that a plain ``pytest`` (``testpaths = ["tests"]``, as ``./dev test`` runs
it) covers the notebooks without collecting ``notebooks/`` itself; each notebook gets a fresh
kernel. Outputs are compared strictly (no ``--nbval-lax``): every printed line is deterministic.
The only sanitised output is a displayed view's text repr (its widget ids and trait values vary;
nbval already skips the widget-view data itself).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

SANITIZE = r"""[displayed views]
regex: (?s)^(\w+View)\(.*
replace: \1(...)
"""


NAMES = ("01-explode.ipynb", "02-architectures.ipynb", "04-template-authoring.ipynb")


def code_cells(notebook: Path) -> int:
    cells = json.loads(notebook.read_text())["cells"]
    return sum(cell["cell_type"] == "code" for cell in cells)


def test_notebooks_run_and_match_their_outputs(tmp_path: Path) -> None:
    sanitize = tmp_path / "sanitize.cfg"
    sanitize.write_text(SANITIZE)
    notebooks = [NOTEBOOKS / name for name in NAMES]
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
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for notebook in notebooks:
        passed = proc.stdout.count(f"PASSED notebooks/{notebook.name}::")
        assert passed == code_cells(notebook), notebook.name


def test_notebooks_open_with_what_they_teach() -> None:
    for notebook in sorted(NOTEBOOKS.glob("0*.ipynb")):
        first = json.loads(notebook.read_text())["cells"][0]
        assert first["cell_type"] == "markdown", notebook.name
        assert "**What this teaches.**" in "".join(first["source"]), notebook.name


def test_stored_outputs_hold_no_widget_state() -> None:
    for notebook in sorted(NOTEBOOKS.glob("0*.ipynb")):
        data = json.loads(notebook.read_text())
        assert "widgets" not in data["metadata"], notebook.name
