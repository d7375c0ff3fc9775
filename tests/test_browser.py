"""The notebooks in a real browser: JupyterLab (and Voila) driven through headless Chromium.

Every notebook is opened in one JupyterLab (``tiny_lab``: notebook 03 boots the ``tiny`` image in
a private cache), its stored outputs cleared and all its cells run; no cell may fail or write to
stderr, its views must render, and the test then edits and clicks as a reader would. A screenshot
of each is kept in ``tests/artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from browser_fixtures import RUN_TIMEOUT, error_outputs, run_all_cells, shutdown_kernels

if TYPE_CHECKING:
    from browser_fixtures import Server, Shoot


pytestmark = [pytest.mark.browser, pytest.mark.slow]

VM_TIMEOUT = 900_000  # ms: notebook 03 boots, snapshots, stops and cleans a VM under TCG
EDIT_TIMEOUT = 30_000  # ms: from an edit in the browser to the view's update


@pytest.fixture
def lab(tiny_lab: Server) -> Iterator[Server]:
    """The module's JupyterLab; each test's kernels are shut down after it."""
    yield tiny_lab
    shutdown_kernels(tiny_lab)


def origins_and_colours(page: Any) -> tuple[set[str], set[str]]:
    """The origin labels and the background colours of the exploded view's lines."""
    result: list[list[str]] = page.eval_on_selector_all(
        ".wb-exploded-view .wb-line",
        "els => els.map(e => [e.dataset.origin, getComputedStyle(e).backgroundColor])",
    )
    return {origin for origin, _ in result}, {colour for _, colour in result}


def test_01_explode_edit_the_yaml_and_the_provenance_changes(
    page: Any, lab: Server, shoot: Shoot
) -> None:
    run_all_cells(page, lab, "01-explode.ipynb")
    assert error_outputs(page) == []
    view = page.locator(".wb-exploded-view")
    view.locator("[data-origin='template gtk3']").first.wait_for(timeout=RUN_TIMEOUT)
    page.get_by_text("Uses the kde-neon template").first.wait_for()  # the last cell's output
    origins, colours = origins_and_colours(page)
    assert origins == {"project", "template gtk3"}
    assert len(colours) == 2
    view.scroll_into_view_if_needed()
    shoot("01-explode-gtk3")

    editor = page.locator(".wb-editor textarea").first
    text = editor.input_value()
    assert "templates: [gtk3]" in text
    editor.fill(text.replace("base: core20", "base: core22").replace("[gtk3]", "[gnome]"))
    view.locator("[data-origin='template gnome']").first.wait_for(timeout=EDIT_TIMEOUT)
    after_origins, after_colours = origins_and_colours(page)
    assert after_origins == {"project", "template gnome"}
    assert after_colours != colours
    assert len(after_colours - colours) == 1  # gnome's colour is new, the project's stays
    assert "with gnome" in page.locator(".wb-status").first.inner_text()
    view.scroll_into_view_if_needed()
    shoot("01-explode-gnome")

    editor.fill(text.replace("[gtk3]", "[gtk4]"))
    error = page.locator(".wb-listing [data-error-line]").first
    error.wait_for(timeout=EDIT_TIMEOUT)
    assert "unknown template 'gtk4'" in error.inner_text()
    assert error.get_attribute("data-error-line") == "14"


def test_02_architectures_toggle_a_build_and_the_verdict_changes(
    page: Any, lab: Server, shoot: Shoot
) -> None:
    run_all_cells(page, lab, "02-architectures.ipynb")
    assert error_outputs(page) == []
    released = page.locator(".wb-outcome [data-verdict='released']")
    released.wait_for(timeout=RUN_TIMEOUT)
    page.locator(".wb-arch-grid [data-host='armhf'][data-entry='2']").wait_for()
    page.get_by_text("platforms:").first.wait_for()  # the last cell's output
    page.locator(".wb-outcome").scroll_into_view_if_needed()
    shoot("02-architectures-released")

    page.locator(".wb-toggle-i386").get_by_role("button", name="failure").click()
    failed = page.locator(".wb-outcome [data-verdict='failed']")
    failed.wait_for(timeout=EDIT_TIMEOUT)
    assert "required build on i386 failed" in failed.inner_text()
    failed.scroll_into_view_if_needed()
    shoot("02-architectures-failed")


def test_03_build_vm_runs_its_vm_cells_on_the_tiny_image(
    page: Any, lab: Server, shoot: Shoot
) -> None:
    run_all_cells(page, lab, "03-build-vm.ipynb", timeout=VM_TIMEOUT)
    assert error_outputs(page) == []
    outputs = page.locator(".jp-OutputArea-output")
    outputs.get_by_text("exit status 0").first.wait_for()  # the command ran in the VM
    outputs.get_by_text("the tiny image has no python3").first.wait_for()
    texts = page.locator(".jp-CodeCell .jp-OutputArea-output").all_inner_texts()
    assert ["stopped", "absent"] in [text.split() for text in texts]  # stopped, then cleaned
    last = page.locator(".jp-CodeCell").last.locator(".jp-OutputArea-output")
    assert last.inner_text().split() == ["absent"]  # the last cell cleaned the chosen project's VM
    launch = outputs.get_by_role("button", name="Launch")
    launch.wait_for()
    pack = outputs.get_by_role("button", name="pack", exact=True)
    assert pack.is_disabled()  # tiny cannot run the steps
    launch.scroll_into_view_if_needed()
    shoot("03-build-vm")


def test_04_authoring_apply_fills_the_table_from_the_background(
    page: Any, lab: Server, shoot: Shoot
) -> None:
    run_all_cells(page, lab, "04-template-authoring.ipynb")
    assert error_outputs(page) == []
    page.get_by_text("text-editor @ core22: ok").first.wait_for()
    editor = page.locator(".wb-editor textarea").first
    editor.fill(editor.input_value().replace("[core22, core24]", "[core20, core22, core24]"))
    ok = ".wb-results .wb-cell[data-ok='true']"
    assert page.locator(ok).count() == 4  # the variant for core22+ only, as the notebook left it
    page.get_by_role("button", name="Apply").click()  # the handler starts a background task
    page.wait_for_function(
        f"() => document.querySelectorAll({ok!r}).length === 6", timeout=EDIT_TIMEOUT * 2
    )
    assert page.locator(".wb-results .wb-cell").count() == 12
    page.locator(".wb-timeline .wb-span").nth(11).wait_for()
    page.locator(".wb-status").get_by_text("apply done: 6 of 12 exploded").wait_for()
    page.locator(".wb-results").scroll_into_view_if_needed()
    shoot("04-authoring")

    live_template_typing_updates_the_preview(page)
    shoot("04-live")


def live_template_typing_updates_the_preview(page: Any) -> None:
    """Type into the live editors with the keyboard (as the notebook's cells left them: the
    template adds ``home``, the project declines ``network-bind`` and ``home``)."""
    preview = page.locator(".wb-live-preview")
    template = page.locator(".wb-live-template textarea")
    project = page.locator(".wb-live-project textarea")
    declined = preview.locator(".wb-declined")
    assert declined.count() == 2
    assert template.input_value().endswith("[network, network-bind, home]\n")
    lang = preview.locator("[data-path='apps.fetcher.environment.LANG']")
    assert lang.count() == 0

    template.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("    environment:\n      LANG: C.UTF-8\n")
    lang.wait_for(timeout=EDIT_TIMEOUT)
    assert lang.get_attribute("data-origin") == "template net-tools"
    assert "LANG: C.UTF-8" in page.locator(".wb-live-changes").inner_text()

    page.keyboard.type("  oops")  # not YAML: the error at its line, the last result kept
    error = page.locator(".wb-live-template [data-error-line]")
    error.wait_for(timeout=EDIT_TIMEOUT)
    assert error.get_attribute("data-error-line") == "12"
    assert "invalid YAML" in error.inner_text()
    assert "wb-stale" in (preview.get_attribute("class") or "")
    assert lang.count() == 1
    for _ in "  oops":
        page.keyboard.press("Backspace")
    error.wait_for(state="detached", timeout=EDIT_TIMEOUT)
    page.locator(".wb-live-preview:not(.wb-stale)").wait_for(timeout=EDIT_TIMEOUT)

    project.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # before the closing "]" of the decline list
    page.keyboard.type(", environment")
    declined_environment = declined.and_(preview.locator("[data-path='apps.fetcher.environment']"))
    declined_environment.wait_for(timeout=EDIT_TIMEOUT)
    assert project.input_value().endswith("[plugs.network-bind, plugs.home, environment]\n")
    assert "declined" in declined_environment.inner_text()
    assert "LANG: C.UTF-8" in declined_environment.inner_text()
    lang.wait_for(state="detached")  # no longer in the exploded project
    assert declined.count() == 3
    assert "3 declined" in page.locator(".wb-live-status").inner_text()
    page.locator(".wb-live").evaluate("view => view.scrollIntoView()")  # at the top


def test_voila_renders_02_without_code(page: Any, voila: Server, shoot: Shoot) -> None:
    page.goto(voila.url(""), timeout=RUN_TIMEOUT)
    page.locator(".wb-arch-grid table").wait_for(timeout=RUN_TIMEOUT)
    page.locator(".wb-outcome [data-verdict='released']").wait_for(timeout=RUN_TIMEOUT)
    body = page.locator("body").inner_text()
    assert "What this teaches" in body
    assert "ArchitecturesView.from_dir" not in body
    assert "import" not in body
    code = ".jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor"
    inputs = page.eval_on_selector_all(code, "els => els.map(e => e.innerText.trim())")
    assert set(inputs) <= {""}  # code cells keep no visible input
    shoot("02-voila")


NEWS_PROMPT = "Would you like to get notified about official Jupyter news?"


def test_dev_lab_opens_on_the_readme_without_a_news_prompt(
    page: Any, dev_lab: Server, shoot: Shoot
) -> None:
    """``./dev lab`` lands on notebooks/README.md, rendered, and JupyterLab asks nothing."""
    page.goto(f"{dev_lab.base}/{dev_lab.query}")
    readme = page.locator(".jp-RenderedMarkdown h1", has_text="notebooks").first
    readme.wait_for(timeout=RUN_TIMEOUT)
    assert "/lab/tree/README.md" in page.url
    page.locator(".jp-DirListing-item", has_text="01-explode.ipynb").wait_for(timeout=RUN_TIMEOUT)
    page.wait_for_timeout(5000)  # the prompt, when enabled, shows right after start-up
    assert page.get_by_text(NEWS_PROMPT).count() == 0
    assert page.locator(".jp-Notification-Toast").count() == 0
    # the app is exposed to the page: the build widget's Terminal button opens tabs through it
    assert page.evaluate("() => typeof window.jupyterapp?.commands.execute") == "function"
    shoot("00-dev-lab-readme")
