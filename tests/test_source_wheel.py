"""The guest's workbench wheel, written from the source tree without a build backend."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from workbench.lifecycle.guest_workbench import from_tree, from_wheel, source_root
from workbench.lifecycle.source_wheel import write_wheel


def test_the_wheel_installs_with_pip_and_its_code_runs(tmp_path: Path) -> None:
    wheel = write_wheel(source_root(), tmp_path)
    assert wheel.name == "workbench-0.1.0-py3-none-any.whl"
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    probe = (
        "import importlib.metadata as m, workbench.lifecycle.guest as g, workbench.vm.images;"
        "print(g.__file__); print(m.version('workbench'));"
        "print(sorted(m.requires('workbench') or [])[:1])"
    )
    ran = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    where, version, _ = ran.stdout.splitlines()
    assert where.startswith(str(target))  # the installed copy, not this checkout
    assert version == "0.1.0"
    assert (target / "workbench" / "vm" / "images.json").is_file()  # package data travels
    assert (target / "bin" / "workbench").is_file()  # the console script from entry_points.txt


def copy_tree(tmp_path: Path) -> Path:
    """A copy of this workbench's source tree (pyproject and package) with a stray cache."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy2(source_root() / "pyproject.toml", tree)
    shutil.copytree(source_root() / "workbench", tree / "workbench")
    (tree / "workbench" / "__pycache__").mkdir(exist_ok=True)
    (tree / "workbench" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    return tree


def test_the_wheel_says_what_the_guest_needs_and_leaves_caches_out(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    wheel = write_wheel(tree, tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "workbench/lifecycle/guest.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert names[-1] == "workbench-0.1.0.dist-info/RECORD"
    # read back the way a wheel given to --workbench-version is read: the same guest extra
    assert from_wheel(wheel).requirements == from_tree(tree, label="t").requirements


def test_the_same_tree_gives_the_same_bytes(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_wheel(tree, tmp_path / "a")
    (tree / "workbench" / "lifecycle" / "guest.py").touch()  # a newer mtime, the same content
    second = write_wheel(tree, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
