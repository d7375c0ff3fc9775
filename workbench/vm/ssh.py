"""Talking to the guest over SSH (paramiko) with a pinned host key.

The guest's host key is made on the host and seeded into the guest, so ``known_hosts`` is written
by us and the client uses :class:`paramiko.RejectPolicy`: an unknown or changed key is an error,
never accepted. One :class:`SshExecutor` keeps one connection for exec (exit status, streamed
stdout/stderr, timeouts, environment, working directory), SFTP push/pull and an interactive shell.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import os
import select
import selectors
import shlex
import shutil
import signal
import socket
import stat
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.errors import BuildError, VmError
from workbench.files import atomic_output

if TYPE_CHECKING:
    import paramiko

Sink = Callable[[str], None]
_Opened = TypeVar("_Opened")
OUTPUT_CAP = 8 << 20  # bytes of each stream a Completed keeps (the tail); sinks see everything
PULL_LIMIT = 16 << 30  # bytes: `pull` refuses a bigger guest file unless told a higher limit
CHUNK = 1 << 20
_TURNED_AWAY = "Error reading SSH protocol banner"  # paramiko: closed before the banner came


@dataclass(frozen=True)
class Completed:
    """A finished guest command."""

    argv: list[str]
    exit_status: int
    stdout: str
    stderr: str

    def check(self) -> Completed:
        """Self, or :class:`BuildError` when the command failed."""
        if self.exit_status != 0:
            last = (self.stderr.strip() or self.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise BuildError(
                f"`{shlex.join(self.argv)}` exited with status {self.exit_status}: {last[0]}",
                details=self.stderr or self.stdout,
            )
        return self


class HostKeyChanged(VmError):
    """The guest presented a host key other than the pinned one."""


class ConnectionLost(VmError):
    """The SSH connection ended while a command ran (the guest's sshd or the VM went away)."""


def command_line(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> str:
    """The remote shell command for ``argv`` with ``env`` and ``cwd``, every word quoted (pure)."""
    if not argv:
        raise VmError("no command given")
    words = list(argv)
    if env:
        words = ["env", *(f"{key}={value}" for key, value in env.items()), *words]
    line = shlex.join(words)
    return f"cd {shlex.quote(cwd)} && {line}" if cwd else line


def known_hosts_line(port: int, public_key: str) -> str:
    """The ``known_hosts`` entry pinning ``public_key`` for 127.0.0.1:``port`` (pure)."""
    key_type, blob = public_key.split()[:2]
    return f"[127.0.0.1]:{port} {key_type} {blob}\n"


def wait_banner(port: int, timeout: float, *, every: float = 0.2) -> str | None:
    """The SSH identification line the guest sends on ``port``, or None if none came in time.

    Through qemu's user networking a connection made while the guest's network is still down is
    accepted on the host and then hangs, instead of failing. So a fresh connection is opened
    every ``every`` s while the earlier ones keep waiting; the first banner on any of them wins.
    """
    end = time.monotonic() + timeout
    opened_at = 0.0
    received: dict[socket.socket, bytes] = {}
    with selectors.DefaultSelector() as sel:
        try:
            while (now := time.monotonic()) < end:
                if now - opened_at >= every:
                    opened_at = now
                    with contextlib.suppress(OSError):
                        sock = socket.create_connection(("127.0.0.1", port), timeout=every)
                        sock.setblocking(False)
                        sel.register(sock, selectors.EVENT_READ)
                        received[sock] = b""
                for key, _ in sel.select(min(every, max(end - now, 0.0))):
                    sock = key.fileobj  # type: ignore[assignment]
                    try:
                        chunk = sock.recv(256)
                    except OSError:
                        chunk = b""
                    data = received[sock] + chunk
                    if not chunk or b"\n" in data or len(data) >= 256:
                        line = data.split(b"\n", 1)[0].decode("ascii", "replace").strip()
                        if line.startswith("SSH-"):
                            return line
                        sel.unregister(sock)
                        sock.close()
                        del received[sock]
                    else:
                        received[sock] = data
        finally:
            for sock in received:
                sock.close()
    return None


def port_open(port: int, timeout: float) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class _Tail:
    """The last ``cap`` bytes of a stream, and how many came before them."""

    def __init__(self, cap: int) -> None:
        self.cap = max(cap, 1)
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        while self.size - len(self.chunks[0]) >= self.cap:
            self.size -= len(first := self.chunks.popleft())
            self.dropped += len(first)

    def text(self) -> str:
        """The kept bytes as text, after a line saying how many were dropped (if any were)."""
        data = b"".join(self.chunks)
        cut = max(len(data) - self.cap, 0)
        if not self.dropped and not cut:
            return data.decode("utf-8", "replace")
        while cut < len(data) and 0x80 <= data[cut] < 0xC0:  # not in the middle of a character
            cut += 1
        note = f"[workbench: {self.dropped + cut} bytes of earlier output dropped]\n"
        return note + data[cut:].decode("utf-8", "replace")


def _quiet_library_log() -> None:
    """Keep paramiko's transport thread from printing tracebacks of expected failed attempts
    (no banner yet while the guest boots) through logging's last-resort handler."""
    logger = logging.getLogger("paramiko")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


class SshExecutor:
    """One persistent, host-key-pinned SSH connection to a guest."""

    def __init__(self, *, port: int, user: str, key: Path, known_hosts: Path) -> None:
        self.port = port
        self.user = user
        self.key = key
        self.known_hosts = known_hosts
        self._client: paramiko.SSHClient | None = None

    def connect(self, timeout: float = 20.0) -> None:
        """Log in (raises VmError; a changed or unknown host key is refused).

        A connection closed before the guest's banner is retried until ``timeout``: just after
        boot, the connections the banner probe left queued in qemu's user network reach the
        guest's sshd at once, and dropbear turns away more than 5 unauthenticated ones per
        address for a moment.
        """
        end = time.monotonic() + timeout
        while True:
            try:
                return self._login(max(end - time.monotonic(), 1.0))
            except VmError as err:
                if _TURNED_AWAY not in err.brief or time.monotonic() + 0.5 >= end:
                    raise
            time.sleep(0.5)

    def _login(self, timeout: float) -> None:
        import paramiko

        _quiet_library_log()
        client = paramiko.SSHClient()
        client.get_host_keys().load(str(self.known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                "127.0.0.1",
                port=self.port,
                username=self.user,
                pkey=paramiko.Ed25519Key.from_private_key_file(str(self.key)),
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                look_for_keys=False,
                allow_agent=False,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyChanged(
                f"the guest's SSH host key changed (got {exc.key.get_fingerprint().hex()}); "
                "refusing to connect",
                hint=f"the key pinned in {self.known_hosts} is the one seeded into this instance; "
                "run `vm clean` if the instance was replaced",
            ) from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            raise VmError(f"SSH login as {self.user} on port {self.port} failed: {exc}") from exc
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(15)
        self._client = client

    @property
    def connected(self) -> bool:
        transport = self._client.get_transport() if self._client else None
        return transport is not None and transport.is_active()

    def _transport(self) -> paramiko.Transport:
        if not self.connected:
            self.connect()
        assert self._client is not None
        transport = self._client.get_transport()
        assert transport is not None
        return transport

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        check: bool = False,
        on_stdout: Sink | None = None,
        on_stderr: Sink | None = None,
        stdin: bytes | None = None,
    ) -> Completed:
        """Run ``argv`` in the guest; stream output to the sinks; raise on timeout.

        The sinks see all of the output; the :class:`Completed` keeps the last
        :data:`OUTPUT_CAP` bytes of each stream and says how many it dropped. With ``check`` a
        non-zero exit status raises :class:`~workbench.errors.BuildError`.
        """
        chan = self._start(command_line(argv, env=env, cwd=cwd))
        if stdin:
            chan.sendall(stdin)
        chan.shutdown_write()
        out, err = _Tail(OUTPUT_CAP), _Tail(OUTPUT_CAP)
        streams = (
            (chan.recv_ready, chan.recv, on_stdout, out),
            (chan.recv_stderr_ready, chan.recv_stderr, on_stderr, err),
        )
        decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in streams]
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                moved = False
                for (ready, recv, sink, tail), decoder in zip(streams, decoders, strict=True):
                    if ready():
                        data = recv(65536)
                        tail.add(data)
                        text = decoder.decode(data)
                        if sink and text:
                            sink(text)
                        moved = True
                if moved:
                    continue
                if chan.exit_status_ready() and not chan.recv_ready():
                    if not chan.recv_stderr_ready():
                        break
                    continue
                if end is not None and time.monotonic() >= end:
                    raise VmError(
                        f"`{shlex.join(argv)}` did not finish within {timeout:g} s",
                        hint="pass a longer timeout",
                    )
                select.select([chan], [], [], 0.05)
            status = chan.recv_exit_status()
            if status == -1 and not self.connected:  # closed with no exit status: no answer
                raise ConnectionLost(
                    f"the SSH connection to the guest was lost while `{shlex.join(argv)}` ran",
                    hint="the guest's SSH server or the VM stopped; `vm status` says which",
                )
        finally:
            chan.close()
        result = Completed(list(argv), status, out.text(), err.text())
        return result.check() if check else result

    def _start(self, command: str) -> paramiko.Channel:
        """A session channel running ``command``.

        A channel (or connection) that closes before the command is sent is retried once on a
        fresh connection: nothing ran yet, so the retry cannot run the command twice.
        """
        return self._twice(lambda: self._open_and_exec(command), f"before `{command}` started")

    def _sftp(self) -> paramiko.SFTPClient:
        """An SFTP session (retried once on a fresh connection, as :meth:`_start`)."""
        import paramiko

        def open_sftp() -> paramiko.SFTPClient:
            sftp = paramiko.SFTPClient.from_transport(self._transport())
            assert sftp is not None
            return sftp

        return self._twice(open_sftp, "before an SFTP session started")

    def _twice(self, open_channel: Callable[[], _Opened], when: str) -> _Opened:
        """``open_channel()``, or once more on a fresh connection if the guest closed it."""
        import paramiko

        failures = (paramiko.SSHException, EOFError, OSError)
        try:
            return open_channel()
        except failures:
            self.close()
        try:
            return open_channel()
        except failures as exc:
            raise VmError(
                f"the guest's SSH server closed the session {when}: {exc}",
                hint="see `python -m workbench vm logs`; `vm down` and `vm up` restart the guest",
            ) from exc

    def _open_and_exec(self, command: str) -> paramiko.Channel:
        chan = self._transport().open_session(timeout=20)
        chan.exec_command(command)
        return chan

    def push(self, src: Path, dst: str) -> None:
        """Copy the host file ``src`` to ``dst`` in the guest (SFTP)."""
        with self._sftp() as sftp:
            try:
                sftp.put(str(src), dst)
                sftp.chmod(dst, src.stat().st_mode & 0o7777)
            except OSError as exc:
                raise VmError(f"cannot push {src} to {dst}: {exc}") from exc

    def pull(self, src: str, dst: Path, *, max_bytes: int = PULL_LIMIT) -> None:
        """Copy the guest file ``src`` to the host path ``dst`` (SFTP), whole or not at all.

        The bytes go to a temporary file next to ``dst`` that replaces it only once exactly the
        size the guest stated arrived. Not a regular file, over ``max_bytes``, changed while
        copied, a lost connection or an interrupt: a VmError (or the interrupt), ``dst`` as it was.
        """
        import paramiko

        with self._sftp() as sftp:
            try:
                info = sftp.stat(src)
                size = info.st_size or 0
                if not stat.S_ISREG(info.st_mode or 0):
                    raise VmError(f"cannot pull {src}: not a regular file")
                if size > max_bytes:
                    raise VmError(
                        f"cannot pull {src}: its {size} bytes exceed the limit of {max_bytes}",
                        hint="pass a higher max_bytes if the file is expected to be that big",
                    )
                with sftp.open(src, "rb") as remote, atomic_output(dst) as out:
                    got = 0
                    while chunk := remote.read(min(CHUNK, size + 1 - got)):
                        got += len(chunk)
                        if got > size:
                            break
                        out.write(chunk)
                    if got != size:
                        raise VmError(
                            f"cannot pull {src}: it changed while it was copied "
                            f"({size} bytes stated, {got} read)",
                            hint="pull it again once nothing writes it",
                        )
            except (OSError, EOFError, paramiko.SSHException) as exc:
                raise VmError(f"cannot pull {src} to {dst}: {exc}") from exc

    def shell(self) -> int:
        """An interactive login shell on this terminal (pty, raw mode); its exit status."""
        import termios
        import tty

        cols, rows = shutil.get_terminal_size()
        chan = self._transport().open_session(timeout=20)
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
