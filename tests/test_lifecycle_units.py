"""Pure parts of the lifecycle: steps and the host plan, events, snap.yaml, keep-alive policy."""

from __future__ import annotations

import io
import json
import os
import pwd
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from workbench.errors import UsageError
from workbench.lifecycle import keepalive
from workbench.lifecycle.events import (
    PAYLOADS,
    Event,
    Failure,
    HostFinished,
    Kind,
    StepFinished,
    Unparsed,
)
from workbench.lifecycle.guest import COMMANDS, ROOT_COMMANDS, GuestSpec, _parts_error, give
from workbench.lifecycle.guest import main as guest_main
from workbench.lifecycle.safetext import LineSplitter
from workbench.lifecycle.shell import shell_hook_command, shell_rc
from workbench.lifecycle.snapyaml import arch_label, snap_file_name, snap_yaml, snap_yaml_data
from workbench.lifecycle.steps import ShellMode, Situation, Step, plan, step_directory
from workbench.lifecycle.wire import (
    PREFIX,
    BuildLog,
    decode,
    emit,
    encode,
    parse_line,
    read_events,
)
from workbench.vm import watchdog

FRESH = Situation(status="absent", injected=None, wheelhouse="0.1.0-abc")
WARM = Situation(status="saved", injected="0.1.0-abc", wheelhouse="0.1.0-abc")


def names(actions: list) -> list[str]:
    return [a.name for a in actions if not a.skip]


def test_step_order_parse_and_previous() -> None:
    assert [s.label for s in Step] == ["pull", "build", "stage", "prime", "pack"]
    assert Step.parse("Stage") is Step.STAGE
    assert Step.BUILD.previous() is Step.PULL
    assert Step.PULL.previous() is None
    with pytest.raises(UsageError, match="unknown step 'bake'"):
        Step.parse("bake")


def test_step_directories_are_where_the_step_happens() -> None:
    assert step_directory("/build/x", Step.PULL, "a") == "/build/x/parts/a/src"
    assert step_directory("/build/x", Step.BUILD, "a") == "/build/x/parts/a/build"
    assert step_directory("/build/x", Step.STAGE, "a") == "/build/x/stage"
    assert step_directory("/build/x", Step.PACK, None) == "/build/x/prime"


def test_plan_of_a_first_build_starts_from_the_base_then_runs_packs_copies() -> None:
    actions = plan(Step.PACK, FRESH)
    assert names(actions) == ["base", "boot", "inject", "lifecycle", "pack"]
    assert actions[1].reason == "warm start from the base's saved state"
    cold = plan(Step.PACK, replace(FRESH, from_base=False))
    assert names(cold) == ["boot", "inject", "lifecycle", "pack"]
    assert "first boot" in cold[0].reason


def test_plan_on_a_warm_instance_skips_the_injection() -> None:
    actions = plan(Step.PRIME, WARM)
    assert actions[0].reason == "warm start from the saved state"
    inject = actions[1]
    assert inject.skip
    assert "already installed" in inject.reason
    assert names(actions) == ["boot", "lifecycle"]


def test_running_instance_is_reused() -> None:
    actions = plan(Step.BUILD, Situation("running", "k", "k"))
    assert actions[0].skip
    assert "reuse" in actions[0].reason


def test_shell_instead_runs_the_steps_before_the_target() -> None:
    actions = plan(Step.BUILD, WARM, parts=("hello",), shell=ShellMode.INSTEAD)
    assert names(actions) == ["boot", "lifecycle", "shell"]
    assert "up to pull for parts hello" in actions[2].reason
    first = plan(Step.PULL, WARM, shell=ShellMode.INSTEAD)
    assert [a.name for a in first if a.skip] == ["inject", "lifecycle"]


def test_shell_after_and_debug_are_planned_after_the_step() -> None:
    after = plan(Step.BUILD, WARM, shell=ShellMode.AFTER, export_prime=True)
    assert names(after) == ["boot", "lifecycle", "export-prime", "shell"]
    debug = plan(Step.BUILD, WARM, shell=ShellMode.ON_FAILURE)
    assert "only if the step fails" in debug[-1].reason


def test_event_round_trip_and_marked_lines() -> None:
    event = Event(StepFinished(part="hello", step="build", action="run", elapsed=1.25), 7.5)
    line = encode(event)
    assert json.loads(line) == {
        "v": 1,
        "kind": "step-finished",
        "time": 7.5,
        "part": "hello",
        "step": "build",
        "action": "run",
        "elapsed": 1.25,
    }
    assert decode(line) == event
    out = io.StringIO()
    emit(event.payload, out)
    marked = out.getvalue().rstrip("\n")
    assert marked.startswith(PREFIX)
    parsed = parse_line(marked)
    assert parsed is not None
    assert parsed.payload == event.payload
    assert parse_line("make: *** [all] Error 1") is None
    malformed = parse_line(PREFIX + "{not json")
    assert malformed is not None
    assert malformed.payload == Unparsed(text="{not json", problem="not an event")
    assert malformed.line() == "workbench: not an event: {not json"
    assert event.line() == "build hello: run (1.2 s)"


def test_every_kind_has_its_payload_and_round_trips() -> None:
    assert set(PAYLOADS) == set(Kind)
    failure = Event(Failure(brief="b", step="build", details="1\n2", hint="h"), 1.0)
    assert decode(encode(failure)) == failure
    assert failure.line() == "error: build: b"


def test_line_splitter_joins_chunks() -> None:
    lines: list[str] = []
    split = LineSplitter(lines.append)
    for chunk in ("ab", "c\nde", "f\r\n", "tail"):
        split(chunk)
    assert lines == ["abc", "def"]
    split.flush()
    assert lines == ["abc", "def", "tail"]


def test_build_log_writes_text_and_json_lines(tmp_path: Path) -> None:
    log = BuildLog(tmp_path / "inst" / "build.log", tmp_path / "inst" / "events.jsonl")
    log(Event(HostFinished(action="boot", reason="warm start", elapsed=2.0)))
    log(Event(Failure(brief="make failed", part="hello", step="build")))
    text = (tmp_path / "inst" / "build.log").read_text()
    assert "boot: warm start (2.0 s)" in text
    assert "error: build hello: make failed" in text
    events = read_events(tmp_path / "inst" / "events.jsonl")
    assert [e.kind for e in events] == [Kind.HOST_FINISHED, Kind.ERROR]


PROJECT = {
    "name": "hello",
    "version": 1.5,
    "summary": "s",
    "description": "d",
    "base": "core22",
    "grade": "stable",
    "confinement": "strict",
    "build-base": "core22",
    "x-workbench": {"build-environment": {"cpus": 2}},
    "apps": {
        "hello": {
            "command": "bin/hello",
            "command-chain": ["snap/command-chain/launch"],
            "plugs": ["network"],
            "adapter": "none",
        }
    },
    "plugs": {"themes": {"interface": "content", "target": "$SNAP/themes"}},
    "parts": {"hello": {"plugin": "nil"}},
}


def test_snap_yaml_keeps_snap_keys_and_drops_snapcraft_ones() -> None:
    data = snap_yaml_data(PROJECT, ["amd64", "i386"])
    assert list(data) == [
        "name",
        "version",
        "summary",
        "description",
        "base",
        "grade",
        "confinement",
        "architectures",
        "plugs",
        "apps",
    ]
    assert data["version"] == "1.5"
    assert data["architectures"] == ["amd64", "i386"]
    assert data["apps"]["hello"] == {
        "command": "bin/hello",
        "command-chain": ["snap/command-chain/launch"],
        "plugs": ["network"],
    }
    assert yaml.safe_load(snap_yaml(PROJECT, ["amd64"])) == {**data, "architectures": ["amd64"]}


def test_snap_file_names_follow_snapcraft() -> None:
    assert arch_label(["amd64"]) == "amd64"
    assert arch_label(["amd64", "i386"]) == "multi"
    assert arch_label(["all"]) == "all"
    assert snap_file_name("hello", "1.0", ["amd64", "arm64"]) == "hello_1.0_multi.snap"


def test_keepalive_policy_defaults_and_decisions() -> None:
    policy = keepalive.Policy()
    ok = keepalive.decide(policy, ok=True, keep=False, now=1000)
    failed = keepalive.decide(policy, ok=False, keep=False, now=1000)
    kept = keepalive.decide(policy, ok=False, keep=True, now=1000)
    assert ok.deadline == 1000 + 600
    assert failed.deadline == 1000 + 24 * 3600
    assert not ok.expired(1599)
    assert ok.expired(1600)
    assert not kept.expired(10**12)
    assert keepalive.busy(policy, now=5).deadline == 5 + 24 * 3600


def test_keepalive_policy_from_env_and_file(tmp_path: Path) -> None:
    policy = keepalive.Policy.from_env({keepalive.ENV_SUCCESS: "30"})
    assert policy == keepalive.Policy(after_success=30)
    with pytest.raises(UsageError, match="a number of seconds"):
        keepalive.Policy.from_env({keepalive.ENV_FAILURE: "soon"})
    assert watchdog.read(tmp_path) is None
    decision = keepalive.decide(policy, ok=True, keep=False, now=10)
    watchdog.write(tmp_path, decision)
    assert watchdog.read(tmp_path) == decision
    assert not watchdog.running(tmp_path)


def test_shell_rc_enters_the_directory_with_a_named_prompt() -> None:
    rc = shell_rc("hello", "/build/hello/parts/a b/build")
    assert "cd '/build/hello/parts/a b/build'" in rc
    assert "PS1='hello:\\w\\$ '" in rc
    argv = shell_hook_command("hello", "/build")
    assert argv[:2] == ["sh", "-c"]
    assert "/home/workbench/.bashrc" in argv[2]  # the shell is the build user's, not root's


def test_guest_spec_round_trip_and_packages() -> None:
    spec = GuestSpec(
        name="x",
        parts={
            "a": {"plugin": "nil", "stage-packages": ["hello"]},
            "b": {"build-packages": ["pv"]},
        },
        work_dir="/build/x",
        cache_dir="/c",
    )
    assert GuestSpec.from_json(spec.to_json()) == spec
    assert spec.packages() == ["hello", "pv"]
    assert json.loads(spec.to_json())["target"] == "prime"
    assert spec.user == "workbench"
    assert spec.snap == Path("/build/x/snap")  # no snap_file: the directory itself
    assert spec.parts_digest() == GuestSpec.from_json(spec.to_json()).parts_digest()
    assert spec.parts_digest() != replace(spec, build_for="arm64").parts_digest()


def test_guest_give_owns_only_what_is_not_owned(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("x")
    (tmp_path / "a" / "link").symlink_to("/nonexistent")
    me = pwd.getpwuid(os.getuid()).pw_name
    give(tmp_path / "a", me)  # already ours: nothing to change, dangling links are fine
    assert (tmp_path / "a" / "b" / "f").stat().st_uid == os.getuid()
    with pytest.raises(KeyError):
        give(tmp_path / "a", "no-such-user-wb")


def test_the_only_root_command_is_prepare() -> None:
    assert ROOT_COMMANDS == ("prepare",)
    assert set(COMMANDS) == {"prepare", "run", "clean", "pack", "export", "inspect"}


def test_guest_modules_import_only_the_standard_library() -> None:
    code = (
        "import sys, workbench.lifecycle.guest\n"
        "heavy = {'ruamel', 'yaml', 'paramiko', 'craft_parts', 'tqdm', 'pydantic'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_package_failures_name_the_packages_and_the_network() -> None:
    from craft_parts.errors import PartsError  # noqa: PLC0415 (heavy guest package)
    from craft_parts.packages.errors import BuildPackagesNotInstalled  # noqa: PLC0415 (heavy guest package)

    spec = GuestSpec(
        name="x",
        parts={"a": {"plugin": "nil", "build-packages": ["pv"], "stage-packages": ["hello"]}},
        work_dir="/build/x",
        cache_dir="/c",
    )
    event = _parts_error(BuildPackagesNotInstalled(packages=["pv"]), spec, "a", Step.BUILD)
    assert "packages named by the parts: hello, pv" in event.brief
    assert event.hint is not None
    assert "network" in event.hint
    assert event.directory == "/build/x/parts/a/build"
    other = _parts_error(PartsError("boom", resolution="fix it"), spec, None, None)
    assert other.brief == "boom"
    assert other.hint == "fix it"
    assert other.directory == "/build/x"


def test_guest_refuses_a_bad_spec_with_one_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert guest_main(["run", "{not json"]) == 2
    event = parse_line(capsys.readouterr().out.strip())
    assert event is not None
    assert isinstance(event.payload, Failure)
    assert event.payload.brief.startswith("bad guest spec: JSONDecodeError")
