"""Packing prime into a ``.snap``: checks and the mksquashfs command (guest side, stdlib only).

The host writes the snap.yaml text (:mod:`workbench.lifecycle.snapyaml`) and reads the project's
``snap/gui/`` files; in the guest :func:`pack` (run as the build user) puts them in
``prime/meta/`` and ``prime/meta/gui/``, writes each app's ``desktop`` file there as snapcraft
does (:func:`desktop_entry`), checks that every app's command exists in prime and squashes prime
with mksquashfs on the VM disk. The host fetches the result
(:mod:`workbench.lifecycle.outputs`).
"""

from __future__ import annotations

import configparser
import io
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class PackError(Exception):
    """Prime cannot be packed as asked (a missing command, a mksquashfs failure)."""


def mksquashfs_argv(prime: Path, snap: Path) -> list[str]:
    """The mksquashfs command snapd's packer uses: xz, no fragments, all files owned by root."""
    return [
        "mksquashfs",
        str(prime),
        str(snap),
        "-noappend",
        "-comp",
        "xz",
        "-no-fragments",
        "-no-progress",
        "-all-root",
        "-no-xattrs",
    ]


def missing_commands(apps: Mapping[str, Any], prime: Path) -> list[str]:
    """``app: command`` for each app whose command is not a file in ``prime``."""
    missing = []
    for name, app in sorted(apps.items()):
        for key in ("command", *(["command-chain"] if app.get("command-chain") else [])):
            values = app.get(key)
            for value in values if isinstance(values, list) else [values]:
                if not value:
                    continue
                first = shlex.split(str(value))[0]
                rel = first.removeprefix("$SNAP/").lstrip("/")
                if not (prime / rel).is_file():
                    missing.append(f"{name}: {key} {first!r}")
    return missing


def desktop_entry(text: str, *, snap_name: str, app: str, prime: Path, file: str) -> str:
    """An app's desktop file as snapcraft writes it to ``meta/gui/APP.desktop``: every section's
    ``Exec`` runs ``SNAP.APP`` (``SNAP`` when the app is named after the snap) with the original
    arguments, and an ``Icon`` that is a file in prime becomes ``${SNAP}/PATH``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the keys' case
    try:
        parser.read_string(text, source=file)
    except configparser.Error as err:
        raise PackError(f"app {app}: desktop file {file!r}: {err.message}") from None
    if "Desktop Entry" not in parser.sections():
        raise PackError(f"app {app}: desktop file {file!r} has no [Desktop Entry] section")
    for name in parser.sections():
        section = parser[name]
        if "Exec" not in section:
            raise PackError(f"app {app}: desktop file {file!r}: [{name}] has no Exec key")
        words = shlex.split(section["Exec"], posix=False) or [""]
        words[0] = app if app == snap_name else f"{snap_name}.{app}"
        section["Exec"] = " ".join(words)
        icon = section.get("Icon", "").removeprefix("/").removeprefix("${SNAP}/")
        if icon and (prime / icon).is_file():
            section["Icon"] = f"${{SNAP}}/{icon}"
    out = io.StringIO()
    parser.write(out, space_around_delimiters=False)
    return out.getvalue()


@dataclass(frozen=True)
class SnapMeta:
    """What goes into ``prime/meta``: snap.yaml's text, the apps (their commands are checked,
    their desktop files copied) and the project's ``snap/gui/`` files by name."""

    snap_yaml: str
    apps: Mapping[str, Any]
    snap_name: str = ""
    gui: Mapping[str, bytes] = field(default_factory=dict)


def write_gui(prime: Path, meta: SnapMeta) -> None:
    """``snap/gui/`` files, then each app's desktop file, into ``prime/meta/gui/``."""
    apps, gui, snap_name = meta.apps, meta.gui, meta.snap_name
    wanted = {name: app["desktop"] for name, app in apps.items() if (app or {}).get("desktop")}
    if not gui and not wanted:
        return
    gui_dir = prime / "meta" / "gui"
    gui_dir.mkdir(parents=True, exist_ok=True)
    for file, content in gui.items():
        if "/" in file or file in {"", ".", ".."}:
            raise PackError(f"snap/gui file name {file!r} is not a plain file name")
        (gui_dir / file).write_bytes(content)
    for app, desktop in sorted(wanted.items()):
        path = prime / str(desktop).removeprefix("${SNAP}/").lstrip("/")
        if not path.is_file():
            raise PackError(f"app {app}: desktop file {desktop!r} is not a file in prime")
        text = path.read_text(encoding="utf-8", errors="replace")
        entry = desktop_entry(text, snap_name=snap_name, app=app, prime=prime, file=str(desktop))
        (gui_dir / f"{app}.desktop").write_text(entry, encoding="utf-8")


def pack(prime: Path, meta: SnapMeta, snap: Path) -> Path:
    """Write meta/snap.yaml and meta/gui/, squash ``prime`` into ``snap``; return ``snap``."""
    missing = missing_commands(meta.apps, prime)
    if missing:
        raise PackError("not found in prime: " + "; ".join(missing))
    meta_dir = prime / "meta"
    meta_dir.mkdir(parents=True, exist_ok=True)
    (meta_dir / "snap.yaml").write_text(meta.snap_yaml, encoding="utf-8")
    write_gui(prime, meta)
    snap.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(mksquashfs_argv(prime, snap), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PackError(f"mksquashfs failed: {done.stderr.strip() or done.stdout.strip()}")
    return snap
