"""YAML data (libyaml or round-trip) as plain JSON-ready values, and as indented JSON text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any


def to_plain(data: Any) -> Any:
    """Deep copy of round-trip data as plain dicts, lists and scalars (JSON-ready)."""
    if isinstance(data, Mapping):
        return {str(k): to_plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [to_plain(v) for v in data]
    if data is None or isinstance(data, bool):
        return data
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    return str(data)


def to_json(data: Any, pad: str = "\n") -> str:
    """``json.dumps(to_plain(data), indent=2, ensure_ascii=False)``, in one pass and about three
    times as fast (the standard encoder indents only in pure Python); ``pad`` starts the lines of
    this value's elements, less two spaces."""
    if isinstance(data, str):
        return encode_basestring(data)
    if isinstance(data, Mapping):
        if not data:
            return "{}"
        inner = pad + "  "
        items = [encode_basestring(str(k)) + ": " + to_json(v, inner) for k, v in data.items()]
        return "{" + inner + ("," + inner).join(items) + pad + "}"
    if isinstance(data, list | tuple):
        if not data:
            return "[]"
        inner = pad + "  "
        return "[" + inner + ("," + inner).join([to_json(v, inner) for v in data]) + pad + "]"
    if data is None or isinstance(data, bool | int | float):
        return json.dumps(to_plain(data))
    return encode_basestring(str(data))
