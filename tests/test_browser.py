"""The notebooks in a real browser: JupyterLab (and Voila) driven through headless Chromium."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from browser_fixtures import Server, Shoot


pytestmark = pytest.mark.browser

RUN_TIMEOUT = 180_000  # ms: kernel start and every cell, on a shared 2-core machine


def open_and_run_all(page: Any, lab: Server, notebook: str) -> None:
    """Open ``notebooks/NOTEBOOK`` in JupyterLab and run every cell."""
    workspace = notebook.removesuffix(
        ".ipynb"
    )  # a fresh workspace: no tab restored from an earlier test
    page.goto(lab.url(f"lab/workspaces/{workspace}/tree/notebooks/{notebook}"))
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=RUN_TIMEOUT)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=RUN_TIMEOUT)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def origins_and_colours(page: Any) -> tuple[set[str], set[str]]:
    """The origin labels and the background colours of the exploded view's lines."""
    result: list[list[str]] = page.eval_on_selector_all(
        ".wb-exploded-view .wb-line",
        "els => els.map(e => [e.dataset.origin, getComputedStyle(e).backgroundColor])",
    )
    return {origin for origin, _ in result}, {colour for _, colour in result}


def test_01_explode_edit_the_yaml_and_the_provenance_changes(
    page: Any, jupyter_lab: Server, shoot: Shoot
) -> None:
    open_and_run_all(page, jupyter_lab, "01-explode.ipynb")
    view = page.locator(".wb-exploded-view")
    view.locator("[data-origin='template gtk3']").first.wait_for(timeout=RUN_TIMEOUT)
    # the last cell has run when the kde-viewer YAML is printed
    page.get_by_text("Uses the kde-neon template").first.wait_for(timeout=RUN_TIMEOUT)
    origins, colours = origins_and_colours(page)
    assert origins == {"project", "template gtk3"}
    assert len(colours) == 2
    view.scroll_into_view_if_needed()
    shoot("01-explode-gtk3")

    editor = page.locator(".wb-editor textarea").first
    text = editor.input_value()
    assert "templates: [gtk3]" in text
    editor.fill(text.replace("base: core20", "base: core22").replace("[gtk3]", "[gnome]"))
    view.locator("[data-origin='template gnome']").first.wait_for(timeout=30_000)
    after_origins, after_colours = origins_and_colours(page)
    assert after_origins == {"project", "template gnome"}
    assert after_colours != colours
    assert len(after_colours - colours) == 1  # gnome's colour is new, the project's stays
    assert "with gnome" in page.locator(".wb-status").first.inner_text()
    view.scroll_into_view_if_needed()
    shoot("01-explode-gnome")

    editor.fill(text.replace("[gtk3]", "[gtk4]"))
    error = page.locator(".wb-listing [data-error-line]").first
    error.wait_for(timeout=30_000)
    assert "unknown template 'gtk4'" in error.inner_text()
    assert error.get_attribute("data-error-line") == "14"


def test_02_architectures_toggle_a_build_and_the_verdict_changes(
    page: Any, jupyter_lab: Server, shoot: Shoot
) -> None:
    open_and_run_all(page, jupyter_lab, "02-architectures.ipynb")
    released = page.locator(".wb-outcome [data-verdict='released']")
    released.wait_for(timeout=RUN_TIMEOUT)
    page.locator(".wb-arch-grid [data-host='armhf'][data-entry='2']").wait_for()
    page.get_by_text("platforms:").first.wait_for(timeout=RUN_TIMEOUT)  # the last cell ran
    page.locator(".wb-outcome").scroll_into_view_if_needed()
    shoot("02-architectures-released")

    page.locator(".wb-toggle-i386").get_by_role("button", name="failure").click()
    failed = page.locator(".wb-outcome [data-verdict='failed']")
    failed.wait_for(timeout=30_000)
    assert "required build on i386 failed" in failed.inner_text()
    failed.scroll_into_view_if_needed()
    shoot("02-architectures-failed")


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


def test_04_authoring_apply_fills_the_table_from_the_background(
    page: Any, jupyter_lab: Server, shoot: Shoot
) -> None:
    open_and_run_all(page, jupyter_lab, "04-template-authoring.ipynb")
    page.get_by_text("text-editor @ core22: ok").first.wait_for(timeout=RUN_TIMEOUT)
    page.locator(".wb-editor textarea").first.fill(
        page.locator(".wb-editor textarea")
        .first.input_value()
        .replace("[core22, core24]", "[core20, core22, core24]")
    )
    ok = ".wb-results .wb-cell[data-ok='true']"
    assert page.locator(ok).count() == 4  # the variant for core22+ only, as the notebook left it
    page.get_by_role("button", name="Apply").click()  # the handler starts a background task
    page.wait_for_function(f"() => document.querySelectorAll({ok!r}).length === 6", timeout=60_000)
    assert page.locator(".wb-results .wb-cell").count() == 12
    page.locator(".wb-timeline .wb-span").nth(11).wait_for()
    page.locator(".wb-status").get_by_text("apply done: 6 of 12 exploded").wait_for()
    page.locator(".wb-results").scroll_into_view_if_needed()
    shoot("04-authoring")


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
    shoot("00-dev-lab-readme")
