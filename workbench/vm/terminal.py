"""An interactive shell on an SSH session channel, attached to this terminal in raw mode."""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import termios
import tty
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import paramiko


def attach(chan: paramiko.Channel) -> int:
    """Run a login shell with a pty on ``chan``, wired to this terminal (window size changes
    follow); its exit status. ``chan`` is closed at the end."""
    cols, rows = shutil.get_terminal_size()
    chan.get_pty(os.environ.get("TERM", "xterm"), cols, rows)
    chan.invoke_shell()
    stdin = sys.stdin.fileno()
    interactive = os.isatty(stdin)
    saved = termios.tcgetattr(stdin) if interactive else None

    def resize(_sig: int, _frame: object) -> None:
        chan.resize_pty(*shutil.get_terminal_size())

    previous = signal.signal(signal.SIGWINCH, resize)
    try:
        if interactive:
            tty.setraw(stdin, termios.TCSANOW)  # keep typeahead (TCSAFLUSH drops it)
        sources: list[Any] = [chan, stdin]
        while True:
            readable = select.select(sources, [], [])[0]
            if chan in readable:
                data = chan.recv(65536)
                if not data:
                    break
                os.write(sys.stdout.fileno(), data)
            if stdin in readable:
                data = os.read(stdin, 4096)
                if not data:
                    chan.shutdown_write()
                    sources.remove(stdin)
                else:
                    chan.sendall(data)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, previous)
    status = chan.recv_exit_status()
    chan.close()
    return status
