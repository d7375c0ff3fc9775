"""Hostile input: refused quickly, with the limit in the message, and nothing written elsewhere.

Path traversal in the names that become directories (part, app, snap names and versions), in
template names and in ``--templates-dir`` entries; YAML bombs, huge and endless files, deep nesting,
control characters and non-UTF-8. Every case runs in a sandbox whose HOME, XDG and workbench cache
directories are temporary, and the sandbox is snapshot before and after: nothing may change.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_fuzz import assert_refused_in_one_line, explode_in_a_process, positioned, run_cli

from workbench import yamlpos
from workbench.errors import SourceError, TemplateError, UsageError, WorkbenchError
from workbench.lifecycle.build_project import resolve_build
from workbench.templates import Registry, explode

QUICK = 20.0  # seconds: generous for a 2-core machine shared by several test runs
SHOUT = Path(__file__).resolve().parents[1] / "examples/templates/custom-templates/shout.yaml"
GOOD = "name: ok\nversion: '1.0'\nbase: core22\nconfinement: strict\n"
PARTS = "parts:\n  ok:\n    plugin: nil\n"


def project(name: str = "ok", version: str = "'1.0'", apps: str = "", part: str = "ok") -> str:
    """A small project with the given (possibly hostile) names."""
    return (
        f"name: {name}\nversion: {version}\nbase: core22\nconfinement: strict\n{apps}"
        f"parts:\n  {part}:\n    plugin: nil\n"
    )


DEEP_ALIASES = "c0: &c0 x\n" + "".join(
    f"c{i}: &c{i} {'[' * 90}*c{i - 1}{']' * 90}\n" for i in range(1, 12)
)  # 90 levels each, 990 with the aliases expanded
BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
)


@dataclass
class Sandbox:
    """A temporary HOME (with XDG and workbench cache dirs inside) and a project directory.

    At the end of the test nothing under it may differ from the baseline taken by :meth:`seal`:
    :meth:`write` re-seals; a test that prepares files otherwise calls :meth:`seal` itself.
    """

    root: Path
    project: Path
    baseline: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def write(self, text: str | bytes, name: str = "snapcraft.yaml") -> Path:
        path = self.project / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        self.seal()
        return path

    def seal(self) -> None:
        self.baseline = self.snapshot()

    def snapshot(self) -> dict[str, tuple[int, int, int]]:
        """Every path under the sandbox with its mode, size and modification time."""
        found = {}
        for path in [self.root, *self.root.rglob("*")]:
            info = path.lstat()
            found[str(path)] = (info.st_mode, info.st_size, info.st_mtime_ns)
        return found


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    home = tmp_path / "home"
    for var, sub in [
        ("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"), ("XDG_STATE_HOME", ".local/state"),
        ("WORKBENCH_CACHE_DIR", ".cache/workbench"),
    ]:  # fmt: skip
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("WORKBENCH_TEMPLATES_PATH", raising=False)
    box = Sandbox(tmp_path, tmp_path / "project")
    box.project.mkdir()
    box.seal()
    yield box
    assert box.snapshot() == box.baseline, "a file was written, changed or removed"


def refused(error: type[WorkbenchError], run: Callable[[], object], match: str) -> WorkbenchError:
    """Run ``run()``; it must raise ``error`` matching ``match`` within :data:`QUICK` seconds."""
    start = time.monotonic()
    with pytest.raises(error, match=match) as info:
        run()
    assert time.monotonic() - start < QUICK
    return info.value


def cli_refuses(argv: list[str], file: Path, match: str) -> str:
    start = time.monotonic()
    code, stderr = run_cli(argv)
    assert time.monotonic() - start < QUICK
    assert code == 2, stderr
    assert_refused_in_one_line(code, stderr, file, whole_file=True)
    assert re.search(match, stderr), stderr
    return stderr


# -- names that become directories in the guest or file names on the host ----------------------

UNSAFE_NAMES = {
    "part ../": (project(part="../../etc"), "invalid part name '../../etc'"),
    "part absolute": (project(part="/root/x"), "invalid part name '/root/x'"),
    "part NUL": (project(part='"a\\0b"'), r"invalid part name 'a\\x00b'"),
    "part long": (project(part="p" * 300), "at most 100"),
    "app ../": (project(apps="apps:\n  ../x:\n    command: x\n"), "invalid app name '../x'"),
    "snap name": (project(name="../../x"), "invalid name '../../x'"),
    "version": (project(version="../../../tmp/x"), "invalid version '../../../tmp/x'"),
}


@pytest.mark.parametrize("case", UNSAFE_NAMES)
def test_unsafe_names_are_refused_before_the_build_plans_anything(
    case: str, sandbox: Sandbox
) -> None:
    text, message = UNSAFE_NAMES[case]
    file = sandbox.write(text)
    err = refused(SourceError, lambda: resolve_build(sandbox.project), message)
    assert positioned(err)
    assert err.location is not None
    assert err.location.file == str(file)
    cli_refuses(["build", str(sandbox.project), "--plan"], file, message)


def test_a_template_part_escaping_its_namespace_is_refused(sandbox: Sandbox) -> None:
    templates = sandbox.root / "templates"
    templates.mkdir()
    (templates / "evil.yaml").write_text(
        "template: {summary: s, bases: [core22]}\nparts:\n  evil/../../x:\n    plugin: nil\n",
        encoding="utf-8",
    )
    sandbox.write(GOOD + "templates: [evil]\n" + PARTS)  # seals the template too
    err = refused(
        SourceError,
        lambda: resolve_build(sandbox.project, templates=[templates]),
        "invalid part name 'evil/../../x'",
    )
    assert err.location is not None
    assert err.location.file == str(templates / "evil.yaml")
    assert (err.location.line, err.location.col) == (3, 3)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "x\x00y", "t" * 5000])
def test_template_names_are_looked_up_never_opened(name: str, sandbox: Sandbox) -> None:
    quoted = name.replace("\x00", "\\0")
    file = sandbox.write(GOOD + f'templates: ["{quoted}"]\n' + PARTS)
    err = refused(TemplateError, lambda: explode(file), "unknown template")
    assert err.location is not None
    assert err.location.line == 5
    cli_refuses(["explode", str(file)], file, "unknown template")
    code, stderr = run_cli(["templates", "show", name])
    assert code == 2
    assert stderr.startswith("error: unknown template")
    assert stderr.count("\n") == 1


# -- --templates-dir entries ------------------------------------------------------------------


def odd_templates_dir(kind: str, sandbox: Sandbox) -> Path:
    """A ``--templates-dir`` entry of the given oddity."""
    place = sandbox.root / "odd"
    if kind == "a file":
        place.write_text("not a directory\n", encoding="utf-8")
    elif kind == "a symlink loop":
        place.symlink_to(place)
    elif kind == "/proc":
        return Path("/proc")
    elif kind == "missing":
        return place
    else:
        place.mkdir()
        entry = place / "evil.yaml"
        if kind == "a FIFO template":
            os.mkfifo(entry)
        elif kind == "a template linked to /dev/zero":
            entry.symlink_to("/dev/zero")
        elif kind == "odd file names":
            for name in ("..evil", ".evil", "-evil", "EVIL", "evil x", "evil\n"):
                (place / f"{name}.yaml").write_text("template: {}\n", encoding="utf-8")
    return place


ODD_DIRS = {
    "a file": (UsageError, "templates directory not found"),
    "a symlink loop": (UsageError, "templates directory not found"),
    "missing": (UsageError, "templates directory not found"),
    "/proc": (TemplateError, "unknown template 'evil'"),
    "odd file names": (TemplateError, "unknown template 'evil'"),
    "a FIFO template": (SourceError, "not a regular file"),
    "a template linked to /dev/zero": (SourceError, "not a regular file"),
}


@pytest.mark.parametrize("kind", ODD_DIRS)
def test_odd_templates_dirs_are_refused_quickly(kind: str, sandbox: Sandbox) -> None:
    place = odd_templates_dir(kind, sandbox)
    file = sandbox.write(GOOD + "templates: [evil]\n" + PARTS)  # seals the odd place too
    error, message = ODD_DIRS[kind]
    refused(error, lambda: explode(file, templates=Registry.default([place])), message)
    start = time.monotonic()
    code, stderr = run_cli(["explode", str(file), "--templates-dir", str(place)])
    assert time.monotonic() - start < QUICK
    assert code == 2
    assert stderr.count("\n") == 1, stderr
    assert message in stderr, stderr


# -- size, bombs, nesting, encodings ------------------------------------------------------------

LIMITS: dict[str, tuple[str | bytes, str | None, str]] = {  # input, LINE:COL if any, message
    "billion laughs": (BOMB, None, f"more than {yamlpos.MAX_NODES} nodes"),
    "flow nesting": ("a: " + "[" * 100_000, "1:104", f"more than {yamlpos.MAX_DEPTH} levels"),
    "nesting through aliases": (DEEP_ALIASES, None, "than 100 levels"),
    "block nesting": ("".join(" " * i + f"k{i}:\n" for i in range(400)), "101:101", "100 levels"),
    "over the size limit": ("#" * (yamlpos.MAX_BYTES + 1), None, "larger than the 1 MiB limit"),
    "NUL": (GOOD + "summary: a\x00b\n", "5:11", "character #x0000 is not allowed"),
    "escape": (GOOD + "summary: '\x1b[31m'\n", "5:11", "character #x001b is not allowed"),
    "latin-1": (GOOD.encode() + b"summary: caf\xe9\n", "5:13", "not UTF-8 \\(byte 0xe9\\)"),
    "UTF-16": (GOOD.encode("utf-16"), "1:1", "not UTF-8 \\(byte 0xff\\)"),
}


@pytest.mark.parametrize("case", LIMITS)
def test_limits_are_enforced_quickly_and_stated(case: str, sandbox: Sandbox) -> None:
    text, where, message = LIMITS[case]
    file = sandbox.write(text)
    refused(SourceError, lambda: yamlpos.load_file(file), message)
    pattern = rf"^{re.escape(str(file))}{':' + where if where else ''}.*: error: .*{message}"
    cli_refuses(["explode", str(file)], file, pattern)
    cli_refuses(["arch", "plan", str(file)], file, pattern)


def test_a_bomb_in_a_template_is_refused(sandbox: Sandbox) -> None:
    templates = sandbox.root / "templates"
    templates.mkdir()
    bomb = templates / "shout.yaml"
    bomb.write_text(SHOUT.read_text(encoding="utf-8") + BOMB.replace("a", "x-a"), "utf-8")
    file = sandbox.write(GOOD + "templates: [shout]\n" + PARTS)
    cli_refuses(["explode", str(file), "--templates-dir", str(templates)], bomb, "nodes")


def test_a_sparse_huge_file_and_a_device_are_refused_without_reading(sandbox: Sandbox) -> None:
    huge = sandbox.write(b"")
    os.truncate(huge, 10 * 1024**3)  # 10 GiB of holes: reading it would take minutes
    sandbox.seal()
    cli_refuses(["explode", str(huge)], huge, "1 MiB limit")
    cli_refuses(["explode", "/dev/zero"], Path("/dev/zero"), "not a regular file")
    cli_refuses(["arch", "plan", "/dev/urandom"], Path("/dev/urandom"), "not a regular file")


def test_a_utf8_bom_is_accepted(sandbox: Sandbox) -> None:
    file = sandbox.write("\ufeff" + GOOD + PARTS)
    assert explode(file).to_plain()["name"] == "ok"


def test_a_real_process_refuses_a_bomb_with_one_line(sandbox: Sandbox) -> None:
    file = sandbox.write(GOOD + BOMB + "\n")
    start = time.monotonic()
    done = explode_in_a_process(file)
    assert time.monotonic() - start < QUICK * 2  # includes interpreter start-up
    assert done.returncode == 2
    assert done.stdout == ""
    assert_refused_in_one_line(done.returncode, done.stderr, file)
    assert f"more than {yamlpos.MAX_NODES} nodes" in done.stderr


def test_python_tags_are_refused_never_run(sandbox: Sandbox) -> None:
    marker = sandbox.root / "pwned"
    file = sandbox.write(
        GOOD + f'summary: !!python/object/apply:os.system ["touch {marker}"]\n' + PARTS
    )
    for argv in (["explode", str(file)], ["arch", "plan", str(file)]):
        code, stderr = run_cli(argv)
        assert code == 2  # as snapcraft's safe loader: no constructor for the tag
        assert stderr.startswith(f"{file}:5:10: error: invalid YAML: could not determine"), stderr
    with pytest.raises(SourceError, match="python/object"):
        resolve_build(sandbox.project)
    assert not marker.exists()
