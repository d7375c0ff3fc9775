"""Talking to the guest over SSH (paramiko) with a pinned host key.

The guest's host key is made on the host and seeded into the guest, so ``known_hosts`` is written
by us and the client uses :class:`paramiko.RejectPolicy`: an unknown or changed key is an error,
never accepted (:mod:`~workbench.vm.hostkeys`). One :class:`SshExecutor` keeps one connection
for exec (exit status, streamed stdout/stderr, timeouts, environment, working directory), SFTP
push/pull (:mod:`~workbench.vm.sftp`) and an interactive shell (:mod:`~workbench.vm.terminal`).
"""

from __future__ import annotations

import codecs
import logging
import select
import shlex
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from workbench.errors import UsageError, VmError
from workbench.vm import sftp, terminal
from workbench.vm.executor import PULL_LIMIT, Command, Completed, ConnectionLost, Sink
from workbench.vm.hostkeys import LOOPBACK, HostKeyChanged, fingerprint, refusing

if TYPE_CHECKING:
    import paramiko

_Opened = TypeVar("_Opened")
OUTPUT_CAP = 8 << 20  # bytes of each stream a Completed keeps (the tail); sinks see everything


class TurnedAway(VmError):
    """The SSH server closed the connection before sending its banner (busy: try again)."""


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
    """One persistent, host-key-pinned SSH connection to a machine (an :class:`Executor`).

    ``key``: the private key file to log in with (any type paramiko reads, no passphrase);
    ``known_hosts``: the pins; a host whose key is not there is refused (:class:`HostKeyUnknown`)
    and one whose key differs too (:class:`HostKeyChanged`): no policy ever adds a key.
    """

    def __init__(
        self, *, port: int, user: str, key: Path, known_hosts: Path, host: str = LOOPBACK
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.key = key
        self.known_hosts = known_hosts
        self._client: paramiko.SSHClient | None = None

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def connect(self, timeout: float = 20.0) -> None:
        """Log in (raises VmError; a changed or unknown host key is refused).

        A connection closed before the server's banner is retried until ``timeout``: just after
        boot, the connections the banner probe left queued in qemu's user network reach the
        guest's sshd at once, and dropbear turns away more than 5 unauthenticated ones per
        address for a moment.
        """
        end = time.monotonic() + timeout
        while True:
            try:
                return self._login(max(end - time.monotonic(), 1.0))
            except TurnedAway:
                if time.monotonic() + 0.5 >= end:
                    raise
            time.sleep(0.5)

    def _login(self, timeout: float) -> None:
        import paramiko  # noqa: PLC0415 (heavy: loaded on the first connection only)

        _quiet_library_log()
        sock = _banner_socket(self.host, self.port, timeout)
        client = paramiko.SSHClient()
        client.get_host_keys().load(str(self.known_hosts))
        client.set_missing_host_key_policy(refusing(self.address))
        try:
            client.connect(
                self.host,
                port=self.port,
                username=self.user,
                pkey=load_key(self.key),
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                look_for_keys=False,
                allow_agent=False,
                sock=sock,
            )
        except paramiko.BadHostKeyException as exc:
            _close(client, sock)
            raise HostKeyChanged(
                f"the SSH host key of {self.address} changed (got {fingerprint(exc.key)}, "
                f"pinned {fingerprint(exc.expected_key)}); refusing to connect",
                hint=f"the pin is in {self.known_hosts}",
            ) from exc
        except (paramiko.SSHException, OSError, EOFError) as exc:
            _close(client, sock)
            raise VmError(f"SSH login as {self.address} failed: {exc}") from exc
        except BaseException:
            _close(client, sock)
            raise
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
        command: Command | Sequence[str],
        *,
        timeout: float | None = None,
        check: bool = False,
        on_stdout: Sink | None = None,
        on_stderr: Sink | None = None,
    ) -> Completed:
        """Run ``command`` on the machine; stream output to the sinks; raise on timeout.

        The sinks see all of the output; the :class:`Completed` keeps the last
        :data:`OUTPUT_CAP` bytes of each stream and says how many it dropped. With ``check`` a
        non-zero exit status raises :class:`~workbench.errors.BuildError`.
        """
        command = Command.of(command)
        argv = command.argv
        chan = self._start(command.line())
        if command.stdin:
            chan.sendall(command.stdin)
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
                    f"the SSH connection to {self.address} was lost while `{shlex.join(argv)}` ran",
                    hint="its SSH server or the machine stopped; `vm status` says which",
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
        import paramiko  # noqa: PLC0415 (heavy: loaded on the first connection only)

        def open_sftp() -> paramiko.SFTPClient:
            sftp = paramiko.SFTPClient.from_transport(self._transport())
            assert sftp is not None
            return sftp

        return self._twice(open_sftp, "before an SFTP session started")

    def _twice(self, open_channel: Callable[[], _Opened], when: str) -> _Opened:
        """``open_channel()``, or once more on a fresh connection if the guest closed it."""
        import paramiko  # noqa: PLC0415 (heavy: loaded on the first connection only)

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
        """Copy the host file ``src`` to ``dst`` in the guest (SFTP, :func:`sftp.push`)."""
        with self._sftp() as session:
            sftp.push(session, src, dst)

    def pull(self, src: str, dst: Path, *, max_bytes: int = PULL_LIMIT) -> None:
        """Copy the guest file ``src`` to the host path ``dst`` (SFTP), whole or not at all
        (:func:`sftp.pull`)."""
        with self._sftp() as session:
            sftp.pull(session, src, dst, max_bytes)

    def shell(self) -> int:
        """An interactive login shell on this terminal (pty, raw mode); its exit status."""
        return terminal.attach(self._transport().open_session(timeout=20))


def load_key(path: Path) -> paramiko.PKey:
    """The private key in ``path`` (ed25519, ECDSA or RSA; not passphrase-protected)."""
    import paramiko  # noqa: PLC0415 (heavy: loaded on the first connection only)

    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such SSH key", hint="pass --identity KEY") from exc
    except paramiko.PasswordRequiredException as exc:
        raise UsageError(
            f"{path}: the SSH key is protected by a passphrase",
            hint="pass --identity with a key without one (the agent is not used)",
        ) from exc
    except (OSError, ValueError, paramiko.SSHException) as exc:
        raise UsageError(f"{path}: not a usable SSH private key: {exc}") from exc


def _banner_socket(host: str, port: int, timeout: float) -> socket.socket:
    """A connection to ``host``:``port`` on which the server's first bytes have arrived (peeked,
    left for paramiko); :class:`TurnedAway` when it closes first."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise VmError(f"cannot reach the SSH server at {host}:{port}: {exc}") from exc
    try:
        first = sock.recv(1, socket.MSG_PEEK)
    except OSError as exc:
        sock.close()
        raise VmError(f"the SSH server at {host}:{port} sent no banner: {exc}") from exc
    if not first:
        sock.close()
        raise TurnedAway(f"the SSH server at {host}:{port} closed the connection at once")
    return sock


def _close(client: paramiko.SSHClient, sock: socket.socket) -> None:
    client.close()
    sock.close()
