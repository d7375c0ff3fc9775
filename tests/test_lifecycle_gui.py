"""Desktop files: ``apps.*.desktop`` and ``snap/gui/`` reach ``meta/gui/`` in the .snap as snapcraft
puts them there (real mksquashfs and unsquashfs on the host, the code the guest runs)."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from workbench.errors import UsageError
from workbench.lifecycle import build_project
from workbench.lifecycle.guest import GuestSpec, pack_snap
from workbench.lifecycle.pack import PackError, SnapMeta, desktop_entry, pack

DESKTOP = """\
[Desktop Entry]
Name=Editor
Exec=/usr/bin/editor --new-window %F
Icon=${SNAP}/usr/share/icons/editor.png
Type=Application

[Desktop Action new]
Name=New
Exec=editor --new
"""
PNG = b"\x89PNG\r\n\x1a\n-not-really"


def prime_tree(root: Path) -> Path:
    prime = root / "prime"
    (prime / "bin").mkdir(parents=True)
    (prime / "bin" / "editor").write_text("#!/bin/sh\n")
    (prime / "bin" / "editor").chmod(0o755)
    (prime / "usr/share/applications").mkdir(parents=True)
    (prime / "usr/share/applications/editor.desktop").write_text(DESKTOP)
    (prime / "usr/share/icons").mkdir(parents=True)
    (prime / "usr/share/icons/editor.png").write_bytes(PNG)
    return prime


def test_exec_runs_the_snap_app_and_an_icon_in_prime_is_under_snap(tmp_path: Path) -> None:
    prime = prime_tree(tmp_path)
    text = desktop_entry(DESKTOP, snap_name="notes", app="editor", prime=prime, file="e.desktop")
    assert "Exec=notes.editor --new-window %F\n" in text
    assert "Exec=notes.editor --new\n" in text  # every section
    assert "Icon=${SNAP}/usr/share/icons/editor.png\n" in text
    same = desktop_entry(DESKTOP, snap_name="editor", app="editor", prime=prime, file="e.desktop")
    assert "Exec=editor --new-window %F\n" in same
    themed = DESKTOP.replace("${SNAP}/usr/share/icons/editor.png", "accessories-text-editor")
    assert "Icon=accessories-text-editor\n" in desktop_entry(
        themed, snap_name="notes", app="editor", prime=prime, file="e.desktop"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[Other]\nExec=x\n", "no \\[Desktop Entry\\] section"),
        ("[Desktop Entry]\nName=x\n", "\\[Desktop Entry\\] has no Exec key"),
        ("Exec=x\n", "app editor: desktop file 'e.desktop'"),
    ],
)
def test_a_broken_desktop_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PackError, match=message):
        desktop_entry(text, snap_name="n", app="editor", prime=tmp_path, file="e.desktop")


def unsquash(snap: Path, dest: Path) -> Path:
    subprocess.run(["unsquashfs", "-d", str(dest), str(snap)], capture_output=True, check=True)
    return dest


def test_pack_puts_snap_gui_and_desktop_files_in_meta_gui(tmp_path: Path) -> None:
    prime = prime_tree(tmp_path)
    apps = {"editor": {"command": "bin/editor", "desktop": "usr/share/applications/editor.desktop"}}
    gui = {"icon.png": PNG, "editor.desktop": b"[Desktop Entry]\nExec=stale\n"}
    snap = pack(
        prime, SnapMeta("name: notes\n", apps, "notes", gui), tmp_path / "out" / "notes.snap"
    )
    root = unsquash(snap, tmp_path / "root")
    assert (root / "meta/gui/icon.png").read_bytes() == PNG
    written = (root / "meta/gui/editor.desktop").read_text()
    assert "Exec=notes.editor --new-window %F" in written  # the app's file wins over snap/gui's


def test_a_missing_desktop_file_stops_pack(tmp_path: Path) -> None:
    prime = prime_tree(tmp_path)
    apps = {"editor": {"command": "bin/editor", "desktop": "usr/share/applications/gone.desktop"}}
    with pytest.raises(PackError, match=r"app editor: desktop file .* is not a file in prime"):
        pack(prime, SnapMeta("", apps, "n"), tmp_path / "s.snap")
    assert not (tmp_path / "s.snap").exists()


def test_the_guest_runner_packs_the_gui_files_of_its_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prime_tree(tmp_path / "work")
    spec = GuestSpec(
        name="notes",
        parts={},
        work_dir=str(tmp_path / "work"),
        cache_dir=str(tmp_path / "cache"),
        snap_yaml="name: notes\n",
        apps={"editor": {"command": "bin/editor"}},
        gui={"icon.png": base64.b64encode(PNG).decode()},
        snap_file="notes.snap",
    )
    assert pack_snap(GuestSpec.from_json(spec.to_json())) == 0
    capsys.readouterr()
    assert (unsquash(spec.snap, tmp_path / "root") / "meta/gui/icon.png").read_bytes() == PNG


def test_the_host_reads_snap_gui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "snap" / "gui").mkdir(parents=True)
    (tmp_path / "snap" / "snapcraft.yaml").write_text(
        "name: notes\nversion: '1'\nbase: core22\nconfinement: strict\n"
        "apps:\n  editor:\n    command: bin/editor\nparts:\n  editor:\n    plugin: nil\n"
    )
    (tmp_path / "snap" / "gui" / "icon.png").write_bytes(PNG)
    (tmp_path / "snap" / "gui" / "sub").mkdir()
    project = build_project.resolve_build(tmp_path)
    assert project.gui_files() == {"icon.png": base64.b64encode(PNG).decode()}
    monkeypatch.setattr(build_project, "MAX_GUI_BYTES", len(PNG) - 1)
    with pytest.raises(UsageError, match="holds more than"):
        project.gui_files()
