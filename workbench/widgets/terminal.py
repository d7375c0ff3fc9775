"""A JupyterLab terminal opened from the kernel, with a command typed into it.

The kernel finds the Jupyter server that started it (:func:`running_server`: the servers'
runtime files, the one whose process is this kernel's parent, else the only one), creates a
terminal with the server's REST API (``POST /api/terminals``) and types a command into it over the
terminal's websocket. The terminal is then listed in JupyterLab's *Running Terminals and Kernels*
panel, and :func:`open_tab_script` (JavaScript run by the notebook's output) opens its tab where
the lab exposes its app to the page (``--LabApp.expose_app_in_browser``, as ``./dev lab`` starts
it); elsewhere the script does nothing. A kernel that no Jupyter server started (a script,
nbval) gets ``None`` from :func:`running_server`: the caller says so instead of failing.
"""

from __future__ import annotations

import json
import os
import shlex
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import UsageError

TIMEOUT = 20.0


@dataclass(frozen=True)
class JupyterServer:
    """A running Jupyter server: its base URL (ending in ``/``) and token."""

    url: str
    token: str

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> JupyterServer:
        url = str(info["url"])
        return cls(url if url.endswith("/") else url + "/", str(info.get("token") or ""))

    def websocket(self, path: str) -> str:
        """The ``ws://`` (or ``wss://``) URL of ``path`` with the token."""
        scheme, _, rest = self.url.partition("://")
        ws = "wss" if scheme == "https" else "ws"
        return f"{ws}://{rest}{path}?token={self.token}"


def pick_server(infos: Iterable[Mapping[str, Any]], parent: int) -> JupyterServer | None:
    """The server whose process is ``parent`` (the kernel's), else the only server, else None."""
    found = list(infos)
    for info in found:
        if info.get("pid") == parent:
            return JupyterServer.from_info(info)
    return JupyterServer.from_info(found[0]) if len(found) == 1 else None


def running_server() -> JupyterServer | None:
    """The Jupyter server that started this kernel (None in a kernel no server started)."""
    try:
        from jupyter_server.serverapp import (  # noqa: PLC0415 (lab extra, only when asked)
            list_running_servers,
        )
    except ImportError:
        return None
    return pick_server(list_running_servers(), os.getppid())


def open_tab_script(name: str, once: str) -> str:
    """JavaScript that opens the tab of terminal ``name`` in the JupyterLab page it runs in
    (``terminal:open``), if the lab exposes its app to the page; else it does nothing. It acts
    once per ``once`` token and page: an output shown again (a view rebuilt) opens nothing."""
    token, terminal = json.dumps(once), json.dumps(name)
    return (
        "{ const done = (window.workbenchOpened ??= new Set());"
        f" if (!done.has({token})) {{ done.add({token});"
        f" window.jupyterapp?.commands.execute('terminal:open', {{name: {terminal}}}); }} }}"
    )


def open_terminal(server: JupyterServer, command: Sequence[str]) -> str:
    """Create a terminal on ``server`` and type ``command`` (quoted) into it; its name."""
    import websocket  # noqa: PLC0415 (websocket-client, a jupyter_server dependency)

    request = urllib.request.Request(
        server.url + "api/terminals",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            name = str(json.load(answer)["name"])
        socket = websocket.create_connection(
            server.websocket(f"terminals/websocket/{name}"), timeout=TIMEOUT
        )
        try:
            socket.send(json.dumps(["stdin", shlex.join(command) + "\r"]))
        finally:
            socket.close()
    except (OSError, ValueError, KeyError, websocket.WebSocketException) as err:
        raise UsageError(
            f"could not open a terminal on {server.url}: {err}",
            hint="open one from JupyterLab's launcher and run the command shown",
        ) from err
    return name
