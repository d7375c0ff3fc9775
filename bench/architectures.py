"""Plans per second for a 7-entry ``architectures`` stanza, beside a plain YAML load of the file.

Each repeat runs every variant once (round robin, so machine noise hits them alike) and reports
operations per second as min / median / max over the repeats, plus each median's ratio to the
round-trip YAML load that every plan starts with.

    .venv/bin/python bench/architectures.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from workbench.architectures import KNOWN_ARCHS, parse, plan
from workbench.yamlpos import load_text

ALL7 = KNOWN_ARCHS  # every entry of the stanza is buildable, so the plan has 7 builds
STANZA = (
    Path(__file__).resolve().parent.parent / "examples" / "architectures" / "seven-entries.yaml"
)


def variants(text: str) -> dict[str, Callable[[], object]]:
    """The measured operations, all on the same file text."""
    document = load_text(text, str(STANZA))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return {
        "yaml load (ruamel round trip)": lambda: load_text(text, str(STANZA)),
        f"yaml load (PyYAML {loader.__name__})": lambda: yaml.load(text, Loader=loader),
        "load + parse + plan": lambda: plan(parse(load_text(text, str(STANZA))), supported=ALL7),
        "parse + plan (loaded)": lambda: plan(parse(document), supported=ALL7),
    }


def rate(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return number / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, for CI")
    args = parser.parse_args()
    number, repeat = (20, 3) if args.quick else (200, 7)
    text = STANZA.read_text()
    ops = variants(text)
    assert len(plan(parse(load_text(text)), supported=ALL7).builds) == 7
    rates: dict[str, list[float]] = {name: [] for name in ops}
    for fn in ops.values():
        fn()  # warm up imports and caches
    for _ in range(repeat):
        for name, fn in ops.items():
            rates[name].append(rate(fn, number))
    baseline = statistics.median(rates["yaml load (ruamel round trip)"])
    print(f"7-entry stanza ({STANZA.name}), {repeat} repeats x {number} calls, ops/s")
    print(f"{'variant':<34} {'min':>9} {'median':>9} {'max':>9} {'vs yaml load':>13}")
    for name, values in rates.items():
        median = statistics.median(values)
        print(
            f"{name:<34} {min(values):>9.0f} {median:>9.0f} {max(values):>9.0f} "
            f"{median / baseline:>12.2f}x"
        )


if __name__ == "__main__":
    main()
