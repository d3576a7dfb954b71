"""Silver: every Bronze line parsed into a typed event, with Spark's native functions.

Built from the template catalog (`lib.templates`), like the pure-Python parser
(`lib.parser`); the two agree line for line. No Python UDF: the parse is two
`regexp_replace` calls per line, because

* the header regex rewrites the line into a record ``ts|zone|host|process|pid|message``
  in one pass (split on a control character the parsed text never contains);
* the message's leading words pick its dispatch group, and the group's one regex
  (its templates as ordered alternatives) rewrites it into the captured fields plus
  which template matched, whose id, template string and constants are then looked up.

Every Bronze row comes out exactly once: as an `sshd` or `other` event, or as
`quarantined` with the reason.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib import templates as tp

MARK = "\x02"  # prefixes a successful rewrite; no input that can match starts with it

EVENT_COLUMNS = ("timestamp", "host", "process", "pid", "category", "event_id", "event_template", "message",
                 "user", "invalid_user", "src_ip", "src_host", "src_port", "auth_method", "key_type",
                 "key_fingerprint", "outcome", "action", "preauth", "repeat_count")
SILVER_COLUMNS = ("source_file", "line_number", "batch_id") + EVENT_COLUMNS
QUARANTINE_COLUMNS = ("source_file", "line_number", "batch_id", "line", "reason")


def _map(pairs: dict) -> Column:
    return F.create_map(*[F.lit(x) for kv in pairs.items() for x in kv])


def _month_number(name: Column) -> Column:
    """1-12 for a month's three-letter name (`templates.MONTHS`), else null."""
    return F.try_element_at(_map({m: i + 1 for i, m in enumerate(tp.MONTHS)}), name)


def _nullif_empty(c: Column) -> Column:
    return F.when(c != "", c)


def clean_text(line: Column) -> Column:
    """`templates.CONTROL` characters become U+FFFD, as in `lib.parser.clean_text` (Bronze's `line` is valid UTF-8)."""
    has = None
    for ch in tp.CONTROL:
        has = line.contains(ch) if has is None else has | line.contains(ch)
    return F.when(has, F.translate(line, tp.CONTROL, "\ufffd" * len(tp.CONTROL))).otherwise(line)


def _rewrite(text: Column, regex: str, replacement: str) -> Column:
    # The record starts with MARK and a separator: split's element 1 is MARK, the fields follow
    # (no substring to drop MARK: character-indexed substrings scan the whole string).
    return F.regexp_replace(text, F.lit(regex), F.lit(MARK + tp.SEP + replacement))


def header_record(text: Column) -> Column:
    """The header rewritten to MARK + ts|zone|host|process|pid|message, or the text unchanged."""
    def rw(name):
        regex, *repls = tp.HEADER_FORMATS[name]
        return _rewrite(text, regex, tp.SEP.join(repls))

    first = F.substring(text, 1, 1)
    rfc, bsd = rw("rfc5424"), rw("bsd")
    angle = F.when(rfc.startswith(MARK), rfc).when(bsd.startswith(MARK), bsd).otherwise(rw("iso"))
    return (F.when(first == "<", angle)
            .when((first >= "0") & (first <= "9"), rw("iso"))
            .otherwise(bsd))


def mask(message: Column) -> Column:
    for regex, repl in tp.MASKS:
        message = F.regexp_replace(message, F.lit(regex), F.lit(repl))
    return message


HEAD_LINES = 256  # where a file's first month is looked for before scanning the whole file


def _first_month_rows(df: DataFrame):
    text = F.col("_text")
    token = (F.when(text.startswith("<"), F.regexp_extract(text, tp.FIRST_MONTH_REGEX, 1))
             .when(F.substring(text, 4, 1) == " ", F.substring(text, 1, 3)))
    month = _month_number(token)
    first = F.min(F.when(month.isNotNull(), F.struct(F.col("line_number").alias("n"), month.alias("m"))))
    return {r["source_file"]: (r["first"]["m"] if r["first"] else None)
            for r in df.groupBy("source_file").agg(first.alias("first")).collect()}


def first_months(df: DataFrame) -> dict:
    """Per source file, the month (1-12) of its first line that starts with a month name, or None.

    Equivalent to matching `templates.FIRST_MONTH_REGEX`, with plain string functions for
    the common case (no `<PRI>` prefix). Only the first HEAD_LINES lines of each file are
    read, unless none of them has a month (then that file is read whole). The result is a
    few values per file, collected to the driver.
    """
    months = _first_month_rows(df.where(F.col("line_number") <= HEAD_LINES))
    missing = [f for f, m in months.items() if m is None]
    if missing:
        months.update(_first_month_rows(df.where(F.col("source_file").isin(missing))))
    return months


def _with_first_months(df: DataFrame) -> DataFrame:
    months = first_months(df)
    if len(months) <= 64:  # a literal map: no join
        return df.withColumn("_month0", F.try_element_at(_map(months), F.col("source_file")) if months
                             else F.lit(None).cast("int"))
    pairs = df.sparkSession.createDataFrame(list(months.items()), "source_file string, _month0 int")
    return df.join(F.broadcast(pairs), "source_file", "left")


def _timestamp(fmt_is_bsd: Column, ts_text: Column, zone: Column, year: int, tz: str) -> Column:
    # BSD text is "Mmm d HH:MM:SS" (the header regex checked the digits): plain string functions
    # and make_timestamp, several times faster than parsing with a datetime pattern.
    month = _month_number(F.substring_index(ts_text, " ", 1))
    y = F.lit(year) + F.when(month < F.col("_month0"), 1).otherwise(0)
    day = F.substring_index(F.substring_index(ts_text, " ", 2), " ", -1).cast("int")
    hms = F.substring_index(ts_text, " ", -1)
    sec = F.substring(hms, 7, 2).cast("int")
    bsd = F.when(sec < 60, F.try_make_timestamp(y, month, day, F.substring(hms, 1, 2).cast("int"),
                                                 F.substring(hms, 4, 2).cast("int"), sec))
    offset = F.when(zone == "Z", zone).otherwise(
        F.regexp_replace(zone, F.lit("^([+-][0-9]{2}):?([0-9]{2})"), F.lit("$1:$2")))
    iso = F.when(zone != "", F.try_to_timestamp(F.concat(ts_text, offset))) \
        .otherwise(F.to_utc_timestamp(F.try_to_timestamp(ts_text), tz))
    ts = F.when(fmt_is_bsd, F.to_utc_timestamp(bsd, tz)).otherwise(iso)
    # An offset can push a valid local time out of years 1-9999 (Python's datetime range): invalid.
    return F.when(ts.between(F.lit("0001-01-01 00:00:00").cast("timestamp"),
                             F.lit("9999-12-31 23:59:59.999999").cast("timestamp")), ts)


def match_templates(df: DataFrame, body: Column) -> DataFrame:
    """Add `_r_<field>` columns for every RECORD field and `_r_template`: what the first matching template says.

    `body` is the text to match (null: nothing to match). Its leading words pick its
    dispatch group; the group's one regex (`templates.group_rewrite`) rewrites a match
    into the captured values plus which of the group's templates matched, which then
    looks up that template's id, template string and constants. All of them are null
    when no template matches. Rows come out grouped by dispatch group within each partition.
    """
    table = tp.dispatch_table()
    keys = list(table)
    gid = F.coalesce(
        F.try_element_at(_map({" ".join(k): i for i, k in enumerate(keys) if len(k) == 2}),
                         F.substring_index(body, " ", 2)),
        F.try_element_at(_map({k[0]: i for i, k in enumerate(keys) if len(k) == 1}),
                         F.substring_index(body, " ", 1)))
    rewrites = [tp.group_rewrite(table[k]) for k in keys]
    regexes = F.array(*[F.lit(regex) for regex, _ in rewrites])
    repls = F.array(*[F.lit(MARK + tp.SEP + repl) for _, repl in rewrites])
    # The group's regex is picked per row from an array; Spark recompiles a non-literal regex
    # only when it differs from the previous row's, so rows are sorted by group within each
    # partition first: a few dozen compilations per partition, and a small expression
    # (parse alone, 1M lines: 5.6 s, against 13.4 s for a CASE of the groups' literal regexes;
    # BENCHMARKS.md).
    df = df.withColumn("_gid", gid).sortWithinPartitions("_gid")
    pick = F.col("_gid") + 1
    df = df.withColumn("_r", F.regexp_replace(body, F.try_element_at(regexes, pick), F.try_element_at(repls, pick)))
    df = df.withColumn("_rec", F.when(F.col("_r").startswith(MARK),
                                      F.split(F.col("_r"), tp.SEP)))
    slot = {name: F.try_element_at("_rec", F.lit(i + 2)) for i, name in enumerate(tp.GROUP_RECORD)}
    # Index (1-based) of the matched template among all (group, position) pairs.
    offsets, flat = [], []
    for k in keys:
        offsets.append(len(flat))
        flat += table[k]
    index = F.try_element_at(F.array(*[F.lit(o) for o in offsets]), pick) + F.length(slot["branch"])
    df = df.withColumn("_ti", F.when(F.col("_rec").isNotNull(), index))

    def const(values):
        return F.try_element_at(F.array(*[F.lit(v) for v in values]), F.col("_ti"))

    fields = {name: (F.coalesce(_nullif_empty(slot[name]), _nullif_empty(const(t.constant(name) for t in flat)))
                     if name in ("user", "method") else slot[name]) for name in tp.VALUE_SLOTS}
    fields.update({name: const(t.constant(name) for t in flat) for name in tp.RECORD if name not in tp.VALUE_SLOTS})
    fields["template"] = const(t.template for t in flat)
    return (df.select("*", *[c.alias(f"_r_{name}") for name, c in fields.items()])
            .drop("_gid", "_r", "_rec", "_ti"))


def parse(bronze: DataFrame, year: int, tz: str = "UTC") -> DataFrame:
    """Bronze rows -> one row per line: SILVER_COLUMNS plus `reason` and, for quarantined lines, `line`.

    `year` is the year of the first line of each file with a zone-less BSD timestamp
    (syslog omits it); a later month smaller than that line's month is in the next
    year (Dec -> Jan). Zone-less timestamps are in `tz`; all are stored in UTC.
    """
    df = _with_first_months(bronze.withColumn("_text", clean_text(F.col("line"))))
    df = df.withColumn("_h", header_record(F.col("_text")))
    header_ok = F.col("_h").startswith(MARK) & ~F.col("_text").startswith(MARK)
    # Split once, in its own projection (Spark would re-evaluate it per field inside CASE WHEN).
    df = df.withColumn("_hs", F.when(header_ok, F.split(F.col("_h"), tp.SEP, len(tp.HEADER_FIELDS) + 1)))
    df = df.select("*", *[F.try_element_at("_hs", F.lit(i + 2)).alias(f"_{n}")
                          for i, n in enumerate(tp.HEADER_FIELDS)])

    # BSD timestamps are "Mmm d HH:MM:SS"; ISO ones always contain a "T".
    ts = _timestamp(~F.col("_ts_text").contains("T"), F.col("_ts_text"), F.col("_zone"), year, tz)
    reason = (F.when(F.col("_text").rlike(tp.BLANK_REGEX), "empty line")
              .when(F.length("_text") > tp.MAX_LINE_CHARS, "line too long")
              .when(F.col("_hs").isNull(), "unrecognized header")
              .when(F.col("timestamp").isNull(), "invalid timestamp"))
    df = df.withColumn("timestamp", ts).withColumn("reason", reason)
    # Rows are sorted by dispatch group next (`match_templates`), and a sort that outgrows its
    # memory spills to disk: keep the raw line only where it is still needed (quarantined rows).
    df = df.withColumn("line", F.when(F.col("reason").isNotNull(), F.col("line")))

    is_sshd = F.col("reason").isNull() & F.col("_process").isin(list(tp.SSHD_PROCESSES))
    msg = F.col("_message")
    e14 = tp.BY_ID["E14"].regex
    wrapped = is_sshd & msg.startswith(tp.REPEAT_PREFIX) & ~msg.rlike(e14) & msg.rlike(tp.REPEAT_REGEX)
    df = df.select("*", wrapped.alias("_wrapped"), is_sshd.alias("_is_sshd"))
    # What the templates see: the message, or the message a `message repeated` line wraps
    # (only the latter is stored, so the sorted rows do not carry every message twice).
    df = df.withColumn("_unwrapped", F.when(F.col("_wrapped"), F.regexp_extract(msg, tp.REPEAT_REGEX, 2)))
    body = F.when(F.col("_wrapped"), F.col("_unwrapped")).when(F.col("_is_sshd"), msg)
    return _typed(match_templates(df, body))


def _typed(df: DataFrame) -> DataFrame:
    c = F.col
    ok = c("reason").isNull()
    sshd, other = c("_is_sshd"), ok & ~c("_is_sshd")
    matched = c("_r_event_id").isNotNull()
    src = _nullif_empty(c("_r_src"))
    after_prefix = F.substring(src, len(tp.V4_MAPPED_PREFIX) + 1, 1 << 30)
    df = df.withColumn("_src_ip", F.when(F.lower(src).startswith(tp.V4_MAPPED_PREFIX)
                                         & after_prefix.rlike(tp.IPV4_REGEX), after_prefix)
                       .when(src.rlike(tp.IPV4_REGEX) | src.rlike(tp.IPV6_REGEX), src))
    src_ip = c("_src_ip")
    wrap_n = F.when(c("_wrapped"), F.regexp_extract(c("_message"), tp.REPEAT_REGEX, 1).cast("int"))
    when_sshd = lambda col: F.when(sshd, col)  # noqa: E731  (null for other and quarantined lines)
    category = F.when(sshd, "sshd").when(other, "other").otherwise("quarantined")
    return df.select(
        "source_file", "line_number", "batch_id",
        F.when(ok, c("timestamp")).alias("timestamp"),
        F.when(ok, _nullif_empty(c("_host"))).alias("host"),
        F.when(ok, c("_process")).alias("process"),
        F.when(ok, _nullif_empty(c("_pid"))).cast("int").alias("pid"),
        category.alias("category"),
        c("_r_event_id").alias("event_id"),
        F.when(matched, c("_r_template")).when(ok, mask(c("_message"))).alias("event_template"),
        F.when(ok, c("_message")).alias("message"),
        _nullif_empty(c("_r_user")).alias("user"),
        when_sshd(F.coalesce(c("_r_invalid_user") == "1", F.lit(False))).alias("invalid_user"),
        src_ip.alias("src_ip"),
        F.coalesce(_nullif_empty(c("_r_src_host")), F.when(src_ip.isNull(), src)).alias("src_host"),
        _nullif_empty(c("_r_port")).cast("int").alias("src_port"),
        _nullif_empty(c("_r_method")).alias("auth_method"),
        _nullif_empty(c("_r_key_type")).alias("key_type"),
        _nullif_empty(c("_r_fingerprint")).alias("key_fingerprint"),
        when_sshd(F.coalesce(c("_r_outcome"), F.lit("info"))).alias("outcome"),
        _nullif_empty(c("_r_action")).alias("action"),
        when_sshd(F.when(matched, c("_r_preauth") == "1")
                  .otherwise(c("_message").rlike(tp.PREAUTH_REGEX))).alias("preauth"),
        when_sshd(F.when(_nullif_empty(c("_r_repeat")).isNotNull(), c("_r_repeat").cast("int"))
                  .otherwise(F.coalesce(wrap_n, F.lit(1)))).alias("repeat_count"),
        c("reason"),
        F.when(~ok, c("line")).alias("line"),
    )


def events(parsed: DataFrame) -> DataFrame:
    """Parsed rows that are events (sshd or other): the Silver table."""
    return parsed.where(F.col("category") != "quarantined").select(*SILVER_COLUMNS)


def quarantine(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("category") == "quarantined").select(*QUARANTINE_COLUMNS)
