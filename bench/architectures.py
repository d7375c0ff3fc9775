"""Plan against plain YAML loading: a 7-entry ``architectures`` stanza, and the real files.

Measured side by side in one run, round after round (each case called again and again for a time
budget, the cases taking turns): load + parse + plan of the text, printed as JSON (what
``workbench arch plan --json`` does), against a plain PyYAML load (C loader) of the same text. The
second row plans each of the ten real-shaped projects of ``tests/data/snapcraft`` (core22+ ones
through craft-platforms). Rows: milliseconds per call.

    .venv/bin/python -m bench.architectures [--quick] [--json FILE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.common import Row, against_safe_load, main
from workbench.architectures import KNOWN_ARCHS, is_modern, parse, plan, plan_modern, project_base
from workbench.yamlpos import load_text

ALL7 = KNOWN_ARCHS  # every entry of the stanza is buildable, so the plan has 7 builds
STANZA = (
    Path(__file__).resolve().parent.parent / "examples" / "architectures" / "seven-entries.yaml"
)


CORPUS = STANZA.parent.parent.parent / "tests" / "data" / "snapcraft"


def plan_json(text: str, file: str) -> str:
    """What ``workbench arch plan FILE --json`` prints, for either era of base."""
    document = load_text(text, file)
    if is_modern(project_base(document)):
        return json.dumps(plan_modern(document).to_json())
    return json.dumps(plan(parse(document), supported=ALL7).to_json())


def rows(quick: bool) -> list[Row]:
    """The plan to JSON against a PyYAML load, for the stanza and for the real files."""
    text = STANZA.read_text()
    file = str(STANZA)
    assert len(plan(parse(load_text(text, file)), supported=ALL7).builds) == 7
    corpus = [(f.read_text(), str(f)) for f in sorted(CORPUS.glob("*.yaml"))]
    goal = {"plan to JSON": "goal <= 3x"}
    table = against_safe_load(
        {"plan to JSON": lambda: plan_json(text, file)},
        [text],
        "7-entry stanza",
        quick=quick,
        goals=goal,
    )
    table += against_safe_load(
        {"plan to JSON": lambda: [plan_json(t, f) for t, f in corpus]},
        [t for t, _ in corpus],
        f"{len(corpus)} real-shaped files",
        quick=quick,
        goals=goal,
    )
    return table


if __name__ == "__main__":
    sys.exit(main({"architectures": rows}, None, prog="bench.architectures", doc=__doc__ or ""))
