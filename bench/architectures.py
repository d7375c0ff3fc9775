"""Plan against plain YAML loading: a 7-entry ``architectures`` stanza, all entries buildable.

Measured side by side in one run, round after round (each case called again and again for a time
budget, the cases taking turns): load + parse + plan of the file text (the ruamel round-trip load
that every plan starts with included), the ruamel load alone, and a plain PyYAML ``safe_load`` (C
loader when available) of the same text. Rows: milliseconds per call, the plan against each load.

    .venv/bin/python -m bench.architectures [--quick] [--json FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.common import Row, against_yaml_loads, main
from workbench.architectures import KNOWN_ARCHS, parse, plan
from workbench.yamlpos import load_text

ALL7 = KNOWN_ARCHS  # every entry of the stanza is buildable, so the plan has 7 builds
STANZA = (
    Path(__file__).resolve().parent.parent / "examples" / "architectures" / "seven-entries.yaml"
)


def rows(quick: bool) -> list[Row]:
    """load + parse + plan against a PyYAML safe_load and a ruamel round-trip load."""
    text = STANZA.read_text()
    file = str(STANZA)
    assert len(plan(parse(load_text(text, file)), supported=ALL7).builds) == 7
    return against_yaml_loads(
        "plan",
        "7-entry stanza",
        lambda: plan(parse(load_text(text, file)), supported=ALL7),
        text,
        quick=quick,
    )


if __name__ == "__main__":
    sys.exit(main({"architectures": rows}, None, prog="bench.architectures", doc=__doc__ or ""))
