"""Cost of the HIPAA scrubbing: sentry_relay.pii_strip_event events/s, bundle defaults vs Sentry's.

    make bench                                      # with the other benchmarks
    .venv/bin/python tests/bench/bench_privacy.py   # alone, prints the rows as JSON

Both sides scrub the same normalised events (the PHI corpus of tests/phi, one error event per
literal) with every PII config Relay would apply: Sentry's default (data scrubber and its
defaults on, nothing else) versus the role's defaults (advanced rules merged as Sentry does,
then the converted legacy settings). Rounds alternate and the median counts. Time is this
process's CPU time, so other load on the machine does not skew the ratio.
Target: the HIPAA configuration keeps >= 50 % of the default's throughput.

pii_strip_event parses and compiles the config on every call (Relay itself compiles a
project's config once and keeps it); the "config compile" rows measure that fixed cost on
a one-field event, so the remaining per-event cost can be read off as well.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET_RATIO = 0.5
ROUNDS = 5


def _events() -> list[dict]:
    import sentry_relay

    from tests.phi import corpus

    normalizer = sentry_relay.StoreNormalizer(project_id=1)
    return [normalizer.normalize_event(corpus.error_event(phi)) for phi in corpus.PHI]


def _rate(configs: list[dict], events: list[dict]) -> float:
    import sentry_relay

    start = time.process_time()
    for event in events:
        for config in configs:
            event = sentry_relay.pii_strip_event(config, event)
    return len(events) / (time.process_time() - start)


def run() -> list[dict]:
    sys.path.insert(0, str(REPO))
    from tests.unit.privacy import scrubbing

    events = _events()
    tiny = [{"message": "x"}] * len(events)
    hipaa, default = scrubbing.configs_from_defaults(), scrubbing.sentry_default_configs()
    rates: dict[str, list[float]] = {"hipaa": [], "default": [], "hipaa tiny": [], "default tiny": []}
    for _ in range(ROUNDS):
        rates["default"].append(_rate(default, events))
        rates["hipaa"].append(_rate(hipaa, events))
        rates["default tiny"].append(_rate(default, tiny))
        rates["hipaa tiny"].append(_rate(hipaa, tiny))
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratio = med["hipaa"] / med["default"]

    def row(metric, value, unit, target=None, ok=None):
        return {"metric": metric, "value": value, "unit": unit, "target": target, "ok": ok}

    return [
        row("pii_strip_event, Sentry default scrubbing", med["default"], "events/s"),
        row("pii_strip_event, bundle HIPAA scrubbing", med["hipaa"], "events/s"),
        row("HIPAA / default throughput", ratio, "ratio", f">= {TARGET_RATIO}", ratio >= TARGET_RATIO),
        row("config compile per call, default", 1000 / med["default tiny"], "ms"),
        row("config compile per call, HIPAA", 1000 / med["hipaa tiny"], "ms"),
    ]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
