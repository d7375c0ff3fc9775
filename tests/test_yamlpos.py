"""YAML loading with positions: round trip, locations and the limits on hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import yamlpos
from workbench.errors import Location, SourceError

SAMPLE = """\
# a comment that must survive
name: hello   # trailing comment
apps:
  hello:
    command: bin/hello
    plugs: [home, network]
"""


def test_round_trip_keeps_comments_and_order() -> None:
    doc = yamlpos.load_text(SAMPLE, "snapcraft.yaml")
    assert yamlpos.dump(doc.round_trip()) == SAMPLE


def test_locate_points_at_keys_and_items() -> None:
    doc = yamlpos.load_text(SAMPLE, "snapcraft.yaml")
    assert doc.locate(["apps", "hello", "command"]) == Location(
        "snapcraft.yaml", 5, 5, "apps.hello.command"
    )
    assert doc.locate(["apps", "hello", "plugs", 1]) == Location(
        "snapcraft.yaml", 6, 19, "apps.hello.plugs[1]"
    )


def test_locate_missing_key_falls_back_to_deepest_existing_node() -> None:
    doc = yamlpos.load_text(SAMPLE, "snapcraft.yaml")
    loc = doc.locate(["apps", "hello", "daemon"])
    assert (loc.line, loc.col, loc.path) == (4, 3, "apps.hello.daemon")


def test_key_path_formats_indices() -> None:
    assert yamlpos.key_path(["parts", "a", "after", 0]) == "parts.a.after[0]"
    assert yamlpos.key_path([]) == ""


def test_syntax_error_has_position() -> None:
    with pytest.raises(SourceError) as info:
        yamlpos.load_text("a: [1, 2\nb: 3\n", "bad.yaml")
    loc = info.value.location
    assert loc is not None
    assert loc.file == "bad.yaml"
    assert loc.line == 2


def test_duplicate_key_is_refused_with_position() -> None:
    with pytest.raises(SourceError) as info:
        yamlpos.load_text("a: 1\nb: 2\na: 3\n", "dup.yaml")
    assert "duplicate" in info.value.brief
    assert info.value.location is not None
    assert info.value.location.line == 3


def test_non_utf8_is_refused_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: ok\nsummary: caf\xe9\n")
    with pytest.raises(SourceError) as info:
        yamlpos.load_file(path)
    assert info.value.location == Location(str(path), 2, 13)
    assert "UTF-8" in info.value.brief


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(SourceError) as info:
        yamlpos.load_text("\n".join(lines) + "\n", "bomb.yaml")
    assert "alias" in info.value.brief


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * (yamlpos.MAX_BYTES + 1))
    with pytest.raises(SourceError, match="limit"):
        yamlpos.load_file(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        yamlpos.load_file(tmp_path / "nope.yaml")
    with pytest.raises(SourceError, match="directory"):
        yamlpos.load_file(tmp_path)


def test_to_json_writes_what_the_standard_encoder_writes() -> None:
    doc = yamlpos.load_text(
        "a: [1, 2.5, .nan, -.inf, yes, ~, {}, [], {x: [é]}]\n"
        'b: "quote \\" back\\\\ tab\\t line\\u2028"\n'
        "1: 2001-12-14\n"
        "true: !!binary aGk=\n"
    )
    expected = json.dumps(yamlpos.to_plain(doc.data), indent=2, ensure_ascii=False)
    assert yamlpos.to_json(doc.data) == expected
    assert yamlpos.to_json([]) == "[]"
    assert yamlpos.to_json("x") == '"x"'


def test_to_plain_gives_json_types() -> None:
    doc = yamlpos.load_text("a: 1.5\nb: [true, 2, ~]\nc: {d: '3'}\n")
    assert yamlpos.to_plain(doc.data) == {"a": 1.5, "b": [True, 2, None], "c": {"d": "3"}}
