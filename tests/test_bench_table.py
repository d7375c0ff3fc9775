"""bench.common: the statistics, the one table and its JSON (fast; nothing here is timed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.common import Row, Side, format_table, main, number, row


def test_side_statistics() -> None:
    side = Side("cold", "s", (3.0, 1.0, 2.0, 10.0))
    assert (side.min, side.median, side.max) == (1.0, 2.5, 10.0)
    with pytest.raises(ValueError, match="no measurement"):
        Side("empty", "s", ())


def test_ratio_is_taken_round_by_round() -> None:
    r = row("cold vs warm", ("cold", [10.0, 8.0, 9.0]), ("warm", [2.0, 1.0, 3.0]), "s")
    assert r.ratios == (5.0, 8.0, 3.0)
    assert (r.ratio.min, r.ratio.median, r.ratio.max) == (3.0, 5.0, 8.0)
    with pytest.raises(ValueError, match="different numbers of rounds"):
        row("x", ("a", [1.0, 2.0]), ("b", [1.0]), "s")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1677.72, "1678"),
        (221.4, "221"),
        (13.84, "13.8"),
        (2.414, "2.41"),
        (0.1049, "0.105"),
        (0.000012345, "0.0000123"),
        (0.0, "0"),
    ],
)
def test_number_has_three_significant_digits_and_no_exponent(value: float, text: str) -> None:
    assert number(value) == text


def test_table_aligns_columns_and_shows_both_sides() -> None:
    rows = [
        row("9p read: 512000 vs 8192", ("512000", [900.0, 600.0]), ("8192", [30.0, 30.0]), "MB/s"),
        row("VM start: cold vs warm", ("cold", [7.0]), ("warm", [1.0]), "s", "target >= 5x"),
    ]
    lines = format_table(rows).splitlines()
    assert lines[0].startswith("benchmark")
    assert set(lines[1]) == {"-"}
    assert "512000 750 [600..900] MB/s" in lines[2]
    assert "8192 30.0 [30.0..30.0] MB/s" in lines[2]
    assert "warm 1.00 s" in lines[3]  # one round: no spread shown
    assert lines[3].endswith("target >= 5x")
    ratio_column = lines[0].index("A/B min")
    assert lines[2][ratio_column : ratio_column + 7].strip() == "20.0x"
    assert lines[3][ratio_column : ratio_column + 7].strip() == "7.00x"


def test_main_prints_one_table_writes_json_and_fails_on_a_failed_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def good(quick: bool) -> list[Row]:
        return [row(f"quick={quick}", ("a", [2.0]), ("b", [1.0]), "s")]

    def broken(quick: bool) -> list[Row]:
        raise RuntimeError("qemu exited with status 1")

    out = tmp_path / "table.json"
    argv = ["--quick", "--json", str(out)]
    assert main({"good": good, "broken": broken}, argv, prog="x", doc="doc") == 1
    printed = capsys.readouterr().out
    assert "quick=True" in printed
    assert "bench: broken FAILED: RuntimeError: qemu exited with status 1" in printed
    data = json.loads(out.read_text())
    assert data["quick"] is True
    assert data["failures"] == {"broken": "RuntimeError: qemu exited with status 1"}
    [only] = data["rows"]
    assert only["ratio"]["median"] == 2.0
    assert only["a"]["values"] == [2.0]
    assert {"cpu", "cores", "ram_gib", "date", "load_average"} <= set(data["machine"])
    assert set(data["seconds"]) == {"good", "broken"}
    assert "took: good 0 s, broken 0 s" in printed
    assert main({"good": good}, [], prog="x", doc="doc") == 0
