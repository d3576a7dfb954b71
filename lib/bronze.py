"""Bronze: raw lines, verbatim, with lineage.

One row per line of every input file: the line as written (only the line terminator
removed: LF, and the CR before it in CRLF files), the file it came from, its 1-based
line number in that file, the file's modification time (what Silver's year inference
anchors to), when it was loaded and the batch.

`line` is always valid UTF-8 (Parquet strings must be, and readers such as pyarrow
fail otherwise): invalid byte sequences become U+FFFD there, and the exact bytes of
such lines are kept in `raw_bytes` (null for the valid lines, nearly all of them).
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

COLUMNS = ("source_file", "line_number", "line", "raw_bytes", "source_modified", "ingest_ts", "batch_id")


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
    """A batch id from the input files' names, sizes and modification times (no content read)."""
    files = (spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(paths)
             .select(F.concat_ws(":", F.element_at(F.split("path", "/"), -1), "length",
                                 F.col("modificationTime").cast("string")).alias("f")))
    digest = files.agg(F.sha1(F.concat_ws("|", F.array_sort(F.collect_list("f")))).alias("h")).first()["h"]
    return "b" + digest[:12]


def strip_cr(line):
    """Drop one trailing CR, byte-exact (string functions would re-encode invalid UTF-8)."""
    as_bytes = line.cast("binary")
    return (F.when(line.endswith("\r"), F.substring(as_bytes, F.lit(1), F.octet_length(line) - 1).cast("string"))
            .otherwise(line))


def to_bronze(raw: DataFrame, batch_id: str, ingest_ts) -> DataFrame:
    """`read_text` output -> the Bronze table's rows."""
    exact = strip_cr(F.col("line"))
    return (with_line_numbers(raw)
            .select("source_file", F.col("line_number").cast("long"), F.make_valid_utf8(exact).alias("line"),
                    F.when(~F.is_valid_utf8(exact), exact.cast("binary")).alias("raw_bytes"), "source_modified",
                    F.lit(ingest_ts).cast("timestamp").alias("ingest_ts"), F.lit(batch_id).alias("batch_id")))
