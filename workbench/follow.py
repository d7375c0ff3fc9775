"""Follow a growing text file (a VM's ``serial.log``) from a background thread, line by line.

:class:`Follower` reads what was appended since its last :meth:`~Follower.poll` and hands each
complete line to ``emit`` (e.g. a :class:`~workbench.widgets.tasks.Reporter`'s ``log``: a queue,
never a widget). It starts after the file's current content, and starts over at the beginning of
a new file when the path is replaced (each boot's console is a new file): it keeps the old file
open so that the new one cannot reuse its inode. :func:`following` polls it in a daemon thread
while a block of work runs.
"""

from __future__ import annotations

import codecs
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from workbench.lifecycle.safetext import LineSplitter


class Follower:
    """New complete lines of ``path`` to ``emit`` on each :meth:`poll`."""

    def __init__(self, path: Path, emit: Callable[[str], None]) -> None:
        self.path = path
        self.lines = LineSplitter(emit)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._file: BinaryIO | None = self._open()
        if self._file is not None:
            self._file.seek(0, os.SEEK_END)

    def _open(self) -> BinaryIO | None:
        try:
            return self.path.open("rb")
        except OSError:
            return None

    def _replaced(self) -> bool:
        assert self._file is not None
        try:
            return os.stat(self.path).st_ino != os.fstat(self._file.fileno()).st_ino
        except OSError:
            return False  # gone for now: keep reading what the old file still gets

    def poll(self) -> None:
        """Emit the complete lines appended since the last poll."""
        if self._file is None or self._replaced():
            self._read()  # the end of the old file first
            self.close()
            self._file = self._open()
            self._decoder.reset()
        self._read()

    def _read(self) -> None:
        if self._file is None:
            return
        text = self._decoder.decode(self._file.read())
        if text:
            self.lines(text)

    def close(self) -> None:
        """Stop reading (the last incomplete line stays unsaid until :meth:`finish`)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def finish(self) -> None:
        """Read what is left, emit the last incomplete line, close."""
        self.poll()
        self.lines.flush()
        self.close()


@contextmanager
def following(path: Path, emit: Callable[[str], None], *, every: float = 0.5) -> Iterator[None]:
    """While the block runs, emit each new complete line of ``path`` (the rest when it ends)."""
    follower = Follower(path, emit)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            follower.poll()

    thread = threading.Thread(target=loop, name=f"follow-{path.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        follower.finish()
