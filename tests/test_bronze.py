"""Bronze: every line once, verbatim, with its true line number however Spark splits the files."""
import gzip

from pyspark.sql import functions as F

from lib import bronze, parser


def _bronze(spark, paths):
    return bronze.to_bronze(bronze.read_text(spark, [str(p) for p in paths]), "b1", "2026-01-01 00:00:00")


def test_line_numbers_are_exact_across_splits(spark, tmp_path):
    lines = [f"line {i} " + "x" * (i % 97) for i in range(1, 5001)]
    f = tmp_path / "big.log"
    f.write_text("\n".join(lines) + "\n")
    small = tmp_path / "small.log"
    small.write_text("a\nb\n")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16384")  # ~25 splits for this file
    try:
        df = _bronze(spark, [f, small])
        splits = bronze.read_text(spark, [str(f)]).select("_split").distinct().count()
        rows = df.orderBy("source_file", "line_number").collect()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert splits > 10
    big = [r for r in rows if r.source_file.endswith("big.log")]
    assert [r.line_number for r in big] == list(range(1, 5001))
    assert [r.line for r in big] == lines
    assert [(r.line_number, r.line) for r in rows if r.source_file.endswith("small.log")] == [(1, "a"), (2, "b")]


def test_only_the_line_terminator_is_removed(spark, tmp_path):
    f = tmp_path / "crlf.log"
    f.write_bytes(b"one\r\ntwo\r\r\n  three  \n\nfour\rfive\nlast")
    got = [r.line for r in _bronze(spark, [f]).orderBy("line_number").collect()]
    assert got == ["one", "two\r", "  three  ", "", "four\rfive", "last"]
    assert [x.decode() for x in parser.read_lines(f)] == got  # the Python parser splits the same way


def test_invalid_utf8_keeps_its_exact_bytes(spark, tmp_path):
    f = tmp_path / "bytes.log"
    f.write_bytes(b"ok line\nbad \xff\xfe\xc3( line\r\n")
    rows = _bronze(spark, [f]).orderBy("line_number").collect()
    assert (rows[0].line, rows[0].raw_bytes) == ("ok line", None)
    assert rows[1].line == b"bad \xff\xfe\xc3( line".decode("utf-8", errors="replace")
    assert bytes(rows[1].raw_bytes) == b"bad \xff\xfe\xc3( line"


def test_gzip_and_lineage_columns(spark, tmp_path):
    f = tmp_path / "auth.log.2.gz"
    f.write_bytes(gzip.compress(b"first\nsecond\n"))
    df = _bronze(spark, [f])
    assert df.columns == list(bronze.COLUMNS)
    rows = df.orderBy("line_number").collect()
    assert [(r.line_number, r.line, r.batch_id) for r in rows] == [(1, "first", "b1"), (2, "second", "b1")]
    assert rows[0].source_file.endswith("auth.log.2.gz") and rows[0].ingest_ts is not None


def test_batch_fingerprint_depends_on_the_files(spark, tmp_path):
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("x\n")
    b.write_text("y\n")
    fa, fab = bronze.batch_fingerprint(spark, [str(a)]), bronze.batch_fingerprint(spark, [str(a), str(b)])
    assert fa == bronze.batch_fingerprint(spark, [str(a)]) and fa != fab and fa.startswith("b")


def test_empty_file_gives_no_rows(spark, tmp_path):
    f = tmp_path / "empty.log"
    f.write_bytes(b"")
    assert _bronze(spark, [f]).where(F.col("line").isNotNull()).count() == 0
