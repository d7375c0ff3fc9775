"""Forged guest events: whatever the guest prints is data, shown escaped, bounded, never a crash.

A hostile guest controls every byte of the guest runner's stdout and stderr. These tests feed
lines to the functions the real build uses on the way from the guest to the user: the session's
line handler (:meth:`Session._guest`, here with the SSH command replaced by one that prints the
lines: the one fake), its error (``failure.build_error``, ``spec_error``), ``build.log``, the
terminal printer of ``workbench build`` (plain and ``--json``), the CLI's error report, and the
build view of notebook 03 (log, timeline, status). Nothing may raise, the terminal may get no
control character, the notebook no tag the guest wrote. ``test_build_vm.py::
test_forged_guest_events_are_shown_as_data`` runs the same through a real build in a real VM.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli import report
from workbench.cli.build import _json_listener, terminal_view
from workbench.errors import WorkbenchError
from workbench.lifecycle import BuildController, BuildOptions, Session
from workbench.lifecycle.events import (
    PAYLOADS,
    Done,
    Event,
    Failure,
    Kind,
    Output,
    StepStarted,
    Unparsed,
)
from workbench.lifecycle.failure import build_error
from workbench.lifecycle.safetext import MAX_LINE, LineSplitter, printable
from workbench.lifecycle.steps import Step
from workbench.lifecycle.wire import (
    PREFIX,
    BuildLog,
    decode,
    encode,
    guest_event,
    parse_line,
    read_events,
)
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


def assert_typed(record: object) -> None:
    """Every field of ``record`` (a payload, or a record in one) holds its declared type."""
    hints = get_type_hints(type(record))
    for item in fields(record):  # type: ignore[arg-type]
        value = getattr(record, item.name)
        hint = hints[item.name]
        if value is None:
            assert type(None) in get_args(hint), item.name
        elif isinstance(value, tuple):
            assert get_origin(hint) is tuple, item.name
            (element,) = get_args(hint)[:1]
            for x in value:
                if is_dataclass(element):
                    assert_typed(x)
                else:
                    assert isinstance(x, element), (item.name, x)
        else:
            expected = hint if isinstance(hint, type) else get_args(hint)[0]
            assert isinstance(value, expected), (item.name, value)


V1 = {"v": 1}


@pytest.mark.parametrize(
    "raw",
    [
        [],
        "step",
        3,
        None,
        {},
        V1,
        {**V1, "kind": None},
        {**V1, "kind": ["step"]},
        {**V1, "kind": "bogus", "text": "hi"},
        {"v": True, "kind": "output", "text": "x"},
        {"v": 2, "kind": "output", "text": "x"},
        {"kind": "step", "message": "an older workbench's line", "part": "p"},
        {**V1, "kind": "output"},
        {**V1, "kind": "output", "text": "\x1b[2J<b>", "extra": [1]},
        {**V1, "kind": "step-finished", "step": {"a": 1}, "action": "run", "elapsed": 1},
        {**V1, "kind": "step-finished", "step": "s", "part": 7, "action": "run", "elapsed": 1},
        {**V1, "kind": "step-finished", "step": "s", "action": "run", "elapsed": "1"},
        {**V1, "kind": "step-finished", "step": "s", "action": "run", "elapsed": float("nan")},
        {**V1, "kind": "step-finished", "step": "s", "action": "run", "elapsed": -1},
        {**V1, "kind": "step-finished", "step": "s", "action": "run", "elapsed": 10**400},
        {**V1, "kind": "step-finished", "step": "s", "action": "run", "elapsed": True},
        {**V1, "kind": "step-skipped", "step": "s", "reason": "r", "time": float("inf")},
        {**V1, "kind": "step-skipped", "step": "s", "reason": "r", "time": True},
        {**V1, "kind": "error", "brief": "b", "hint": ["a"], "details": {"x": 1}},
        {**V1, "kind": "error", "brief": "b", "details": "1\n2\x1b", "directory": None},
        {**V1, "kind": "actions", "target": "build", "actions": [1, "x", None, {"type": 3}]},
        {**V1, "kind": "actions", "target": "build", "actions": [{"part": "p", "step": "pull"}]},
        {
            **V1,
            "kind": "actions",
            "target": "build",
            "actions": [{"part": "p", "step": "pull", "action": "skip", "skipped": True}],
        },
        {**V1, "kind": "done", "operation": "build", "ok": 1, "elapsed": 0},
    ],
)
def test_any_json_becomes_an_event_of_the_right_types(raw: object) -> None:
    event = parse_line(event_line(raw))
    assert event is not None
    assert isinstance(event.payload, PAYLOADS[event.kind])
    assert_typed(event.payload)
    assert isinstance(event.time, float)
    assert decode(encode(event)) == event  # writable, and read back the same
    assert not UNSAFE.search(event.line())


def test_malformed_and_unknown_events_are_shown_not_dropped() -> None:
    assert parse_line("plain output") is None
    bogus = parse_line(event_line({"v": 1, "kind": "bogus", "text": "hi"}))
    assert bogus is not None
    assert bogus.kind is Kind.UNPARSED
    assert bogus.line() == (
        'workbench: unexpected event kind "bogus": {"v": 1, "kind": "bogus", "text": "hi"}'
    )
    deep = parse_line(PREFIX + "[" * 100_000)  # json.loads: RecursionError
    assert deep is not None
    assert deep.line().startswith("workbench: not an event: [[[")
    big = parse_line(PREFIX + "1" * 5000)  # json.loads: ValueError (too many digits)
    assert big is not None
    assert big.kind is Kind.UNPARSED
    old = parse_line(event_line({"kind": "step", "message": "run", "part": "p"}))
    assert old is not None
    assert old.payload == Unparsed(
        text='{"kind": "step", "message": "run", "part": "p"}', problem="not a version 1 event"
    )
    wrong = parse_line(event_line({"v": 1, "kind": "step-skipped", "step": "s", "reason": 3}))
    assert wrong is not None
    assert wrong.line().startswith("workbench: malformed step-skipped event: reason: not text: ")


def test_old_events_files_stay_readable(tmp_path: Path) -> None:
    """``events.jsonl`` lines of an older workbench (no version) are shown, not dropped."""
    path = tmp_path / "events.jsonl"
    new = Event(Output(text="now"), 2.0)
    path.write_text('{"kind": "host", "message": "boot: warm", "elapsed": 1.0}\n' + encode(new))
    old, again = read_events(path)
    assert isinstance(old.payload, Unparsed)
    assert "boot: warm" in old.line()
    assert again == new


def test_the_guest_cannot_send_the_hosts_own_events() -> None:
    line = event_line({"v": 1, "kind": "done", "operation": "build", "ok": True, "elapsed": 1})
    hosts = parse_line(line)
    assert hosts is not None
    assert isinstance(hosts.payload, Done)  # the host's own stream
    forged = guest_event(line)
    assert isinstance(forged.payload, Unparsed)
    assert forged.payload.problem == 'unexpected event kind "done"'
    for kind in set(Kind) - {Kind.ACTIONS, Kind.ERROR} - {k for k in Kind if "step" in k}:
        assert guest_event(event_line({"v": 1, "kind": kind})).kind is Kind.UNPARSED
    step = guest_event(
        event_line(
            {"v": 1, "kind": "step-started", "step": "s", "action": "\x1b[2Jrun", "part": "a\nb"}
        )
    )
    assert step.payload == StepStarted(step="s", action="\\x1b[2Jrun", part="a\\x0ab")
    assert guest_event("\x1b]0;title\x07").payload == Output(text="\\x1b]0;title\\x07")


def test_event_text_fields_are_one_line_unless_multiline() -> None:
    event = guest_event(
        event_line({"v": 1, "kind": "error", "brief": "b", "hint": "a\nb\x1b", "details": "1\n2"})
    )
    assert event.payload == Failure(brief="b", hint="a\\x0ab\\x1b", details="1\n2")
    made = Failure(brief="x\ny", part="\x07")  # made on the host from guest text: the same
    assert (made.brief, made.part) == ("x\\x0ay", "\\x07")


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
        log(Event(Output(text=f"line {n:03d} " + "x" * 40)))
    assert (tmp_path / "build.log.1").exists()
    assert (tmp_path / "events.jsonl.1").exists()
    assert not (tmp_path / "build.log.2").exists()
    for path in (text, events, tmp_path / "build.log.1", tmp_path / "events.jsonl.1"):
        assert path.stat().st_size <= 2000, path
    first = text.read_text().splitlines()[0]
    assert f"build.log rotated at 2000 bytes: the earlier part is {text}.1" in first
    recorded = read_events(events)
    assert "events.jsonl rotated at 2000 bytes" in recorded[0].line()
    assert recorded[-1].line().startswith("line 199 ")
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
                s = self.session
                raise build_error(s._error, s.project, s.options.step, s._tail, s.machine)
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


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` nine times in ten, else any JSON."""
    return st.integers(0, 9).flatmap(lambda n: valid if n else JSON)


def wire_value(hint: Any) -> st.SearchStrategy[Any]:
    """JSON values of a payload field's type (hostile text in its text), now and then any JSON."""
    args = get_args(hint)
    if hint is str:
        valid: st.SearchStrategy[Any] = GUEST_TEXT
    elif hint is float:
        valid = st.floats(min_value=0, allow_infinity=False) | st.integers(0, 10**6)
    elif hint is bool:
        valid = st.booleans()
    elif get_origin(hint) is tuple:
        valid = st.lists(wire_value(args[0]), max_size=3)
    elif type(None) in args:
        valid = st.none() | wire_value(next(a for a in args if a is not type(None)))
    else:
        valid = wire_record(hint)
    return mostly(valid)


def wire_record(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    """A payload (or a record in one) as JSON: its fields, the optional ones now and then left
    out, each now and then of another type."""
    hints = get_type_hints(cls)
    return st.fixed_dictionaries(
        {f.name: wire_value(hints[f.name]) for f in fields(cls) if f.default is MISSING},
        optional={
            f.name: wire_value(hints[f.name]) for f in fields(cls) if f.default is not MISSING
        },
    )


EVENTS = st.sampled_from([*Kind, "bogus"]).flatmap(
    lambda kind: st.tuples(
        st.fixed_dictionaries(
            {"v": mostly(st.just(1)), "kind": mostly(st.just(kind))},
            optional={"time": mostly(st.floats(min_value=0, allow_infinity=False))},
        ),
        wire_record(PAYLOADS[Kind(kind)]) if kind in set(Kind) else JSON,
    ).map(lambda pair: {**pair[1], **pair[0]} if isinstance(pair[1], dict) else pair[1])
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
        assert encode(decode(line)) == line  # --json prints the events as they are
    for html in (way.view.build_log.value, way.view.timeline.value, way.view.status.value):
        tags = Tags()
        tags.feed(html)
        assert tags.tags <= OUR_TAGS, tags.tags
        assert not UNSAFE.search(html)
    for event in read_events(way.session._log.events_path):  # type: ignore[union-attr]
        assert isinstance(event.payload, PAYLOADS[event.kind])
        assert_typed(event.payload)


def test_a_forged_error_event_makes_an_escaped_one_line_error(
    way: Way, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = {
        "v": 1,
        "kind": "error",
        "brief": "boom\x1b[2J\nfake: line",
        "part": "hello\r",
        "step": "build",
        "hint": "run \x1b]0;t\x07 this",
        "details": "d1\x1b[31m\nd2\x9b",
        "directory": "/d\x07",
    }
    _, err = way.run(event_line(forged) + "\n", 1, capsys)
    first, *rest = err.splitlines()
    assert first.startswith("error: build hello\\x0d: boom\\x1b[2J\\x0afake: line (run ")
    assert "run \\x1b]0;t\\x07 this; the VM stays up" in first
    assert "and cd /d\\x07" in first
    assert rest[:2] == ["d1", "d2\\x9b"]
    assert not UNSAFE.search(err)


def test_a_forged_spec_refusal_is_an_escaped_source_error(
    way: Way, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = {"v": 1, "kind": "error", "brief": "bad\x1b[2J", "part": "3", "hint": "x\x07\n"}
    _, err = way.run(event_line(forged) + "\n", 2, capsys)
    line = err.splitlines()[0]
    assert line.startswith(f"{way.session.project.root / 'snapcraft.yaml'}:")  # at parts:
    assert line.endswith(r"error: bad\x1b[2J (x\x07\x0a)")
    assert not UNSAFE.search(err)
    malformed = {**forged, "part": 3}  # not an event: the refusal says only that much
    _, err = way.run(event_line(malformed) + "\n", 2, capsys)
    assert err.splitlines()[0].endswith("error: the guest refused the build spec")


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
