"""Bronze: every line once, verbatim, with its true line number however Spark splits the files."""
import gzip
import os

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


def test_the_batch_id_is_the_files_content_and_the_runner_gives_the_same(spark, tmp_path):
    from lib import runner

    a, b = tmp_path / "a b.log", tmp_path / "b.log"
    a.write_text("x\n")
    b.write_text("y\n")
    fa, fab = bronze.batch_fingerprint(spark, [str(a)]), bronze.batch_fingerprint(spark, [str(a), str(b)])
    assert fa != fab and fa.startswith("b")
    assert (fa, fab) == (runner.fingerprint([a]), runner.fingerprint([a, b]))
    os.utime(a, (1, 1))  # landed again, later: the same batch
    copy = tmp_path / "again" / "a b.log"
    copy.parent.mkdir()
    copy.write_bytes(a.read_bytes())
    assert bronze.batch_fingerprint(spark, [str(a)]) == bronze.batch_fingerprint(spark, [str(copy)]) == fa
    a.write_text("x\nz\n")  # grown: another batch
    assert bronze.batch_fingerprint(spark, [str(a)]) != fa


def test_empty_file_gives_no_rows(spark, tmp_path):
    f = tmp_path / "empty.log"
    f.write_bytes(b"")
    assert _bronze(spark, [f]).where(F.col("line").isNotNull()).count() == 0


# ------------------------------------------------ every line once, whatever happens to its file
def _lines(tag: str, n: int, start: int = 0) -> list[str]:
    return [f"Dec  1 10:{(start + i) // 60 % 60:02d}:{(start + i) % 60:02d} {tag} sshd[{1000 + start + i}]: "
            f"Failed password for root from 10.0.{start % 7}.{(start + i) % 250} port {2000 + i} ssh2"
            for i in range(n)]


def _write(path, lines, gz=False):
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _load(spark, lake, batch_id, paths):
    """What raw_load does for one batch: plan against the lake's Bronze, load the new lines."""
    raw = bronze.read_text(spark, [str(p) for p in paths])
    plan = bronze.plan_files(bronze.input_heads(raw), bronze.seen_files(lake.read_table(spark, "bronze"), batch_id))
    names = lake.source_names([p["source_file"] for p in plan])
    lake.write_partition(bronze.to_bronze(raw, batch_id, "2026-01-01 00:00:00", plan, names), "bronze", batch_id)
    return {p["source_file"].rsplit("/", 1)[1]: (p["skip"], p["lines"]) for p in plan}


def _content(df):
    return sorted((r.file_id, r.line_number, r.line) for r in df.select("file_id", "line_number", "line").collect())


def _one_batch(spark, tmp_path, paths):
    from lib.lake import Lake

    once = Lake.from_params(str(tmp_path / "once"))
    _load(spark, once, "all", paths)
    return _content(once.read_table(spark, "bronze"))


def test_a_grown_file_adds_only_its_new_lines(spark, lake, tmp_path):
    day1, day2 = tmp_path / "d1", tmp_path / "d2"
    day1.mkdir(), day2.mkdir()
    a = _lines("web1", 28)
    assert _load(spark, lake, "b1", [_write(day1 / "auth.log", a)]) == {"auth.log": (0, 28)}
    grown = _write(day2 / "auth.log", a + _lines("web1", 3, start=28))
    assert _load(spark, lake, "b2", [grown]) == {"auth.log": (28, 31)}
    rows = lake.read_table(spark, "bronze").orderBy("line_number").collect()
    assert [r.line_number for r in rows] == list(range(1, 32)) and len({r.file_id for r in rows}) == 1
    assert [r.line for r in rows if r.batch_id == "b2"] == _lines("web1", 3, start=28)
    assert _content(lake.read_table(spark, "bronze")) == _one_batch(spark, tmp_path, [grown])
    # Re-running the second batch replaces it: still 31 lines, the 3 new ones in b2.
    _load(spark, lake, "b2", [grown])
    assert lake.read_table(spark, "bronze", "b2").count() == 3 and lake.read_table(spark, "bronze").count() == 31


def test_a_rotated_file_is_the_same_file_under_its_new_name(spark, lake, tmp_path):
    d1, d2, d3 = (tmp_path / d for d in ("d1", "d2", "d3"))
    for d in (d1, d2, d3):
        d.mkdir()
    a, b, c = _lines("h", 20), _lines("h", 5, start=100), _lines("h", 4, start=200)
    _load(spark, lake, "b1", [_write(d1 / "auth.log", a)])
    a2 = a + _lines("h", 3, start=20)
    got = _load(spark, lake, "b2", [_write(d2 / "auth.log.1", a2), _write(d2 / "auth.log", b)])
    assert got == {"auth.log.1": (20, 23), "auth.log": (0, 5)}
    b2 = b + _lines("h", 2, start=105)
    final = [_write(d3 / "auth.log.2.gz", a2, gz=True), _write(d3 / "auth.log.1", b2), _write(d3 / "auth.log", c)]
    (d3 / "_sources.json").write_text('{"auth.log.1": "/var/log/auth.log.1"}')  # as the runner lands files
    got = _load(spark, lake, "b3", final)
    assert got == {"auth.log.2.gz": (23, 23), "auth.log.1": (5, 7), "auth.log": (0, 4)}
    assert _content(lake.read_table(spark, "bronze")) == _one_batch(spark, tmp_path, final)
    # source_file is the name the user gave, where one was given (the runner's _sources.json).
    names = {r.source_file for r in lake.read_table(spark, "bronze", "b3").collect()}
    assert "/var/log/auth.log.1" in names and not any(n.endswith("/d3/auth.log.1") for n in names)


def test_bytes_landed_again_add_nothing_and_a_copy_is_read_once(spark, lake, tmp_path):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    d1.mkdir(), d2.mkdir()
    a = _lines("h", 12)
    _load(spark, lake, "b1", [_write(d1 / "auth.log", a)])
    again = _load(spark, lake, "b2", [_write(d2 / "auth.log", a), _write(d2 / "copy.log", a)])
    assert again == {"auth.log": (12, 12), "copy.log": (12, 12)}
    assert lake.read_table(spark, "bronze", "b2").count() == 0
    fresh = tmp_path / "fresh"
    assert _one_batch(spark, fresh, [d2 / "auth.log", d2 / "copy.log"]) == _content(lake.read_table(spark, "bronze"))


def test_two_files_that_only_share_a_first_line_are_two_files(spark, lake, tmp_path):
    first = _lines("h", 1)
    x = _write(tmp_path / "x.log", first + _lines("x", 5, start=10))
    y = _write(tmp_path / "y.log", first + _lines("y", 5, start=20))
    _load(spark, lake, "b1", [x])
    assert _load(spark, lake, "b2", [y]) == {"y.log": (0, 6)}
    ids = {r.batch_id: r.file_id for r in lake.read_table(spark, "bronze").collect()}
    assert ids["b1"] != ids["b2"] and lake.read_table(spark, "bronze").count() == 12


def test_plan_files_never_skips_more_than_a_file_holds():
    head = b"line one\nline two\n"
    files = [{"source_file": "a", "first": b"line one", "head": head, "lines": 2}]
    seen = [{"file_id": bronze.file_id(b"line one"), "head": head + b"line three\n", "lines": 3}]
    assert bronze.plan_files(files, seen) == [{"source_file": "a", "file_id": bronze.file_id(b"line one"),
                                                "skip": 2, "lines": 2}]
    assert bronze.plan_files(files, [])[0]["skip"] == 0
