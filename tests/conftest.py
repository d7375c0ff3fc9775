"""The suite's shared setup, in one place: the VM fixtures (``vm_fixtures``: the tiny image, a
private cache, booted guests) and the browser fixtures (``browser_fixtures``: JupyterLab, Voila
and headless Chromium) are registered here, and hypothesis keeps its examples in memory and its
caches in the temporary directory, so that no test writes into the checkout (which may belong to
another user) and no run depends on an earlier one."""

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import InMemoryExampleDatabase

from workbench.lifecycle.guest_workbench import GuestWorkbench
from workbench.lifecycle.wheelhouse import Wheelhouse

pytest_plugins = ("vm_fixtures", "browser_fixtures", "http_fixtures", "build_env")

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / f"workbench-hypothesis-{os.getuid()}")
settings.register_profile("workbench", database=InMemoryExampleDatabase())
settings.load_profile("workbench")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``WORKBENCH_TEST_ORDER=reverse`` runs the tests last to first: a check that no test
    depends on what an earlier one left behind (module fixtures are still shared)."""
    if os.environ.get("WORKBENCH_TEST_ORDER") == "reverse":
        items.reverse()


@pytest.fixture
def fake_wheelhouse(tmp_path: Path) -> Wheelhouse:
    """A wheelhouse share root under ``tmp_path`` holding empty pip, dependency and workbench
    wheels for the key ``0.1.0-k`` (enough for the install script and the injection logic)."""
    guest = GuestWorkbench("test", "0.1.0-k", ("craft-parts>=2.37",), wheel=tmp_path / "w.whl")
    house = Wheelhouse(guest, tmp_path / "wheelhouse")
    for directory, name in (
        (house.deps, "pip-25.0-py3-none-any.whl"),
        (house.deps, "craft_parts-2.37-py3-none-any.whl"),
        (house.workbench, "workbench-0.1.0-py3-none-any.whl"),
    ):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text("")
    return house
