"""Bronze: raw lines, verbatim, with lineage.

One row per line of every input file: the line as written (only the line terminator
removed: LF, and the CR before it in CRLF files), the file it came from, its 1-based
line number in that file, the file's modification time (what Silver's year inference
anchors to), when it was loaded and the batch.

Every line is ingested once, whatever happens to its file. A file's identity
(`file_id`) is its content, not its name or mtime: a hash of its first line, confirmed
by its first `HEAD_BYTES` bytes (Filebeat's fingerprint rule). So a log that has grown
adds only its new lines (numbered on from where the lake stopped), a rotated one
(`auth.log` -> `auth.log.1` -> `auth.log.2.gz`, decompressed) adds only what it gained
since, and the same bytes landed again add nothing (`plan_files`).

`line` is always valid UTF-8 (Parquet strings must be, and readers such as pyarrow
fail otherwise): invalid byte sequences become U+FFFD there, and the exact bytes of
such lines are kept in `raw_bytes` (null for the valid lines, nearly all of them).
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

import hashlib

from lib import tables

COLUMNS = tables.columns("bronze")
HEAD_BYTES = 1024  # how much of a file's start confirms its identity


def read_text(spark: SparkSession, paths: list[str]) -> DataFrame:
    """Lines of text files (gzip by extension) with the file and split they were read from.

    ``lineSep='\\n'`` keeps a lone CR inside a line as data; CRLF's CR is removed in
    `strip_cr`. Rows come out in file order within each split.
    """
    return (spark.read.option("lineSep", "\n").option("recursiveFileLookup", "true").text(paths)
            .select(F.col("_metadata.file_path").alias("source_file"),
                    F.col("_metadata.file_block_start").alias("_split"),
                    F.col("_metadata.file_modification_time").alias("source_modified"),
                    F.monotonically_increasing_id().alias("_pos"),
                    F.col("value").alias("line")))


def with_line_numbers(raw: DataFrame) -> DataFrame:
    """Exact 1-based line numbers per file, however the files were split.

    Within a split, rows are consecutive in `_pos`; a split's first line number is
    one plus the number of lines in the file's earlier splits. Only the per-split
    counts (a few rows per file) are aggregated and broadcast back.
    """
    splits = (raw.groupBy("source_file", "_split")
              .agg(F.min("_pos").alias("_first"), F.count(F.lit(1)).alias("_n")))
    earlier = Window.partitionBy("source_file").orderBy("_split").rowsBetween(Window.unboundedPreceding, -1)
    splits = splits.withColumn("_before", F.coalesce(F.sum("_n").over(earlier), F.lit(0)))
    return (raw.join(F.broadcast(splits), ["source_file", "_split"])
            .withColumn("line_number", F.col("_before") + F.col("_pos") - F.col("_first") + 1)
            .drop("_split", "_pos", "_first", "_n", "_before"))


def batch_fingerprint(spark: SparkSession, paths: list[str]) -> str:
    """The batch id of the input files from their names and bytes (`lib.lake.batch_id_of`): the id the
    local runner gives the same files. Each file is read whole by one task (Spark's binaryFile
    source, at most 2 GB per file)."""
    from lib.lake import batch_id_of

    files = (spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(paths)
             .select(F.url_decode(F.element_at(F.split("path", "/"), -1)).alias("name"),
                     F.sha2("content", 256).alias("digest")))
    return batch_id_of((r["name"], r["digest"]) for r in files.collect())


def strip_cr(line):
    """Drop one trailing CR, byte-exact (string functions would re-encode invalid UTF-8)."""
    as_bytes = line.cast("binary")
    return (F.when(line.endswith("\r"), F.substring(as_bytes, F.lit(1), F.octet_length(line) - 1).cast("string"))
            .otherwise(line))


def _exact(line):
    """A raw line's bytes without its terminator (what `line`/`raw_bytes` hold in Bronze)."""
    return strip_cr(line).cast("binary")


def heads(df: DataFrame, key: str, exact) -> list[dict]:
    """Per `key`: its first line's bytes, its first HEAD_BYTES bytes (lines joined by LF) and its
    last line number. `df` has `key`, `line_number` and the column `exact` of line bytes; only
    the small result reaches the driver."""
    lf, empty = F.unhex(F.lit("0A")), F.unhex(F.lit(""))
    lines = F.array_sort(F.collect_list(F.when(F.col("line_number") <= HEAD_BYTES,
                                               F.struct("line_number", exact.alias("b")))))
    agg = df.groupBy(key).agg(F.max("line_number").alias("lines"), lines.alias("_l")).select(
        key, "lines",
        F.when(F.col("_l")[0]["line_number"] == 1, F.col("_l")[0]["b"]).alias("first"),
        F.substring(F.aggregate("_l", empty, lambda acc, x: F.concat(acc, x["b"], lf)), 1, HEAD_BYTES).alias("head"))
    return [{key: r[key], "first": None if r["first"] is None else bytes(r["first"]),
             "head": bytes(r["head"] or b""), "lines": int(r["lines"])} for r in agg.collect()]


def input_heads(raw: DataFrame) -> list[dict]:
    """`heads` of the files `read_text` read, by their read path (for `plan_files`)."""
    return heads(with_line_numbers(raw), "source_file", _exact(F.col("line")))


def file_id(first_line: bytes | None, head: bytes = b"") -> str:
    return "f" + hashlib.sha256(first_line if first_line is not None else head).hexdigest()[:16]


def _related(a: bytes, b: bytes) -> bool:
    n = min(len(a), len(b))
    return n > 0 and a[:n] == b[:n]


def plan_files(files: list[dict], seen: list[dict]) -> list[dict]:
    """Which lines of each input file are new: pure, on the few rows `heads` returns.

    `files`: the batch's files (`source_file`, `first`, `head`, `lines`); `seen`: the lake's
    file identities from earlier batches (`file_id`, `head`, `lines`). A file whose first
    line hashes to a known identity and whose start agrees with that identity's start is
    that file: its first `lines` lines are already in the lake (`skip`). Two files of the
    batch with one identity (a copy landed beside the original) are read once, the longer.
    """
    known = {s["file_id"]: s for s in seen}
    plan, taken = [], {}
    for f in sorted(files, key=lambda f: (-f["lines"], f["source_file"])):
        fid = file_id(f["first"], f["head"])
        s = known.get(fid)
        if s is not None and not _related(f["head"], s["head"]):  # same first line, another file
            fid = file_id(None, f["head"])
            s = known.get(fid)
        skip = s["lines"] if s is not None else 0
        if fid in taken and _related(f["head"], taken[fid]["head"]):
            skip = f["lines"]  # contained in the longer file of this batch
        taken.setdefault(fid, f)
        plan.append({"source_file": f["source_file"], "file_id": fid, "skip": min(skip, f["lines"]),
                     "lines": f["lines"]})
    return sorted(plan, key=lambda p: p["source_file"])


def seen_files(bronze_table: DataFrame | None, batch_id: str) -> list[dict]:
    """The file identities of the Bronze table's other batches, for `plan_files`."""
    if bronze_table is None:
        return []
    other = bronze_table.where(F.col("batch_id") != batch_id)
    exact = F.coalesce(F.col("raw_bytes"), F.col("line").cast("binary"))
    return [{"file_id": h["file_id"], "head": h["head"], "lines": h["lines"]}
            for h in heads(other, "file_id", exact)]


INGESTED_SCHEMA = tables.table("ingested_files").ddl()


def ingested_files(spark: SparkSession, plan: list[dict], names: dict[str, str], batch_id: str, ingest_ts) -> DataFrame:
    """The batch's ingestion record: per input file, its identity, its lines, how many were already in the lake."""
    from datetime import datetime

    ts = datetime.fromisoformat(str(ingest_ts)) if not isinstance(ingest_ts, datetime) else ingest_ts
    rows = [(names.get(p["source_file"], p["source_file"]), p["source_file"], p["file_id"], p["lines"], p["skip"],
             p["lines"] - p["skip"], ts, batch_id) for p in plan]
    return spark.createDataFrame(rows, INGESTED_SCHEMA)


def to_bronze(raw: DataFrame, batch_id: str, ingest_ts, plan: list[dict] | None = None,
              names: dict[str, str] | None = None) -> DataFrame:
    """`read_text` output -> the Bronze table's rows: the lines of each file that `plan` says are new.

    Without `plan`, every line is new (a first load). `names` maps a read path to the name
    the user gave the file (the lake's landing copy is not what an analyst knows it by).
    """
    numbered = with_line_numbers(raw)
    if plan is None:
        plan = plan_files(heads(numbered, "source_file", _exact(F.col("line"))), [])
    names = names or {}
    rows = [(p["source_file"], names.get(p["source_file"], p["source_file"]), p["file_id"], p["skip"]) for p in plan]
    keep = raw.sparkSession.createDataFrame(rows or [("", "", "", 0)],
                                            "source_file string, _name string, file_id string, _skip long")
    exact = strip_cr(F.col("line"))
    return (numbered.join(F.broadcast(keep), "source_file").where(F.col("line_number") > F.col("_skip"))
            .select(F.col("_name").alias("source_file"), "file_id", F.col("line_number").cast("long"),
                    F.make_valid_utf8(exact).alias("line"),
                    F.when(~F.is_valid_utf8(exact), exact.cast("binary")).alias("raw_bytes"), "source_modified",
                    F.lit(ingest_ts).cast("timestamp").alias("ingest_ts"), F.lit(batch_id).alias("batch_id")))
