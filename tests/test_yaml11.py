"""Values as snapcraft reads them (PyYAML, YAML 1.1) everywhere the workbench hands them out."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from workbench import yamlpos
from workbench.cli import main
from workbench.templates import Registry, explode

DATA = Path(__file__).parent / "data"
CORPUS = sorted((DATA / "snapcraft").glob("*.yaml"))
TEMPLATES = Registry.default([DATA / "templates"])
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SCALARS = """\
name: scalars  # every YAML 1.1 form snapcraft reads differently from YAML 1.2
base: core22
x-env: &env
  OCTAL: 0660
  BOOLS: [yes, no, on, off, Yes, NO]
  SEXAGESIMAL: 1:30
  UNDERSCORE: 1_000
  HEX: 0x1F
  DATE: 2023-04-01
  STAMP: 2023-04-01T10:00:00Z
  FLOAT: 1.5e3
  QUOTED: 'yes'
apps:
  a:
    command: bin/a
    environment:
      <<: *env
      OWN: "0660"
    sockets:
      s:
        listen-stream: $SNAP_COMMON/s.socket
        socket-mode: 0660
parts:
  p:
    plugin: nil
"""


def pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=LOADER)


def test_the_corpus_is_real_sized() -> None:
    assert len(CORPUS) >= 10
    for file in CORPUS:
        assert 5 * 1024 <= file.stat().st_size <= 50 * 1024, file.name


@pytest.mark.parametrize("file", CORPUS, ids=lambda f: f.name)
def test_loaded_values_are_pyyaml_values(file: Path) -> None:
    assert yamlpos.load_file(file).data == pyyaml(file.read_text())


@pytest.mark.parametrize("file", CORPUS, ids=lambda f: f.name)
def test_exploded_text_reads_back_as_the_exploded_values_with_every_comment(file: Path) -> None:
    result = explode(file, templates=TEMPLATES)
    text = result.to_yaml()
    assert pyyaml(text) == result.project
    source = file.read_text()
    for comment in re.findall(r"#[^\n]*", source):
        if not comment.startswith(("#!", "#{")) and "$" not in comment:
            assert comment in text, comment


def test_explode_json_gives_pyyaml_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "snapcraft.yaml"
    file.write_text(SCALARS)
    assert main(["explode", str(file), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = yamlpos.to_plain(pyyaml(SCALARS))
    assert out == expected
    env = out["apps"]["a"]["environment"]
    assert (env["OCTAL"], env["SEXAGESIMAL"], env["UNDERSCORE"]) == (0o660, 90, 1000)
    assert env["BOOLS"] == [True, False, True, False, True, False]
    assert (env["QUOTED"], env["OWN"]) == ("yes", "0660")
    assert out["apps"]["a"]["sockets"]["s"]["socket-mode"] == 432


def test_yaml_text_keeps_the_spelling(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "snapcraft.yaml"
    file.write_text(SCALARS)
    assert main(["explode", str(file)]) == 0
    out = capsys.readouterr().out
    for spelling in ("0660", "[yes, no, on, off, Yes, NO]", "1:30", "1_000", "0x1F", "'yes'"):
        assert spelling in out
    assert "# every YAML 1.1 form" in out
    assert pyyaml(out) == explode(file).project


def test_the_python_api_and_plans_see_pyyaml_values() -> None:
    result = explode(SCALARS)
    assert result.project["apps"]["a"]["sockets"]["s"]["socket-mode"] == 0o660
    doc = yamlpos.load_text(SCALARS, "s.yaml")
    assert doc.data == pyyaml(SCALARS)
    line = SCALARS.splitlines().index("        socket-mode: 0660") + 1
    assert doc.locate(("apps", "a", "sockets", "s", "socket-mode")).line == line


@pytest.mark.parametrize("file", CORPUS, ids=lambda f: f.name)
def test_every_corpus_file_plans(file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["arch", "plan", str(file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["builds"]
