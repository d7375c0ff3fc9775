"""Whether a download server answers: one HTTP ``HEAD`` bounded in time, remembered for a while.

Choosing an image must not hang on a network that is not there: :func:`check` asks for a URL's
headers (through the proxies urllib is configured with) and gives up after :data:`TIMEOUT`
seconds, however long name resolution or the connection would take. An answer that the file is
there, moved or missing (404, 410: a mirror may have it) means the host is reachable; a refusal
(a proxy's 403, a 5xx) does not. The verdict is kept per host in
``dirs.cache_dir()/reachability.json`` for :data:`REMEMBER` seconds, so that later builds do not
wait again.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench import dirs
from workbench.files import write_atomic

TIMEOUT = 3.0
REMEMBER = 15 * 60.0


@dataclass(frozen=True)
class Reach:
    """A host's verdict: ``reachable``, ``why`` not (empty when reachable), and when it was
    checked (``time.time()``)."""

    host: str
    reachable: bool
    why: str
    at: float


def records_path() -> Path:
    return dirs.cache_dir() / "reachability.json"


def _load() -> dict[str, Reach]:
    try:
        raw = json.loads(records_path().read_text(encoding="utf-8"))
        return {host: Reach(**record) for host, record in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _save(reach: Reach) -> None:
    records = {**_load(), reach.host: reach}
    text = json.dumps({host: asdict(r) for host, r in records.items()}, indent=2, sort_keys=True)
    with contextlib.suppress(OSError):  # an unwritable cache only costs a check next time
        records_path().parent.mkdir(parents=True, exist_ok=True)
        write_atomic(records_path(), text + "\n")


def _head(url: str, timeout: float) -> str:
    """Why ``url``'s host does not answer within ``timeout`` seconds ("" when it does)."""
    verdict: list[str] = []
    silent = f"no answer within {timeout:g}s"

    def ask() -> None:
        request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "workbench"})
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                verdict.append("")
        except urllib.error.HTTPError as exc:
            verdict.append("" if exc.code in (404, 410) else f"HTTP {exc.code}")
        except urllib.error.URLError as exc:
            verdict.append(silent if isinstance(exc.reason, TimeoutError) else str(exc.reason))
        except TimeoutError:
            verdict.append(silent)
        except (OSError, http.client.HTTPException) as exc:
            verdict.append(str(exc) or type(exc).__name__)

    asker = threading.Thread(target=ask, name=f"reach {url}", daemon=True)
    asker.start()
    asker.join(timeout)
    return verdict[0] if verdict else silent


def check(url: str, *, now: float | None = None) -> Reach:
    """Whether the host of ``url`` answers, from the remembered verdict when it is recent."""
    now = time.time() if now is None else now
    host = urllib.parse.urlsplit(url).netloc
    known = _load().get(host)
    if known is not None and 0 <= now - known.at < REMEMBER:
        return known
    why = _head(url, TIMEOUT)
    reach = Reach(host, not why, why, now)
    _save(reach)
    return reach
