"""What an image is built from, reduced to one digest: an image is rebuilt only when it changes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_digest(paths: Iterable[Path]) -> str:
    """One sha256 over the names and contents of ``paths`` (order-independent)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path.name}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Recipe:
    """A builder's inputs by name (versions, file digests, lists); ``digest`` identifies them."""

    builder: str
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        text = json.dumps({"builder": self.builder, **self.inputs}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
