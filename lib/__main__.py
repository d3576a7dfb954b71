"""`python -m lib`: the project's one command-line entry.

    run       the whole pipeline locally (adf/pipeline.json's DAG, notebooks via papermill)
    generate  write the synthetic labeled sshd log (the embedded default input)
    parse     parse a log with the pure-Python parser: one JSON object per line
    bench     measure the stages and the alternatives on generated data
    evaluate  the incident detector beside fail2ban and CrowdSec on generated labeled logs
    upload    land raw log files in the lake's bronze container (Azure Blob / ADLS Gen2)
"""
from __future__ import annotations

import argparse
import json
import sys


def _checked_time(args) -> bool:
    """`--year` and `--timezone` refused with one line before anything starts (False: refused)."""
    from lib.params import time_params

    try:
        time_params(args.year or 0, args.timezone or "UTC")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def _run(args) -> int:
    from lib.runner import PipelineError, print_summary, run

    if not _checked_time(args):
        return 2
    params = dict(kv.split("=", 1) for kv in args.param)
    for key in ("year", "timezone", "batch_id", "tracking_uri"):
        if getattr(args, key) not in (None, ""):
            params[key] = getattr(args, key)
    inputs = args.input
    if not inputs:
        from lib import synth

        sample, _ = synth.write(f"{args.output}/input/openssh_synthetic.log")
        inputs = [str(sample)]
        params.setdefault("year", synth.DEFAULT_START.year)
    cluster = None
    try:
        if args.standalone:
            from lib.spark import StandaloneCluster

            cluster = StandaloneCluster(workers=args.standalone, log_dir=f"{args.output}/standalone-cluster").start()
            args.spark_master = cluster.url
            print(f"standalone cluster {cluster.url} with {args.standalone} workers")
        summary = run(inputs, args.output, params, spark_master=args.spark_master, spark_remote=args.spark_remote,
                      html=not args.no_html)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if cluster:
            cluster.stop()
    print_summary(summary)
    return 0


def _generate(args) -> int:
    from lib import synth

    log, labels = synth.write(args.out, args.lines, args.seed)
    print(f"wrote {args.lines} lines to {log} and the attack sessions to {labels}")
    return 0


def _parse(args) -> int:
    from lib import parser

    if not _checked_time(args):
        return 2
    try:
        lines = parser.read_lines(args.file)
        out = sys.stdout
        for event in parser.parse_lines(lines, year=args.year, tz=args.timezone, anchor=parser.modified(args.file)):
            out.write(json.dumps(parser.to_json_record(event), ensure_ascii=False) + "\n")
    except FileNotFoundError:
        print(f"error: no such file: {args.file}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 0


def _evaluate(args) -> int:
    from lib import evaluate

    return evaluate.main(args)


def _bench(args) -> int:
    try:  # development tooling: in a checkout, not in the wheel a job installs
        from devtools import bench
    except ImportError:
        print("error: the benchmark runs from a checkout of the repository (devtools/ is not in the wheel)",
              file=sys.stderr)
        return 2
    return bench.main(args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the pipeline locally")
    r.add_argument("--input", nargs="*", default=[], help="log files, folders or globs (default: the synthetic sample)")
    r.add_argument("--output", default="output", help="run folder: lake, MLflow store, executed notebooks")
    r.add_argument("--year", type=int, help="year of the first zone-less syslog line (default: inferred per file "
                   "from its modification time)")
    r.add_argument("--timezone", help="zone of timestamps without one (default UTC)")
    r.add_argument("--batch-id", dest="batch_id", help="default: derived from the input's content")
    r.add_argument("--tracking-uri", dest="tracking_uri", help="MLflow tracking URI (default: sqlite in --output)")
    r.add_argument("--spark-master", default="local[2]", help="master for the Spark Connect server, e.g. spark://host:7077")
    r.add_argument("--spark-remote", help="use a running Spark Connect server (sc://host:port) instead")
    r.add_argument("--standalone", type=int, metavar="WORKERS",
                   help="start a local standalone Spark cluster with this many workers for the run, then stop it")
    r.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="any pipeline parameter")
    r.add_argument("--no-html", action="store_true", help="skip the HTML export of executed notebooks")
    r.set_defaults(fn=_run)

    g = sub.add_parser("generate", help="write the synthetic labeled sshd log")
    g.add_argument("--out", default="output/input/openssh_synthetic.log")
    g.add_argument("--lines", type=int, default=20_000)
    g.add_argument("--seed", type=int, default=7)
    g.set_defaults(fn=_generate)

    p = sub.add_parser("parse", help="parse a log file: one JSON object per line")
    p.add_argument("file")
    p.add_argument("--year", type=int, help="year of the first zone-less syslog line (default: inferred from the "
                   "file's modification time)")
    p.add_argument("--timezone", default="UTC", help="zone of timestamps without one")
    p.set_defaults(fn=_parse)

    from lib import upload  # light: azure-storage-blob is imported when the command runs

    upload.add_arguments(sub.add_parser("upload", help="land raw log files in the lake's bronze container"))

    b = sub.add_parser("bench", help="measure the stages and the alternatives on generated data")
    b.add_argument("--lines", type=int, nargs="+", default=[100_000], help="sizes to measure (default 100000)")
    b.add_argument("--out", default="output/bench", help="folder for data, lakes and the JSON report")
    b.add_argument("--master", default="local[2]", help="Spark master of the measured Connect server")
    b.add_argument("--driver-memory", default="2g")
    b.add_argument("--no-drain3", action="store_true", help="skip Drain3 (installed into .venv-drain3 on first use)")
    b.add_argument("--no-python", action="store_true", help="skip the pure-Python parser")
    b.add_argument("--repeat", type=int, default=3, help="runs per Spark stage; the median is reported")
    b.add_argument("--incremental", type=int, metavar="BATCHES", default=0,
                   help="instead: BATCHES daily logs of --lines lines into one lake, a run each, then a full rebuild")
    b.set_defaults(fn=_bench)

    e = sub.add_parser("evaluate", help="the incident detector beside fail2ban and CrowdSec on labeled logs")
    e.add_argument("--lines", type=int, default=200_000)
    e.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    e.add_argument("--out", default="output/evaluate")
    e.add_argument("--no-peers", action="store_true", help="skip fail2ban and CrowdSec")
    e.add_argument("--tracking-uri", dest="tracking_uri", help="also record the figures in this MLflow store")
    e.set_defaults(fn=_evaluate)

    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
