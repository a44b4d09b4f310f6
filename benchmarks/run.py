"""`python -m benchmarks.run [--only NAME ...] [--leads N] [--quick] [--seed S] [--update-results]` (`make bench`).

Builds (or reuses) the bench data set, runs each benchmark from the same starting point, prints its
figure next to its reference figure, and writes `benchmarks/results/<name>.json` plus `results.md`
into `benchmarks/results/local/` (not committed, so a run on a user's machine never dirties the tree).
`--update-results` (full size, seed 42 only) writes the committed `benchmarks/results/` instead: the lead
does that from one full run on a quiet machine.
A benchmark that breaks is reported as an error and the others still run; nothing here fails because
something was slow.

Adding a benchmark: a module in this package with NAME, TITLE and `run(ctx: Context) -> Result`, and one
line in BENCHMARKS below.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from benchmarks.common import Context, Result, print_result, write_markdown, write_result

# (name, module), in the order of issue 8. Pages run before rescoring, which rewrites every lead row.
BENCHMARKS = [
    ("capture", "benchmarks.capture_http"),
    ("speed_to_lead", "benchmarks.speed_to_lead"),
    ("pages", "benchmarks.pages"),
    ("rescoring", "benchmarks.rescoring"),
    ("sla_sweep", "benchmarks.sla_sweep"),
    ("dashboards", "benchmarks.dashboards"),
    ("csv_import", "benchmarks.csv_import"),
    ("predictive", "benchmarks.predictive"),
    ("webhooks", "benchmarks.webhooks"),
    ("pipeline", "benchmarks.pipeline"),
]
QUICK_LEADS = 20_000


def run_one(name: str, module_name: str, ctx: Context) -> Result:
    from benchmarks import generate

    module = importlib.import_module(module_name)
    generate.reset_to_generated(ctx.meta)
    start = time.perf_counter()
    try:
        result = module.run(ctx)
    except Exception as error:  # a broken benchmark is a finding, not a reason to stop the others
        traceback.print_exc()
        result = Result(name=name, title=getattr(module, "TITLE", name), status=f"error: {error!r}"[:300])
    result.seconds = time.perf_counter() - start
    generate.reset_to_generated(ctx.meta)
    return result


def main(argv=None) -> int:
    names = [name for name, _module in BENCHMARKS]
    parser = argparse.ArgumentParser(description="Leadwerk benchmarks (see docs/performance.md).")
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=f"one or more of: {', '.join(names)}")
    parser.add_argument("--leads", type=int, help="data-set size (default 1,000,000; 20,000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="small data set and fewer repetitions, for iterating")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--update-results", action="store_true",
                        help="write the committed benchmarks/results/ (full size, seed 42 only)")
    args = parser.parse_args(argv)
    leads = args.leads or (QUICK_LEADS if args.quick else 1_000_000)
    if args.update_results and (args.quick or leads != 1_000_000 or args.seed != 42):
        parser.error("--update-results needs the full run: 1,000,000 leads, seed 42, not --quick")

    from benchmarks import db

    target = db.configure(leads=leads)
    print(f"Bench data in {db.describe()}.")
    from benchmarks import generate

    meta = generate.ensure(leads=leads, seed=args.seed)
    ctx = Context(leads=leads, quick=args.quick, seed=args.seed, database_url=target.url, meta=meta)
    # Only a full-size run asked to (--update-results) writes the committed results; every other run goes to
    # results/local/ (gitignored), so `make bench` never dirties the tree or overwrites the figures in the repo.
    scratch = not args.update_results
    selected = [(name, module) for name, module in BENCHMARKS if not args.only or name in args.only]
    for name, module_name in selected:
        print(f"\n-- running {name} ...", flush=True)
        result = run_one(name, module_name, ctx)
        print_result(result)
        write_result(result, quick=scratch, context=ctx)
    path = write_markdown(quick=scratch, order=names)
    print(f"\nResults: {path}")
    print(path.read_text().split("## Details")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
