"""Notebook 05 in a real browser: JupyterLab in headless Chromium runs every cell, real VMs
measure (quick mode, in a private cache), and the charts render with their captions.

The JupyterLab server (and so its kernel) gets ``WORKBENCH_PERF_QUICK=1``,
``WORKBENCH_PERF_BUILDS=0`` (the VM comparisons only: the two debian-12 build comparisons run
in the notebook's nbval test, ``tests/test_notebooks.py``, and measuring them twice would only
cost CI time) and a private ``WORKBENCH_CACHE_DIR`` that links to the machine's images,
wheelhouse and saved base instances. Screenshot: ``tests/artifacts/05-performance.png`` (the
controls, the summary's status and the VM start and 9p charts).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from browser_fixtures import error_outputs, run_all_cells, shutdown_kernels

from workbench import dirs
from workbench.vm.teardown import clean_instances

if TYPE_CHECKING:
    from browser_fixtures import Server, Shoot

pytestmark = [pytest.mark.slow, pytest.mark.browser]

MEASURE_TIMEOUT = 1_800_000  # ms: the whole quick run under TCG on a loaded 2-core machine
SHARED_CACHE = ("images", "wheelhouse", "bases")
CHARTS = 2


@pytest.fixture(scope="module", autouse=True)
def quick_private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Quick mode and a private cache for the lab server started after this (module scope,
    autouse: before ``jupyter_lab``); every VM left there is removed at the end."""
    cache = tmp_path_factory.mktemp("perf") / "cache"
    cache.mkdir()
    for name in SHARED_CACHE:
        (dirs.cache_dir() / name).mkdir(parents=True, exist_ok=True)
        (cache / name).symlink_to(dirs.cache_dir() / name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_PERF_QUICK", "1")
        patch.setenv("WORKBENCH_PERF_BUILDS", "0")
        patch.setenv("WORKBENCH_CACHE_DIR", str(cache))
        yield cache
        assert clean_instances() == []  # the notebook's measurements removed their VMs


def test_05_performance_measures_and_draws_a_chart_per_comparison(
    page: Any, jupyter_lab: Server, shoot: Shoot
) -> None:
    run_all_cells(page, jupyter_lab, "05-performance.ipynb", timeout=MEASURE_TIMEOUT)
    assert error_outputs(page) == []
    summary = page.locator(".jp-OutputArea-output pre", has_text="comparisons measured")
    summary.wait_for(timeout=MEASURE_TIMEOUT)
    assert summary.inner_text().startswith(f"done: {CHARTS} comparisons measured")
    page.get_by_text("9p share only -> (True,)").wait_for(timeout=60_000)  # the last cell ran

    charts = page.locator(".wb-perf-chart")
    assert charts.count() == CHARTS
    captions = charts.locator(".wb-perf-caption").all_inner_texts()
    accel = "KVM" if "measured on KVM" in captions[0] else "TCG"
    assert all(f"measured on {accel} (accelerator)" in text for text in captions)
    assert [text.split("\n")[0].split(":")[0] for text in captions] == [
        "VM start to the first command",
        "9p read of a 16 MiB file on the project share",
    ]
    sizes = page.eval_on_selector_all(
        ".wb-perf-chart img", "els => els.map(e => [e.naturalWidth, e.naturalHeight])"
    )
    assert len(sizes) == CHARTS
    assert all(width > 300 and height > 100 for width, height in sizes)  # decoded PNGs
    alts = page.eval_on_selector_all(".wb-perf-chart img", "els => els.map(e => e.alt)")
    assert all(f"measured on {accel}" in alt for alt in alts)

    page.locator(".wb-status", has_text="comparisons measured").scroll_into_view_if_needed()
    shoot("05-performance")
    shutdown_kernels(jupyter_lab)
