"""Forged guest events: whatever the guest prints is data, shown escaped, bounded, never a crash.

A hostile guest controls every byte of the guest runner's stdout and stderr. These tests feed
lines to the functions the real build uses on the way from the guest to the user: the session's
line handler (:meth:`Session._guest`, here with the SSH command replaced by one that prints the
lines: the one fake), its error (:meth:`Session._failure`, ``_spec_error``), ``build.log``, the
terminal printer of ``workbench build`` (plain and ``--json``), the CLI's error report, and the
build view of notebook 03 (log, timeline, status). Nothing may raise, the terminal may get no
control character, the notebook no tag the guest wrote. ``test_build_vm.py::
test_forged_guest_events_are_shown_as_data`` runs the same through a real build in a real VM.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli import report
from workbench.cli.build import _json_listener, terminal_view
from workbench.errors import WorkbenchError
from workbench.lifecycle import BuildController, BuildOptions, Session
from workbench.lifecycle.events import (
    KINDS,
    MAX_LINE,
    PREFIX,
    BuildLog,
    Event,
    LineSplitter,
    guest_event,
    parse_line,
    printable,
    read_events,
)
from workbench.lifecycle.steps import Step
from workbench.vm.executor import Command, Completed
from workbench.widgets.build_view import BuildView
from workbench.widgets.log import LogPane
from workbench.widgets.style import verdict_badge
from workbench.widgets.timeline import Span, render_timeline

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "build" / "c-make"
UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""What must never reach a terminal or a notebook (tab and newline may)."""
OUR_TAGS = {"style", "pre", "table", "tr", "td", "th", "div", "b", "span"}
HOSTILE = [
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b]0;pwned\x07",  # set the window title
    "\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\",  # a hyperlink
    "\x9b31m",  # the one-byte CSI
    "\x1bP+q\x1b\\",  # a device control string
    "ok\rFAILED",  # overwrite the line
    "abc\b\b\bxyz",
    "\x07",
    "\u202egnp.exe",
    "\ud800",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "&lt;b&gt;",
    "\x00",
    "\u2028",
    "\x1b[31mred\x1b[0m",
]


# -- printable -------------------------------------------------------------------------------------


def test_printable_escapes_every_control_and_keeps_tabs() -> None:
    assert printable("a\tb") == "a\tb"
    assert printable("\x1b[2J") == "\\x1b[2J"
    assert printable("\x9b31m\x07\b\r\x00\x7f") == "\\x9b31m\\x07\\x08\\x0d\\x00\\x7f"
    assert printable("\u202e\ud800\u2028") == "\\u202e\\ud800\\u2028"
    assert printable("\x1b[1;31mred\x1b[0m") == "red"  # colours only style text: dropped
    assert printable("a\nb") == "a\\x0ab"
    assert printable("a\nb", multiline=True) == "a\nb"
    assert printable("é 🙂 <b>") == "é 🙂 <b>"  # not HTML escaping: that is the widgets' own


def test_printable_is_idempotent_and_cuts_with_a_note() -> None:
    once = printable("".join(HOSTILE))
    assert printable(once) == once
    assert not UNSAFE.search(once)
    long = printable("x" * (MAX_LINE + 10))
    assert long == "x" * MAX_LINE + " [workbench: 10 more characters cut]"
    assert printable("x" * 10, limit=4) == "xxxx [workbench: 6 more characters cut]"
    assert printable("x" * (MAX_LINE + 10), limit=None) == "x" * (MAX_LINE + 10)


# -- parsing -------------------------------------------------------------------------------------


def event_line(raw: object) -> str:
    return PREFIX + json.dumps(raw)


@pytest.mark.parametrize(
    "raw",
    [
        [],
        "step",
        3,
        None,
        {},
        {"kind": None},
        {"kind": ["step"]},
        {"kind": "bogus", "message": "hi"},
        {"kind": "step", "message": {"a": 1}, "part": 7, "step": ["x"], "elapsed": "1"},
        {"kind": "step", "elapsed": float("nan"), "time": float("inf"), "data": [1, 2]},
        {"kind": "step", "elapsed": -1, "time": True, "data": "text"},
        {"kind": "error", "data": {"hint": ["a"], "details": {"x": 1}, "directory": 5}},
        {"kind": "actions", "data": {"actions": [1, "x", None, {"type": 3}]}},
        {"kind": "output", "data": {"n": 10**30, "deep": [[[[[[[[[[[["x"]]]]]]]]]]]]}},
    ],
)
def test_any_json_becomes_an_event_of_the_right_types(raw: object) -> None:
    event = parse_line(event_line(raw))
    assert event is not None
    assert event.kind in KINDS
    assert isinstance(event.message, str)
    assert event.part is None or isinstance(event.part, str)
    assert event.step is None or isinstance(event.step, str)
    assert event.elapsed is None or (isinstance(event.elapsed, float) and event.elapsed >= 0)
    assert isinstance(event.time, float)
    assert isinstance(event.data, dict)
    assert json.loads(event.to_json())["kind"] == event.kind  # writable, and valid JSON again
    assert not UNSAFE.search(event.line())


def test_malformed_and_unknown_events_are_shown_not_dropped() -> None:
    assert parse_line("plain output") is None
    bogus = parse_line(event_line({"kind": "bogus", "message": "hi"}))
    assert bogus is not None
    assert bogus.kind == "output"
    assert (
        bogus.message
        == 'workbench: unexpected event kind "bogus": {"kind": "bogus", "message": "hi"}'
    )
    deep = parse_line(PREFIX + "[" * 100_000)  # json.loads: RecursionError
    assert deep is not None
    assert deep.message.startswith("workbench: not an event: [[[")
    big = parse_line(PREFIX + "1" * 5000)  # json.loads: ValueError (too many digits)
    assert big is not None
    assert big.kind == "output"


def test_the_guest_cannot_send_the_hosts_own_events() -> None:
    line = event_line({"kind": "done", "message": "build succeeded", "data": {"ok": True}})
    assert parse_line(line) is not None
    assert parse_line(line).kind == "done"  # type: ignore[union-attr]  # the host's own stream
    forged = guest_event(line)
    assert forged.kind == "output"
    assert "unexpected event kind" in forged.message
    step = guest_event(event_line({"kind": "step", "message": "\x1b[2Jrun", "part": "a\nb"}))
    assert (step.kind, step.message, step.part) == ("step", "\\x1b[2Jrun", "a\\x0ab")
    assert guest_event("\x1b]0;title\x07").message == "\\x1b]0;title\\x07"


def test_event_text_fields_are_one_line_unless_asked() -> None:
    event = guest_event(
        event_line({"kind": "error", "data": {"hint": "a\nb\x1b", "details": "1\n2", "n": 3}})
    )
    assert event.text("hint") == "a\\x0ab\\x1b"
    assert event.text("details", multiline=True) == "1\n2"
    assert event.text("n") == "3"
    assert event.text("missing") is None


# -- bounds --------------------------------------------------------------------------------------


def test_line_splitter_cuts_long_lines_as_they_come() -> None:
    lines: list[str] = []
    split = LineSplitter(lines.append, limit=8)
    for chunk in ("0123", "456789", "abcdef", "\nshort\n", "x" * 20):
        split(chunk)
    assert lines == ["01234567 [workbench: 8 more characters cut]", "short"]
    assert len(split._rest) == 8  # what a line without its end holds: never more than the limit
    split.flush()
    assert lines[-1] == "xxxxxxxx [workbench: 12 more characters cut]"


def test_build_log_rotates_at_its_limit_and_keeps_one_old_file(tmp_path: Path) -> None:
    text, events = tmp_path / "build.log", tmp_path / "events.jsonl"
    log = BuildLog(text, events, limit=2000)
    for n in range(200):
        log(Event("output", f"line {n:03d} " + "x" * 40))
    assert (tmp_path / "build.log.1").exists()
    assert (tmp_path / "events.jsonl.1").exists()
    assert not (tmp_path / "build.log.2").exists()
    for path in (text, events, tmp_path / "build.log.1", tmp_path / "events.jsonl.1"):
        assert path.stat().st_size <= 2000, path
    first = text.read_text().splitlines()[0]
    assert f"build.log rotated at 2000 bytes: the earlier part is {text}.1" in first
    recorded = read_events(events)
    assert "events.jsonl rotated at 2000 bytes" in recorded[0].message
    assert recorded[-1].message.startswith("line 199 ")
    assert text.read_text().splitlines()[-1].endswith("line 199 " + "x" * 40)


# -- fuzz: the whole way, guest line to terminal and notebook -----------------------------------


@dataclass
class Way:
    """A session whose guest prints what a test says, and everything that shows its events."""

    session: Session
    view: BuildView
    terminal: list[Any] = field(default_factory=list)

    def run(self, text: str, status: int, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
        def exec_(command: Command, **kwargs: Any) -> Completed:
            for chunk in (text[: len(text) // 2], text[len(text) // 2 :]):
                kwargs["on_stdout"](chunk)
            kwargs["on_stderr"](text[::-1])
            return Completed(list(command.argv), status, "", "")

        self.session.instance.exec = exec_  # type: ignore[method-assign]
        self.session._error = None
        try:
            if not self.session._guest("run", Step.BUILD):
                raise self.session._failure()
        except WorkbenchError as err:
            report(err)
        out, err = capsys.readouterr()
        return out, err


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)


@pytest.fixture(scope="module")
def way(tmp_path_factory: pytest.TempPathFactory) -> Way:
    tmp = tmp_path_factory.mktemp("forged")
    project = tmp / "project"
    shutil.copytree(EXAMPLE, project)
    session = Session(project, instances=tmp / "instances")
    session._log = BuildLog(tmp / "build.log", tmp / "events.jsonl", limit=64 * 1024)
    tiny = BuildOptions(image="tiny")
    view = BuildView(BuildController(project, tiny, instances=tmp / "instances"))
    view._target = "build"
    session.on_event(view._show_build_event)
    session.on_event(terminal_view())
    session.on_event(_json_listener())
    return Way(session, view)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(blacklist_categories=())),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
GUEST_TEXT = st.text(st.characters(blacklist_categories=())) | st.sampled_from(HOSTILE)
EVENTS = st.fixed_dictionaries(
    {"kind": st.sampled_from([*KINDS, "bogus"]) | JSON},
    optional={
        "message": GUEST_TEXT | JSON,
        "part": GUEST_TEXT | JSON,
        "step": GUEST_TEXT | JSON,
        "elapsed": st.floats() | st.integers() | JSON,
        "time": st.floats() | JSON,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "hint": GUEST_TEXT | JSON,
                "details": GUEST_TEXT | JSON,
                "directory": GUEST_TEXT | JSON,
                "actions": st.lists(
                    st.fixed_dictionaries({}, optional={"type": GUEST_TEXT | JSON}) | JSON
                ),
            },
        )
        | JSON,
    },
)


@st.composite
def guest_lines(draw: st.DrawFn) -> str:
    """Lines as a hostile guest prints them: output, event lines of any JSON, broken ones."""
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["event", "text", "broken", "hostile"]))
        if kind == "event":
            raw = draw(EVENTS)
            lines.append(PREFIX + json.dumps(raw, ensure_ascii=draw(st.booleans())))
        elif kind == "broken":
            lines.append(PREFIX + draw(GUEST_TEXT))
        elif kind == "hostile":
            lines.append("".join(draw(st.lists(st.sampled_from(HOSTILE), min_size=1))))
        else:
            lines.append(draw(GUEST_TEXT))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=guest_lines(), status=st.sampled_from([0, 1, 2]))
def test_fuzz_guest_lines_through_session_terminal_and_notebook(
    way: Way, text: str, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = way.run(text, status, capsys)
    assert not UNSAFE.search(out), out
    assert not UNSAFE.search(err), err
    for line in out.splitlines():
        assert line.isascii()
        assert Event.from_json(line).to_json() == line  # --json prints the events as they are
    for html in (way.view.build_log.value, way.view.timeline.value, way.view.status.value):
        tags = Tags()
        tags.feed(html)
        assert tags.tags <= OUR_TAGS, tags.tags
        assert not UNSAFE.search(html)
    assert all(isinstance(e.kind, str) for e in read_events(way.session._log.events_path))  # type: ignore[union-attr]


def test_a_forged_error_event_makes_an_escaped_one_line_error(
    way: Way, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = {
        "kind": "error",
        "message": "boom\x1b[2J\nfake: line",
        "part": "hello\r",
        "step": "build",
        "data": {"hint": "run \x1b]0;t\x07 this", "details": "d1\x1b[31m\nd2\x9b", "directory": 1},
    }
    _, err = way.run(event_line(forged) + "\n", 1, capsys)
    first, *rest = err.splitlines()
    assert first.startswith("error: build hello\\x0d: boom\\x1b[2J\\x0afake: line (run ")
    assert "run \\x1b]0;t\\x07 this; the VM stays up" in first
    assert "and cd 1" in first
    assert rest[:2] == ["d1", "d2\\x9b"]
    assert not UNSAFE.search(err)


def test_a_forged_spec_refusal_is_an_escaped_source_error(
    way: Way, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = {"kind": "error", "message": "bad\x1b[2J", "part": 3, "data": {"hint": ["x\x07"]}}
    _, err = way.run(event_line(forged) + "\n", 2, capsys)
    line = err.splitlines()[0]
    assert line.startswith(f"{way.session.project.root / 'snapcraft.yaml'}:")  # at parts:
    assert line.endswith(r'error: bad\x1b[2J (["x\\x07"])')
    assert not UNSAFE.search(err)


def test_raw_guest_text_in_the_notebook_is_escaped() -> None:
    """The serial console and command output reach the panes as lines, not events."""
    pane = LogPane()
    LineSplitter(pane.append)("".join(HOSTILE) + "\nnext\n")
    views = [
        pane.value,
        render_timeline([Span("".join(HOSTILE), 0.0, 1.0, "done")]),
        verdict_badge(False, "".join(HOSTILE)),
    ]
    for html in views:
        tags = Tags()
        tags.feed(html)
        assert tags.tags <= OUR_TAGS, tags.tags
        assert not UNSAFE.search(html)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
