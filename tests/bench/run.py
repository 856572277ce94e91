"""`make bench`: run every tests/bench/bench_<area>.py, print one table, write JSON.

Each bench module exposes ``run() -> list[dict]`` with the keys ``metric``, ``value``,
``unit``, ``target`` (text or None) and ``ok`` (True, False or None when there is no
target). A module that fails is reported as a failed row; the runner exits non-zero when
any row misses its target or any module fails, so a regression is visible.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".artifacts" / "bench" / "results.json"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    only = set(argv)
    results: dict[str, list[dict]] = {}
    failed = False
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        area = path.stem.removeprefix("bench_")
        if only and area not in only:
            continue
        print(f"== bench: {area}", flush=True)
        started = time.monotonic()
        try:
            rows = list(_load(path).run())
        except Exception as exc:  # a broken bench is a failed row, not a crash of the others
            traceback.print_exc()
            rows = [{"metric": "bench failed", "value": str(exc), "unit": "", "target": None, "ok": False}]
        results[area] = rows
        print(f"   ({time.monotonic() - started:.1f} s)", flush=True)

    header = ("area", "metric", "value", "unit", "target", "ok")
    table = [header]
    for area, rows in results.items():
        for row in rows:
            ok = row.get("ok")
            failed |= ok is False
            table.append(
                (
                    area,
                    row["metric"],
                    _fmt(row["value"]),
                    row.get("unit", ""),
                    row.get("target") or "",
                    {True: "yes", False: "NO", None: ""}[ok],
                )
            )
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": results}, indent=2)
    )
    print(f"\nwritten: {OUT.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
