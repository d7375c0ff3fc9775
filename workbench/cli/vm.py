"""``workbench vm``: the build VM of a project (``--project DIR``, default the current directory).

Actions: ``image list|build``, ``up [--stop-after DURATION]``, ``exec -- CMD...`` (exits with the
command's status), ``shell``, ``push``, ``pull``, ``snapshot save|load|list|delete``, ``down
[--save]``, ``status [--json]`` (with when the VM stops by itself, and why), ``logs``, ``clean
[--all]``. Long steps draw progress bars on stderr; the instance's ``workbench.log`` records what
was done. Without an instance, the commands that need one are a user error (exit 2).

``--host user@address[:port]`` (with ``--identity`` and ``--accept-host-key``, see
:mod:`workbench.cli.host`) runs ``exec``, ``shell``, ``push``, ``pull``, ``status`` and ``down``
(disconnect) on an existing SSH host instead; ``snapshot`` there is a user error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.cli.host import host_arguments, host_target
from workbench.errors import UsageError, format_error
from workbench.progress import terminal_listener
from workbench.vm import watchdog
from workbench.vm.arch import ARCHS, DEFAULT_ARCH
from workbench.vm.config import DEFAULT_IMAGES, InstanceConfig
from workbench.vm.diagnose import tail
from workbench.vm.executor import Command
from workbench.vm.image_index import entry
from workbench.vm.images import ImageInfo, ensure_image, list_images
from workbench.vm.local import Instance
from workbench.vm.pins import HostTarget
from workbench.vm.qemu import SHARE_MODES
from workbench.vm.remote import RemoteHost, no_snapshots
from workbench.vm.state import InstanceDir, Status
from workbench.vm.teardown import clean_everything

ACCEL_CHOICES = ("auto", "kvm", "tcg")


def register(subparsers: Any) -> None:
    """Add the ``vm`` subcommand and its actions."""
    parser = subparsers.add_parser(
        "vm",
        help="run a project's build VM (qemu, SSH, 9p, snapshots)",
        description="One VM per project: a qcow2 overlay over a cached base image, reached over "
        "SSH with a pinned host key, the project mounted on /project over 9p.",
    )
    parser.add_argument("--project", default=".", help="project directory (default: .)")
    parser.add_argument("--arch", choices=list(ARCHS), help=ARCH_HELP)
    host_arguments(parser)
    project = argparse.ArgumentParser(add_help=False)
    project.add_argument("--project", default=argparse.SUPPRESS, help="project directory")
    project.add_argument("--arch", choices=list(ARCHS), default=argparse.SUPPRESS, help=ARCH_HELP)
    cls = type(parser)
    actions = parser.add_subparsers(dest="action", required=True, parser_class=cls)

    def action(name: str, handler: Any, help: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(name, help=help, parents=[project])
        sub.set_defaults(handler=handler)
        return sub

    image = actions.add_parser("image", help="list or build base images")
    images = image.add_subparsers(dest="image_action", required=True, parser_class=cls)
    listing = images.add_parser("list", help="the image index and what is cached")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_image_list)
    build = images.add_parser("build", help="build or download an image into the cache")
    build.add_argument("name", help="image name, e.g. tiny or debian-12")
    build.add_argument("--rebuild", action="store_true", help="even when cached")
    build.set_defaults(handler=run_image_build)

    _up_arguments(action("up", run_up, "start the VM and wait until it is ready"))

    ex = action("exec", run_exec, "run a command in the VM; exit with its status")
    ex.add_argument("--cwd", help="working directory in the guest")
    ex.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    ex.add_argument("--timeout", type=float, help="seconds before giving up")
    ex.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")

    shell = action("shell", run_shell, "an interactive shell in the VM (root by default)")
    shell.add_argument("--user", help="log in as USER (root, or the build user workbench)")
    push = action("push", run_push, "copy a host file into the VM")
    push.add_argument("src", type=Path)
    push.add_argument("dst")
    pull = action("pull", run_pull, "copy a file out of the VM")
    pull.add_argument("src")
    pull.add_argument("dst", type=Path)

    snap = action("snapshot", run_snapshot, "save, load, list or delete VM states")
    snap.add_argument("snapshot_action", choices=("save", "load", "list", "delete"))
    snap.add_argument("name", nargs="?", default="default")

    down = action("down", run_down, "stop the VM")
    down.add_argument("--save", action="store_true", help="save a warm-start state first")
    status = action("status", run_status, "the VM's status")
    status.add_argument("--json", action="store_true", help="print JSON")
    logs = action("logs", run_logs, "log paths and their last lines")
    logs.add_argument("--lines", type=int, default=20)
    clean = action("clean", run_clean, "stop the VM and delete its instance directory")
    clean.add_argument("--all", action="store_true", help="every instance and every base image")


def _up_arguments(up: argparse.ArgumentParser) -> None:
    up.add_argument("--image", help="base image (default: the instance's, else tiny)")
    up.add_argument("--memory", help="guest RAM, e.g. 1G (default: the instance's, else 1G)")
    up.add_argument("--cpus", type=int, help="guest CPUs (default: the instance's, else 2)")
    up.add_argument(
        "--disk-size", help="guest disk, e.g. 16G: set when created, grown later, never shrunk"
    )
    up.add_argument("--accel", choices=ACCEL_CHOICES, help="accelerator (default: auto)")
    up.add_argument(
        "--share-mode",
        choices=SHARE_MODES,
        default="ro",
        help="how the guest mounts the project: ro (default) or rw (the guest can write it)",
    )
    up.add_argument("--msize", type=int, default=512000, help="9p msize in bytes (512000)")
    up.add_argument(
        "--stop-after",
        metavar="DURATION",
        help="stop (state saved) after this long unused, e.g. 45m, 2h"
        " (default: WORKBENCH_STOP_AFTER_IDLE, else 30m)",
    )


ARCH_HELP = "which of the project's VMs (one per architecture; default: amd64, or --image's)"


def _notify(line: str) -> None:
    print(f"workbench: {line}", file=sys.stderr)


def _instance(args: argparse.Namespace, config: InstanceConfig | None = None) -> Instance:
    if getattr(args, "host", None) is not None:
        raise UsageError(
            f"`vm {args.action}` is for qemu VMs, not an SSH host",
            hint="with --host: exec, shell, push, pull, status, down",
        )
    config = config or InstanceConfig(image=DEFAULT_IMAGES[args.arch or DEFAULT_ARCH])
    return Instance(args.project, config, listener=terminal_listener(), notify=_notify)


def _machine(args: argparse.Namespace) -> Instance | RemoteHost:
    """The SSH host of ``--host`` (logged in), else the project's instance."""
    target = host_target(args)
    if target is None:
        return _instance(args)
    host = RemoteHost(target, notify=_notify)
    host.up()
    return host


def _log_to(instance: Instance) -> None:
    """Record this command in the instance's ``workbench.log`` (when the instance exists)."""
    if not instance.dir.root.is_dir():
        return
    handler = logging.FileHandler(instance.dir.workbench_log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("workbench")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.info("workbench %s", " ".join(sys.argv[1:]))


def run_image_list(args: argparse.Namespace) -> int:
    infos = list_images()
    if args.json:
        rows = [{**info.__dict__, "path": str(info.path) if info.path else None} for info in infos]
        print(json.dumps(rows, indent=2))
        return 0
    width = max([len("NAME"), *(len(info.name) for info in infos)])
    roles = [_role(info) for info in infos]
    role_width = max([len("FOR"), *map(len, roles)])
    print(
        f"{'NAME':<{width}} {'ARCH':<6} {'CACHED':<6} {'SIZE':>9}  {'SHA256':<12}  {'PYTHON':<6}  "
        f"{'FOR':<{role_width}}  SOURCE"
    )
    for info, role in zip(infos, roles, strict=True):
        size = f"{info.size / 2**20:.0f} MiB" if info.size else "-"
        digest = (info.sha256 or "-")[:12]
        cached = "yes" if info.cached else "no"
        print(
            f"{info.name:<{width}} {info.arch:<6} {cached:<6} {size:>9}  {digest:<12}  "
            f"{info.python:<6}  {role:<{role_width}}  {info.source}"
        )
    return 0


def _role(info: ImageInfo) -> str:
    """The bases ``info`` serves: ``core22``, ``stand-in for core18 core20``, or ``-``."""
    if info.base is not None:
        return info.base
    if info.stands_in_for:
        return "stand-in for " + " ".join(info.stands_in_for)
    return "-"


def run_image_build(args: argparse.Namespace) -> int:
    image = ensure_image(args.name, listener=terminal_listener(), rebuild=args.rebuild)
    print(f"{image.name}: {image.disk} (sha256 {image.sha256[:16]})")
    return 0


def run_up(args: argparse.Namespace) -> int:
    arch = args.arch or (entry(args.image).arch if args.image else DEFAULT_ARCH)
    if args.image and entry(args.image).arch != arch:
        raise UsageError(
            f"--image {args.image} is an {entry(args.image).arch} image, not {arch}",
            hint="drop --arch, or pick an image of that architecture (`vm image list`)",
        )
    recorded = InstanceDir.for_project(Path(args.project), arch=arch).load_state()
    config = InstanceConfig.resume(
        recorded, image=args.image, memory=args.memory, cpus=args.cpus, arch=arch
    )
    config = replace(
        config,
        disk_size=args.disk_size,
        accel=args.accel,
        share_mode=args.share_mode,
        msize=args.msize,
    )
    instance = _instance(args, config)
    stop_after = None
    if args.stop_after is not None:
        stop_after = watchdog.parse_duration(args.stop_after, what="--stop-after")
    instance.dir.create()
    _log_to(instance)
    instance.up(stop_after=stop_after)
    report = instance.status()
    print(f"{report.name}: {report.status} (ssh port {report.port}, accel {report.accel})")
    print(watchdog.describe(watchdog.read(instance.dir.root), time.time()))
    instance.close()
    return 0


def run_exec(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise UsageError("no command given", hint="vm exec -- CMD ARGS...")
    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid --env {item!r}", hint="use KEY=VALUE")
        env[key] = value
    instance = _machine(args)
    result = instance.exec(
        Command(command, env=env, cwd=args.cwd),
        timeout=args.timeout,
        on_stdout=_writer(sys.stdout),
        on_stderr=_writer(sys.stderr),
    )
    if result.exit_status != 0:
        found = instance.explain(result.stderr)
        if found is not None:
            _notify(f"hint: {found.line()}")
    instance.close()
    return result.exit_status


def _writer(stream: Any) -> Any:
    def write(text: str) -> None:
        stream.write(text)
        stream.flush()

    return write


def run_shell(args: argparse.Namespace) -> int:
    machine = _machine(args)
    return machine.shell(user=args.user) if args.user else machine.shell()


def run_push(args: argparse.Namespace) -> int:
    _machine(args).push(args.src, args.dst)
    return 0


def run_pull(args: argparse.Namespace) -> int:
    _machine(args).pull(args.src, args.dst)
    return 0


def run_snapshot(args: argparse.Namespace) -> int:
    if args.host is not None:  # said before any connection: an SSH host has none
        raise no_snapshots(HostTarget.parse(args.host))
    instance = _instance(args)
    what = args.snapshot_action
    if what != "list":
        _log_to(instance)
    if what == "save":
        instance.snapshot(args.name)
        print(f"saved {args.name}")
    elif what == "load":
        instance.load_snapshot(args.name)
        print(f"loaded {args.name}")
    elif what == "delete":
        instance.delete_snapshot(args.name)
        print(f"deleted {args.name}")
    else:
        print(f"{'NAME':<16} {'SIZE':>10}  {'DATE':<19}  LOADABLE")
        for snap in instance.snapshots():
            size = snap.entry.vm_size if snap.entry else "-"
            date = snap.entry.date if snap.entry else "-"
            verdict = "yes" if snap.loadable else "no: " + "; ".join(snap.problems)
            print(f"{snap.name:<16} {size:>10}  {date:<19}  {verdict}")
    instance.close()
    return 0


def run_down(args: argparse.Namespace) -> int:
    target = host_target(args)
    if target is not None:
        print(f"{target}: {RemoteHost(target).down(save=args.save)}")
        return 0
    instance = _instance(args)
    _log_to(instance)
    how = instance.down(save=args.save)
    print(f"{instance.dir.name}: {how}{' (state saved)' if args.save else ''}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    target = host_target(args)
    if target is not None:
        host = _machine(args)
        report = host.status()
        shown = report.to_json()
        print(json.dumps(shown, indent=2) if args.json else _table(shown))
        host.close()
        return 0
    instance = _instance(args)
    report = instance.status()
    died = instance.crash_error()
    if died is not None:
        print(format_error(died), file=sys.stderr)
        print(died.details or "", file=sys.stderr)
    up = report.status in (Status.STARTING, Status.RUNNING, Status.FAILED)
    shown = {**report.to_json(), **watchdog.report(instance.dir.root, up=up, now=time.time())}
    if args.json:
        print(json.dumps(shown, indent=2))
    else:  # the image with what it stands in for, on one line
        print(_table({**shown, "image": report.image_label, "stand_in_for": None}))
    return 0


def _table(shown: dict[str, Any]) -> str:
    """``vm status`` as ``key value`` lines (empty values and the keep-alive record left out)."""
    lines = []
    for key, value in shown.items():
        if value not in (None, []) and key != "keepalive":
            text = ", ".join(value) if isinstance(value, list) else value
            lines.append(f"{key:<11} {text}")
    return "\n".join(lines)


def run_logs(args: argparse.Namespace) -> int:
    for role, path in _instance(args).logs().items():
        print(f"==> {role}: {path}")
        text = tail(path, args.lines)
        if text:
            print(text)
    return 0


def run_clean(args: argparse.Namespace) -> int:
    instance = _instance(args)
    if args.all:
        for line in clean_everything():
            print(line)
        return 0
    instance.clean()
    print(f"removed {instance.dir.root}")
    return 0
