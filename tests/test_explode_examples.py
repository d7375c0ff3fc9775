"""The sample projects in examples/templates explode cleanly, strictly, and as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.templates import ExplodeOptions, Registry, explode

EXAMPLES = Path(__file__).parents[1] / "examples" / "templates"
PROJECTS = ["darktable", "text-editor", "kde-viewer", "ros-talker", "flutter-hello", "custom"]


def registry() -> Registry:
    return Registry.default([EXAMPLES / "custom-templates"])


@pytest.mark.parametrize("name", PROJECTS)
def test_example_explodes_strictly_and_is_a_fixed_point(name: str) -> None:
    path = EXAMPLES / name
    before = {file: file.read_bytes() for file in path.rglob("*.yaml")}
    result = explode(
        path,
        templates=registry(),
        options=ExplodeOptions(strict=True, enable_experimental=True),
    )
    assert result.templates
    assert result.overrides == ()
    again = explode(result.to_yaml(), templates=registry())
    assert again.to_plain() == result.to_plain()
    assert {file: file.read_bytes() for file in path.rglob("*.yaml")} == before


def test_darktable_matches_the_meeting_demo() -> None:
    result = explode(EXAMPLES / "darktable")
    plain = result.to_plain()
    app = plain["apps"]["darktable"]
    assert app["command-chain"] == ["snap/command-chain/gtk3/desktop-launch"]
    assert app["plugs"] == [
        "desktop", "desktop-legacy", "gsettings", "wayland", "x11", "home", "removable-media",
    ]  # fmt: skip
    assert "command-chain" not in plain["apps"]["darktable-cli"]
    assert plain["parts"]["darktable"]["after"] == ["gtk3/launcher"]
    assert plain["parts"]["gtk3/launcher"]["make-parameters"] == ["FLAVOR=gtk3", "PLATFORM=focal"]
    assert "# desktop plugs, command-chain and the launcher part" not in result.to_yaml()
    assert "# x11 also comes from gtk3: kept once" in result.to_yaml()


def test_custom_composes_two_templates_in_name_order() -> None:
    plain = explode(EXAMPLES / "custom", templates=registry()).to_plain()
    assert plain["apps"]["custom"]["command-chain"] == [
        "snap/command-chain/shout/log-start",
        "snap/command-chain/gnome/desktop-launch",
    ]
    assert plain["parts"]["gnome/launcher"]["after"] == ["shout/log-start"]
    assert plain["parts"]["shout/log-start"]["source"].endswith("shout-22.tar.gz")


def test_kde_viewer_uses_the_cmake_snippet_only_for_cmake_parts() -> None:
    parts = explode(EXAMPLES / "kde-viewer").to_plain()["parts"]
    assert parts["viewer"]["build-snaps"] == ["kde-frameworks-5-99-qt-5-15-7-core22-sdk"]
    assert "build-snaps" not in parts["icons"]
    assert parts["icons"]["after"] == ["kde-neon/launcher"]
