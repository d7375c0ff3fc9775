"""A browser of a build's ``prime/`` (in the VM) and of the packed snap's ``meta/snap.yaml``.

Pure pieces: :func:`listing_command` (the guest command listing prime/), :func:`parse_listing`
and :func:`render_listing`. Thin runners: :func:`packed_snap_yaml` reads ``meta/snap.yaml`` out of
a ``.snap`` on the host with ``unsquashfs -cat``. :class:`PrimeBrowser` shows both; the build
view fills it from a background task.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as w

from workbench.errors import BuildError
from workbench.widgets.style import CSS, esc, table

KINDS = {"f": "file", "d": "dir", "l": "link"}
SNAP_YAML = "meta/snap.yaml"


@dataclass(frozen=True)
class PrimePath:
    """One path under prime/: its kind (file, dir, link, other) and size in bytes."""

    path: str
    kind: str
    size: int


def listing_command(prime: str) -> list[str]:
    """The guest command printing ``TYPE SIZE PATH`` for everything under ``prime`` (GNU find)."""
    return ["find", prime, "-mindepth", "1", "-printf", "%y %s %P\\n"]


def parse_listing(text: str) -> list[PrimePath]:
    """The entries of :func:`listing_command`'s output, sorted by path."""
    entries = []
    for line in text.splitlines():
        kind, size, path = [*line.split(" ", 2), "", ""][:3]
        if path and size.isdigit():
            entries.append(PrimePath(path, KINDS.get(kind, "other"), int(size)))
    return sorted(entries, key=lambda e: e.path)


def render_listing(entries: Sequence[PrimePath]) -> str:
    """A table of the entries (directories end with ``/``; sizes of files only)."""
    rows = [
        (e.path + ("/" if e.kind == "dir" else ""), e.kind, str(e.size) if e.kind == "file" else "")
        for e in entries
    ]
    return CSS + table(("path", "kind", "bytes"), rows)


def packed_snap_yaml(snap: Path) -> str:
    """The ``meta/snap.yaml`` inside the packed ``snap`` (host ``unsquashfs``)."""
    try:
        proc = subprocess.run(
            ["unsquashfs", "-cat", str(snap), SNAP_YAML],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"cannot read {SNAP_YAML} from {snap}: {exc}") from exc
    if proc.returncode != 0:
        raise BuildError(
            f"cannot read {SNAP_YAML} from {snap}", details=(proc.stderr or proc.stdout).strip()
        )
    return proc.stdout


class PrimeBrowser(w.VBox):  # type: ignore[misc]
    """prime/'s listing beside the packed snap.yaml; :meth:`show` fills both (kernel thread)."""

    def __init__(self) -> None:
        self.entries: list[PrimePath] = []
        self.snap_yaml = ""
        self.listing = w.HTML()
        self.listing.add_class("wb-prime")
        self.yaml_view = w.HTML()
        self.yaml_view.add_class("wb-snap-yaml")
        super().__init__([w.HBox([self.listing, self.yaml_view])])

    def show(self, entries: Sequence[PrimePath], snap_yaml: str, note: str = "") -> None:
        """Show ``entries`` and ``snap_yaml`` (``note`` says why one is missing)."""
        self.entries = list(entries)
        self.snap_yaml = snap_yaml
        self.listing.value = render_listing(self.entries) if self.entries else esc(note)
        self.yaml_view.value = (
            f'{CSS}<b>{SNAP_YAML}</b><pre class="wb-pre">{esc(snap_yaml)}</pre>'
            if snap_yaml
            else esc(note)
        )
