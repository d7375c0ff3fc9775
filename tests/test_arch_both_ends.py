"""core22 and later plans name both ends; build-base counts as craft-platforms counts it;
Launchpad plans core22 ``architectures`` and core24 ``platforms`` within the series' archs."""

from __future__ import annotations

import json
from pathlib import Path

import craft_platforms
import pytest

from workbench.architectures import load_project, plan_modern
from workbench.cli import main

CORE22 = """\
name: p
base: core22
architectures:
  - build-on: [amd64]
    build-for: [arm64]
  - build-on: [riscv64]
"""
CORE24 = """\
name: p
base: core24
platforms:
  amd64:
  pi:
    build-on: [arm64, amd64]
    build-for: [arm64]
"""


def plan_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *options: str
) -> dict[str, object]:
    file = tmp_path / "snapcraft.yaml"
    file.write_text(text + "parts: {}\n")
    assert main(["arch", "plan", str(file), "--json", *options]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def ends(data: dict[str, object]) -> list[tuple[str, str | None, list[str]]]:
    builds = data["builds"]
    assert isinstance(builds, list)
    return [(b["build_on"], b["build_for"], b["run_on"]) for b in builds]


@pytest.mark.parametrize("text", [CORE22, CORE24])
@pytest.mark.parametrize("dialect", ["proposal", "launchpad"])
def test_core22_and_core24_entries_carry_build_on_and_build_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, dialect: str
) -> None:
    planned = ends(plan_json(tmp_path, capsys, text, "--dialect", dialect))
    assert planned
    for build_on, build_for, run_on in planned:
        assert build_on
        assert build_for
        assert run_on == [build_for]
    assert ("amd64", "arm64", ["arm64"]) in planned


@pytest.mark.parametrize("base", ["core18", "core20"])
def test_a_legacy_project_without_architectures_gets_every_end_filled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], base: str
) -> None:
    data = plan_json(tmp_path, capsys, f"name: p\nbase: {base}\n")
    planned = ends(data)
    assert [build_on for build_on, _, _ in planned] == data["supported"]
    assert all(run_on == [on] and build_for == on for on, build_for, run_on in planned)


@pytest.mark.parametrize(
    ("text", "upstream"),
    [
        (
            "name: mybase\ntype: base\nbuild-base: core24\nplatforms:\n  amd64:\n  riscv64:\n",
            (None, "core24", "base", {"amd64": None, "riscv64": None}),
        ),
        ("name: p\nbase: bare\nbuild-base: core22\n", ("bare", "core22", None, None)),
    ],
)
def test_build_base_counts_as_craft_platforms_counts_it(
    tmp_path: Path, text: str, upstream: tuple[str | None, str, str | None, dict[str, None] | None]
) -> None:
    base, build_base, snap_type, platforms = upstream
    file = tmp_path / "snapcraft.yaml"
    file.write_text(text + "parts: {}\n")
    result = plan_modern(load_project(file))
    infos = craft_platforms.snap.get_platforms_snap_build_plan(
        base,  # type: ignore[arg-type]
        build_base=build_base,
        snap_type=snap_type,
        platforms=platforms,  # type: ignore[arg-type]
    )
    assert [(b.platform, b.build_on, b.build_for) for b in result.builds] == [
        (i.platform, str(i.build_on), str(i.build_for)) for i in infos
    ]
    assert result.base == build_base


def test_launchpad_plans_core24_platforms_within_the_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = plan_json(
        tmp_path, capsys, CORE24, "--dialect", "launchpad", "--supported", "i386,amd64,arm64"
    )
    assert data["supported"] == ["amd64", "arm64"]  # noble has no i386
    # one build per platform, on its build-on arch that comes first in the supported list (D8)
    assert ends(data) == [("amd64", "amd64", ["amd64"]), ("amd64", "arm64", ["arm64"])]
    narrowed = plan_json(tmp_path, capsys, CORE22, "--dialect", "launchpad", "--supported", "amd64")
    assert ends(narrowed) == [("amd64", "arm64", ["arm64"])]
    assert narrowed["dropped"] == [
        {
            "entry": 1,
            "build_on": ["riscv64"],
            "required": True,
            "reason": "none of its build-on (riscv64) is supported; Launchpad drops it silently",
        }
    ]
