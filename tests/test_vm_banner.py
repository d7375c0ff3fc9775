"""The SSH banner probe: slow sshd answers are waited for, and hanging connections are bounded."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from workbench.vm.readiness import BANNER_ATTEMPT, MAX_OPEN, wait_banner


@dataclass
class Listener:
    """A local server that answers each connection with a banner after ``delay`` (None: never),
    counting how many connections are open at once."""

    delay: float | None
    sock: socket.socket = field(default_factory=socket.socket)
    open_now: int = 0
    most_open: int = 0
    accepted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.open_now += 1
                self.most_open = max(self.most_open, self.open_now)
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn: socket.socket) -> None:
        with conn:
            if self.delay is not None:
                time.sleep(self.delay)
                with contextlib.suppress(OSError):
                    conn.sendall(b"SSH-2.0-slow\r\n")
            try:
                while conn.recv(64):
                    pass
            except OSError:
                pass
        with self.lock:
            self.open_now -= 1


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[Listener]:
    listener = Listener(delay=request.param)
    listener.sock.bind(("127.0.0.1", 0))
    listener.sock.listen(64)
    threading.Thread(target=listener.serve, daemon=True).start()
    yield listener
    listener.sock.close()


@pytest.mark.parametrize("server", [3.0], indirect=True)
def test_a_starved_sshd_that_answers_after_seconds_is_waited_for(server: Listener) -> None:
    # a loaded TCG guest: sshd accepts at once but sends its banner seconds later; one attempt
    # keeps its connections long enough to hear it
    assert server.delay < BANNER_ATTEMPT  # type: ignore[operator]
    assert wait_banner(server.port, BANNER_ATTEMPT) == "SSH-2.0-slow"


@pytest.mark.parametrize("server", [None], indirect=True)
def test_connections_that_hang_are_capped(server: Listener) -> None:
    # qemu's user networking accepts and then hangs while the guest's network is down
    assert wait_banner(server.port, 2.5, every=0.001) is None
    time.sleep(0.2)
    assert server.accepted > MAX_OPEN  # it kept trying new connections...
    # ...but never held more than the cap (plus one the server has not seen closed yet)
    assert server.most_open <= MAX_OPEN + 1
