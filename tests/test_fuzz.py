"""Fuzzing: mutated real projects and random bytes fail only with a positioned WorkbenchError.

The projects and templates in ``examples/`` are mutated (keys deleted, duplicated, retyped, values
swapped, lines moved or re-indented, text truncated, odd unicode inserted) and fed to YAML loading,
explode, the template registry (a directory of templates), the architectures planners and the
build's project loading; anything that fails must be a :class:`WorkbenchError` that says where
(file and line, or a key path). Through the CLI (``main(argv)`` in process, and a few real
subprocesses) such input exits 2 with exactly one line on stderr. Random *text* and random
snapcraft-shaped data are fuzzed in ``test_explode_properties.py`` and ``test_arch_hypothesis.py``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import architectures
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.lifecycle.build_project import resolve_build
from workbench.templates import Registry, explode
from workbench.yamlpos import load_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SOURCES = sorted(EXAMPLES.rglob("*.yaml"))
TEMPLATE_DIRS = [
    EXAMPLES / "templates" / "custom-templates",
    EXAMPLES / "build" / "template-chain" / "templates",
]
USES_SHOUT = EXAMPLES / "templates" / "custom" / "snapcraft.yaml"
ODD = [
    "\u202e", "\ufeff", "\x00", "\x1b", "\t", "\u0085", "\u2028", "\ud800", "\U0001f600", "é",
    "&a ", "*a", "<<: *a\n", "!!python/object ", "!!binary ", "!!int ", "!!set ", "!!omap ",
    "!!timestamp ", "? ", "{", "[", "]", "- ", ": ", "|", ">", "%YAML 1.1\n", "---\n", "...\n",
]  # fmt: skip
VALUES = [
    "1", "-1", "0.5", ".inf", "0x1F", "2001-12-14", "null", "~", "true", "[]", "{}", "[a, b]",
    "{a: 1}", "''", "'x'", "&a x", "*a", "!!binary aGk=", "../x", "/etc", "[[[[]]]]", "|\n  x",
]  # fmt: skip
KINDS = ["delete", "duplicate", "retype", "swap", "move", "indent", "truncate", "unicode"]
EXAMPLES_PER_TEST = int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "20"))  # more: a longer hunt
SETTINGS = settings(
    max_examples=EXAMPLES_PER_TEST,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def mutate(draw: st.DrawFn, text: str) -> str:
    """One random mutation of ``text``."""
    kind = draw(st.sampled_from(KINDS))
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if kind == "unicode":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.sampled_from(ODD) | st.characters()) + text[at:]
    lines = text.splitlines(keepends=True) or [""]
    i, j = (draw(st.integers(0, len(lines) - 1)) for _ in range(2))
    key, sep, value = lines[i].partition(":")
    other_key, other_sep, other_value = lines[j].partition(":")
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(j, lines[i])
    elif kind == "retype" and sep:
        lines[i] = f"{key}: {draw(st.sampled_from(VALUES))}\n"
    elif kind == "swap" and sep and other_sep:  # swap two values, keep the keys
        lines[i], lines[j] = key + sep + other_value, other_key + other_sep + value
    elif kind == "move":
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "indent":
        lines[i] = " " * draw(st.integers(1, 3)) + lines[i]
    return "".join(lines)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A project or template from ``examples/`` with one to three mutations."""
    text = draw(st.sampled_from(SOURCES)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        text = mutate(draw, text)
    return text


BOM = b"\xef\xbb\xbf"


def encode(text: str) -> bytes:
    """UTF-8, passing lone surrogates through as the invalid bytes they would be on disk."""
    return text.encode("utf-8", "surrogatepass")


def positioned(err: WorkbenchError) -> bool:
    """The error names its file and a line or a key path."""
    loc = err.location
    return loc is not None and bool(loc.file) and (loc.line is not None or bool(loc.path))


def fails_only_with_a_position(action: Callable[[], Any]) -> None:
    error: WorkbenchError | None = None
    try:
        action()
    except WorkbenchError as err:
        error = err
    assert error is None or positioned(error), f"no position in: {error}"


def plan_any(file: Path) -> None:
    """The architectures views of ``file``: plan (modern or legacy), claim, convert."""
    document = architectures.load_project(file)
    if architectures.is_modern(architectures.project_base(document)):
        architectures.plan_modern(document)
        return
    stanza = architectures.parse(document)
    architectures.plan(stanza)
    architectures.claim(architectures.parse(document, dialect="snapcraft"), "amd64")
    for target in ("core22", "core24"):
        architectures.round_trip(stanza, architectures.convert(stanza, target))


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` in process: the exit code and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


def assert_refused_in_one_line(
    code: int, stderr: str, file: Path, *, whole_file: bool = False, problems: int = 1
) -> None:
    """Success, or exit 2 with ``FILE:LINE:COL: error: ...`` (or ``FILE: error: ... at KEY``) as
    the only line of stderr; ``whole_file``: an error about the whole file may have neither;
    ``problems``: at most that many such lines (``arch`` reports every problem of a stanza)."""
    if code == 0:
        return
    assert code == 2, stderr
    assert stderr.endswith("\n"), stderr
    assert "Traceback" not in stderr
    for line in stderr.splitlines():
        assert re.match(rf"{re.escape(str(file))}(:\d+:\d+)?: error: \S", line), stderr
        assert whole_file or re.match(r".*:\d+:\d+: error: ", line) or " at " in line, stderr
    assert stderr.count("\n") <= problems, stderr


@contextlib.contextmanager
def project_with(text: str | bytes) -> Iterator[Path]:
    """A temporary project directory whose snapcraft.yaml is ``text``."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = text if isinstance(text, bytes) else encode(text)
        (Path(tmp) / "snapcraft.yaml").write_bytes(raw)
        yield Path(tmp)


def check_project_text(text: str | bytes) -> None:
    """Every library entry point and two CLI commands on ``text`` as a project."""
    with project_with(text) as root:
        file = root / "snapcraft.yaml"
        fails_only_with_a_position(lambda: load_file(file))
        fails_only_with_a_position(lambda: explode(file, templates=Registry.default(TEMPLATE_DIRS)))
        fails_only_with_a_position(lambda: plan_any(file))
        fails_only_with_a_position(lambda: resolve_build(root, templates=TEMPLATE_DIRS))
        dirs = [arg for d in TEMPLATE_DIRS for arg in ("--templates-dir", str(d))]
        assert_refused_in_one_line(*run_cli(["explode", str(file), *dirs]), file)
        assert_refused_in_one_line(*run_cli(["arch", "plan", str(file)]), file, problems=10)


@SETTINGS
@given(text=mutated())
def test_mutated_examples_fail_only_with_a_position(text: str) -> None:
    check_project_text(text)


@SETTINGS
@given(raw=st.binary(max_size=300) | mutated().map(lambda text: BOM + encode(text)))
def test_random_bytes_and_boms_fail_only_with_a_position(raw: bytes) -> None:
    check_project_text(raw)


@SETTINGS
@given(text=mutated())
def test_mutated_template_files_fail_only_with_a_position(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "shout.yaml"
        template.write_bytes(encode(text))
        fails_only_with_a_position(lambda: Registry.default([tmp]).get("shout"))
        fails_only_with_a_position(lambda: explode(USES_SHOUT, templates=[tmp]))
        code, stderr = run_cli(["templates", "show", "shout", "--templates-dir", tmp])
        assert_refused_in_one_line(code, stderr, template)
        code, stderr = run_cli(["explode", str(USES_SHOUT), "--templates-dir", tmp])
        assert_refused_in_one_line(code, stderr, template)


@SETTINGS
@given(names=st.lists(st.text(min_size=1, max_size=30), max_size=6))
def test_a_directory_of_oddly_named_templates_lists_only_valid_names(names: list[str]) -> None:
    body = (TEMPLATE_DIRS[0] / "shout.yaml").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            with contextlib.suppress(OSError, ValueError):  # "/", NUL: not a file name at all
                Path(tmp, f"{name}.yaml").write_text(body, encoding="utf-8", errors="replace")
        registry = Registry.default([tmp])
        for name in registry.names():
            assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", name)
            fails_only_with_a_position(functools.partial(registry.get, name))
        fails_only_with_a_position(registry.infos)


SUBPROCESS_CASES = {
    "truncated": lambda text: text[: len(text) // 2] + "\n  - [",
    "parts retyped": lambda text: text.replace("parts:", "parts: [a, b]\nx:", 1),
    "alias to nowhere": lambda text: text + "\nextra: *nowhere\n",
    "anchor defined twice": lambda text: text + "\nx-a: &twice 1\nx-b: &twice 2\n",
}


def explode_in_a_process(file: Path) -> subprocess.CompletedProcess[str]:
    """``python -m workbench explode FILE`` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "workbench", "explode", str(file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_a_real_cli_process_exits_2_with_one_line(case: str, tmp_path: Path) -> None:
    source = EXAMPLES / "build" / "c-make" / "snapcraft.yaml"
    file = tmp_path / "snapcraft.yaml"
    file.write_text(SUBPROCESS_CASES[case](source.read_text(encoding="utf-8")), encoding="utf-8")
    done = explode_in_a_process(file)
    assert done.returncode == 2
    assert done.stdout == ""
    assert_refused_in_one_line(done.returncode, done.stderr, file)


FOUND = {  # input that once failed without a position (or slowly), and where it is refused now
    "a tag ruamel cannot build": ("name: x\nversion: !!int x\n", (2, 10), "cannot read this value"),
    "a merge key into itself": ("a: &a\n  <<: *a\n", (1, 4), "cannot read this value"),
    "a control character": ("name: x\nsummary: \x07\n", (2, 10), "#x0007 is not allowed"),
    "a duplicate key with a block value": (
        "description: |\n  two\n  lines\ndescription: x\n",
        (4, 1),
        'duplicate key "description" with value "x" (original value: "two lines ")',
    ),
    "an anchor defined twice (ruamel only warned)": (
        "name: x\nsummary: &s one\ndescription: &s two\n",
        (3, 14),
        "anchor &s is defined twice (first on line 2)",
    ),
    "a scalar document": ("just text\n", (1, 1), "must be a mapping"),
    "an empty document": ("# nothing\n", (1, 1), "must be a mapping"),
    "platforms on core20": (
        "name: x\nbase: core20\nplatforms:\n  amd64:\n",
        (3, 1),
        "'platforms' needs base core22 or later",
    ),
}


@pytest.mark.parametrize("case", FOUND)
def test_input_found_by_fuzzing_is_refused_with_its_position(case: str) -> None:
    text, (line, col), message = FOUND[case]
    with project_with(text) as root:
        file = root / "snapcraft.yaml"
        with pytest.raises(WorkbenchError, match=re.escape(message)) as info:
            plan_any(file)
        assert info.value.location is not None
        assert (info.value.location.line, info.value.location.col) == (line, col)
        code, stderr = run_cli(["arch", "plan", str(file)])
        assert code == 2
        assert stderr.startswith(f"{file}:{line}:{col}: error: "), stderr
