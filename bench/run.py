"""Run every benchmark in bench/ and print its figures (`make bench`).

    python bench/run.py [--quick] [--json] [NAME ...]

Each `bench/<name>_bench.py` has `main(argv) -> dict` and prints its own figures; this runner calls them
in turn (or only the NAMEs given, e.g. `queue import`), then prints a summary. `--quick` passes each
benchmark its `QUICK_ARGS` (small sizes, for a smoke run); `--json` prints all figures as one JSON object
at the end. The exit code is 1 if any benchmark failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Small sizes for benchmarks that do not declare QUICK_ARGS themselves.
QUICK_FALLBACK = {
    "import": ["--orders", "2000"],
    "shipping": ["--shipments", "500", "--single", "100"],
    "stock": ["--lines", "4000", "--service-lines", "2000", "--variants", "50"],
    "queue": ["--orders", "50000", "--reps", "10"],
}


def discover() -> list[str]:
    return sorted(p.stem.removesuffix("_bench") for p in HERE.glob("*_bench.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Zaplecze's benchmarks")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all): " + ", ".join(discover()))
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not the figures)")
    parser.add_argument("--json", action="store_true", help="print all figures as one JSON object at the end")
    args = parser.parse_args(argv)
    available = discover()
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}")
    sys.path.insert(0, str(HERE))
    figures: dict[str, dict] = {}
    failed: list[str] = []
    for name in args.names or available:
        module = importlib.import_module(f"{name}_bench")
        bench_argv = list(getattr(module, "QUICK_ARGS", QUICK_FALLBACK.get(name, []))) if args.quick else []
        print(f"\n=== {name} {' '.join(bench_argv)}".rstrip(), flush=True)
        started = time.perf_counter()
        try:
            figures[name] = module.main(bench_argv)
        except Exception:  # noqa: BLE001 - report and go on with the other benchmarks
            traceback.print_exc()
            failed.append(name)
        else:
            print(f"({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    print(f"\n{len(figures)} benchmark(s) done" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if args.json:
        print(json.dumps(figures, default=str, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
