"""Silver: every Bronze line parsed into a typed event, with Spark's native functions.

Built from the template catalog (`lib.templates`), like the pure-Python parser
(`lib.parser`); the two agree line for line. No Python UDF: the parse is two
`regexp_replace` calls per line, because

* the header regex rewrites the line into a record ``ts|zone|host|process|pid|message``
  in one pass (split on a control character the parsed text never contains);
* the message's leading words pick its dispatch group, and the group's one regex
  (its templates as ordered alternatives) rewrites it into the captured fields plus
  which template matched, whose id, template string and constants are then looked up.

A message no template knows still gets its peer, port and user from `templates.SCAN_*`.
Then lines of one connection (source file, host, pid) lend each other the peer and the
user (`stitch`), bounded as `templates.STITCH_SECONDS` says.

Every Bronze row comes out exactly once: as an `sshd` or `other` event, or as
`quarantined` with the reason.
"""
from __future__ import annotations

from functools import lru_cache

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lib import tables
from lib import templates as tp

MARK = "\x02"  # prefixes a successful rewrite; no input that can match starts with it

SILVER_COLUMNS = tables.columns("silver")
EVENT_COLUMNS = tuple(c for c in SILVER_COLUMNS if c not in tables.LINEAGE)
QUARANTINE_COLUMNS = tables.columns("quarantine")


def _map(pairs: dict) -> Column:
    return F.create_map(*[F.lit(x) for kv in pairs.items() for x in kv])


# A literal map is searched key by key; the catalog's ~1,200 dispatch keys are spread over
# buckets (by a hash both sides compute the same way) so that a lookup compares a few dozen.
BUCKETS = 64


def _bucket(key: str) -> int:
    """The bucket of an (ASCII) dispatch key: its length in bytes and its first character."""
    return (len(key.encode()) * 31 + (ord(key[0]) if key else 0)) % BUCKETS


def _lookup(pairs: list, key: Column) -> Column:
    """The value of `key` among `pairs` ((string key, int value) pairs), or null."""
    buckets = [{} for _ in range(BUCKETS)]
    for k, v in pairs:
        buckets[_bucket(k)][k] = v
    maps = F.array(*[_map(b) if b else F.lit(None).cast("map<string,int>") for b in buckets])
    bucket = F.pmod(F.octet_length(key) * 31 + F.ascii(key), F.lit(BUCKETS)) + 1
    return F.try_element_at(F.try_element_at(maps, bucket), key)


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


def with_header(df: DataFrame, text: Column) -> DataFrame:
    """Add `_h`: the header rewritten to MARK + ts|zone|host|process|pid|message, or the text unchanged.

    The formats are tried in `templates.HEADER_ORDER` for the line's first character: the
    first in a projection of its own (Spark does not share a regex's result between a CASE's
    condition and its value, so a line costs one header regex when its first format fits).
    """
    def rw(name):
        regex, *repls = tp.HEADER_FORMATS[name]
        return _rewrite(text, regex, tp.SEP.join(repls))

    def first_of(names):
        return rw(names[0]) if len(names) == 1 else \
            F.when(rw(names[0]).startswith(MARK), rw(names[0])).otherwise(first_of(names[1:]))

    def by_first_char(pick):
        first = F.substring(text, 1, 1)
        return (F.when(first == "<", pick(tp.HEADER_ORDER["<"]))
                .when((first >= "0") & (first <= "9"), pick(tp.HEADER_ORDER["digit"]))
                .otherwise(pick(tp.HEADER_ORDER["letter"])))

    df = df.withColumn("_h1", by_first_char(lambda names: rw(names[0])))
    return df.withColumn("_h", F.when(F.col("_h1").startswith(MARK), F.col("_h1"))
                         .otherwise(by_first_char(lambda names: first_of(names[1:])))).drop("_h1")


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


def _bsd_utc(year: Column, ts_text: Column, tz: str) -> Column:
    """A BSD stamp ("Mmm d HH:MM:SS[.f]") in `year`, as UTC; null when no such time exists.

    Plain string functions and make_timestamp: several times faster than a datetime pattern.
    """
    month = _month_number(F.substring_index(ts_text, " ", 1))
    day = F.substring_index(F.substring_index(ts_text, " ", 2), " ", -1).cast("int")
    hms = F.substring_index(ts_text, " ", -1)
    sec = F.substring(hms, 7, 2).cast("int")
    seconds = F.concat(F.substring(hms, 7, 2), F.substring(hms, 9, 7)).cast("decimal(8,6)")
    local = F.when(sec < 60, F.try_make_timestamp(year, month, day, F.substring(hms, 1, 2).cast("int"),
                                                   F.substring(hms, 4, 2).cast("int"), seconds))
    return F.to_utc_timestamp(local, tz)


def _offset(zone: Column) -> Column:
    """`lib.parser._offset`: an ISO offset for the header's zone text, or null (the `timezone` parameter applies)."""
    return (F.when(zone.isin(*tp.ZONE_ABBREVIATIONS), F.try_element_at(_map(tp.ZONE_ABBREVIATIONS), zone))
            .when(zone.startswith("+") | zone.startswith("-"),
                  F.regexp_replace(zone, F.lit("^([+-][0-9]{2}):?([0-9]{2})"), F.lit("$1:$2"))))


def _timestamp(ts_text: Column, zone: Column, year: int | None, tz: str) -> Column:
    text = ts_text
    if year is None:  # the latest year that keeps the stamp at most MAX_AHEAD_SECONDS after the anchor
        anchor = F.least(F.coalesce(F.col("_modified"), F.current_timestamp()), F.current_timestamp())
        limit = anchor + F.expr(f"make_dt_interval(0, 0, 0, {tp.MAX_AHEAD_SECONDS})")
        y0 = F.year(anchor)
        bsd = None
        for y in (y0 + 1, y0, y0 - 1):
            cand = _bsd_utc(y, text, tz)
            bsd = F.when(cand <= limit, cand) if bsd is None else bsd.when(cand <= limit, cand)
    else:
        month = _month_number(F.substring_index(text, " ", 1))
        bsd = _bsd_utc(F.lit(year) + F.when(month < F.col("_month0"), 1).otherwise(0), text, tz)
    offset = _offset(zone)
    epoch = F.substring(text, 2, 40).cast("decimal(18,6)")
    iso = F.when(offset.isNotNull(), F.try_to_timestamp(F.concat(text, offset))) \
        .otherwise(F.to_utc_timestamp(F.try_to_timestamp(text), tz))
    ts = (F.when(text.startswith("@"), F.timestamp_micros((epoch * 1_000_000).cast("long")))
          .when(~text.contains("T"), bsd).otherwise(iso))
    # An offset can push a valid local time out of years 1-9999 (Python's datetime range): invalid.
    return F.when(ts.between(F.lit("0001-01-01 00:00:00").cast("timestamp"),
                             F.lit("9999-12-31 23:59:59.999999").cast("timestamp")), ts)


def _packed(t) -> str:
    """A template's constants as one SEP-joined string (TEMPLATE_FIELDS)."""
    return tp.SEP.join((t.event_id, t.template, t.outcome, t.action or "", t.method or "", t.user or "",
                        "1" if t.invalid_user else "", "1" if t.captures_user else "", t.scope))


TEMPLATE_FIELDS = ("event_id", "template", "outcome", "action", "method", "user", "invalid_user", "captures_user",
                   "scope")


@lru_cache(maxsize=1)
def _catalog_rows() -> dict:
    """The catalog as lookup rows: dispatch keys -> group, group -> regex, template index -> constants."""
    table = tp.dispatch_table()
    first = tp.primary_keys()
    keys = [k for k in table if k in first] + [k for k in table if k not in first]
    ids = {k: i for i, k in enumerate(keys)}
    groups, flat = [], []
    for k in keys:
        regex, repl = tp.group_rewrite(table[k])
        groups.append((regex, MARK + tp.SEP + repl, len(flat)))
        flat += table[k]

    def words(tier):
        return ([(" ".join(k), i) for k, i in ids.items() if len(k) == 2 and k[1] != "*" and (k in first) == tier],
                [(k[0], i) for k, i in ids.items() if len(k) == 1 and k != tp.LEADING and (k in first) == tier])

    (two, one), (two_other, one_other) = words(True), words(False)
    return {"two": two, "one": one, "two_other": two_other, "one_other": one_other,
            "prefix": [(p, ids[(p, "*")]) for p in tp.PREFIX_KEYS if (p, "*") in ids],
            "leading": ids.get(tp.LEADING), "groups": groups, "templates": [_packed(t) for t in flat]}


def match_templates(df: DataFrame, body: Column) -> DataFrame:
    """Add `_r_<field>` columns for every RECORD field, `_r_template`, `_r_scope`: what the first matching template says.

    `body` is the text to match (null: nothing to match). Its leading words pick its
    dispatch group (`lib.parser._group`); the group's one regex (`templates.group_rewrite`)
    rewrites a match into the captured values plus which of the group's templates matched,
    which then looks up that template's id, template string and constants. All of them are
    null when no template matches. (Literal arrays, not joins with lookup tables: the
    optimizer drops a local sort below a join.)
    """
    rows = _catalog_rows()
    # The leading words in a projection of their own (each lookup reads its key three times).
    df = df.withColumn("_k2", F.substring_index(body, " ", 2)).withColumn("_k1", F.substring_index(body, " ", 1))
    k2, k1 = F.col("_k2"), F.col("_k1")
    # `lib.parser._group`: the primary keys (small maps), then the others (looked up only on a miss).
    candidates = [_lookup(rows["two"], k2), _lookup(rows["one"], k1),
                  *[F.when(body.startswith(p), g) for p, g in rows["prefix"]],
                  _lookup(rows["two_other"], k2), _lookup(rows["one_other"], k1)]
    if rows["leading"] is not None:
        candidates.append(F.lit(rows["leading"]))
    # The body is not a column of its own: the rows that are sorted next would carry it twice.
    df = df.withColumn("_gid", F.when(body.isNotNull(), F.coalesce(*candidates))).drop("_k2", "_k1")
    # The group's regex is picked per row from a literal array; Spark recompiles a non-literal
    # regex only when it differs from the previous row's, so rows are sorted by group within each
    # partition first: a few dozen compilations per partition (parse alone, 1M lines: 5.6 s,
    # against 13.4 s for a CASE of the groups' literal regexes; BENCHMARKS.md).
    pick = F.col("_gid") + 1
    regexes = F.array(*[F.lit(r) for r, _, _ in rows["groups"]])
    repls = F.array(*[F.lit(r) for _, r, _ in rows["groups"]])
    offsets = F.array(*[F.lit(o) for _, _, o in rows["groups"]])
    padded = F.concat(body, F.lit(tp.branch_pad()))
    df = df.sortWithinPartitions("_gid").select(
        "*", F.regexp_replace(padded, F.try_element_at(regexes, pick), F.try_element_at(repls, pick)).alias("_r"),
        F.try_element_at(offsets, pick).alias("_offset"))
    df = df.withColumn("_rec", F.when(F.col("_r").startswith(MARK), F.split(F.col("_r"), tp.SEP)))
    slot = {name: F.try_element_at("_rec", F.lit(i + 2)) for i, name in enumerate(tp.GROUP_RECORD)}
    ti = F.when(F.col("_rec").isNotNull(), F.col("_offset") + F.length(slot["branch"]))
    packed = F.array(*[F.lit(x) for x in rows["templates"]])
    df = df.select("*", *[slot[name].alias(f"_s_{name}") for name in tp.VALUE_SLOTS],
                   F.split(F.try_element_at(packed, ti), tp.SEP).alias("_t"))
    c = F.col
    const = {name: F.try_element_at("_t", F.lit(i + 1)) for i, name in enumerate(TEMPLATE_FIELDS)}
    fields = {f"_r_{name}": c(f"_s_{name}") for name in tp.VALUE_SLOTS}
    fields.update({f"_r_{name}": _nullif_empty(const[name]) for name in ("event_id", "template", "outcome", "action",
                                                                          "scope")})
    fields["_r_invalid_user"] = const["invalid_user"] == "1"
    fields["_r_method"] = F.coalesce(_nullif_empty(c("_s_method")), _nullif_empty(const["method"]))
    # A captured user is kept as written, even empty ("Invalid user  from ..."); else the template's.
    fields["_r_user"] = F.when(const["captures_user"] == "1", c("_s_user")).otherwise(_nullif_empty(const["user"]))
    return df.select("*", *[v.alias(k) for k, v in fields.items()])


def parse(bronze: DataFrame, year: int | None, tz: str = "UTC", max_repeat: int = tp.MAX_REPEAT) -> DataFrame:
    """Bronze rows -> one row per line: SILVER_COLUMNS plus `reason` and, for quarantined lines, `line`.

    With `year`, a year-less BSD stamp is in `year` for the first line of each file, and a
    later month smaller than that line's month is in the next year (Dec -> Jan). Without,
    it is in the latest year that does not put it more than `templates.MAX_AHEAD_SECONDS`
    after its file's modification time (Bronze's `source_modified`) or now. Zone-less
    timestamps are in `tz`; all are stored in UTC. A claimed repeat count stands for at most
    `max_repeat` events (`templates.max_repeat`).
    """
    max_repeat = tp.max_repeat(max_repeat)
    df = bronze.withColumn("_text", clean_text(F.col("line")))
    df = df.withColumn("_modified", F.col("source_modified") if "source_modified" in bronze.columns
                       else F.lit(None).cast("timestamp"))
    if year is not None:
        df = _with_first_months(df)
    df = with_header(df, F.col("_text"))
    header_ok = F.col("_h").startswith(MARK) & ~F.col("_text").startswith(MARK)
    # Split once, in its own projection (Spark would re-evaluate it per field inside CASE WHEN).
    df = df.withColumn("_hs", F.when(header_ok, F.split(F.col("_h"), tp.SEP, len(tp.HEADER_FIELDS) + 1)))
    df = df.select("*", *[F.try_element_at("_hs", F.lit(i + 2)).alias(f"_{n}")
                          for i, n in enumerate(tp.HEADER_FIELDS)])

    ts = _timestamp(F.col("_ts_text"), F.col("_zone"), year, tz)
    reason = (F.when(F.col("_text").rlike(tp.BLANK_REGEX), "empty line")
              .when(F.length("_text") > tp.MAX_LINE_CHARS, "line too long")
              .when(F.col("_hs").isNull(), "unrecognized header")
              .when(F.col("timestamp").isNull(), "invalid timestamp"))
    df = df.withColumn("timestamp", ts).withColumn("reason", reason)
    # Rows are sorted by dispatch group next (`match_templates`), and a sort that outgrows its
    # memory spills to disk: keep the raw line only where it is still needed (quarantined rows).
    df = df.withColumn("line", F.when(F.col("reason").isNotNull(), F.col("line")))

    process = F.col("_process")
    is_sshd = F.col("reason").isNull() & (process.isin(list(tp.SSHD_PROCESSES))
                                          | process.startswith(tp.SSHD_PAM_PREFIX))
    msg = F.col("_message")
    e14 = tp.BY_ID["E14"].regex
    wrapped = is_sshd & msg.startswith(tp.REPEAT_PREFIX) & ~msg.rlike(e14) & msg.rlike(tp.REPEAT_REGEX)
    df = df.select("*", wrapped.alias("_wrapped"), is_sshd.alias("_is_sshd"))
    # What the templates see: the message, or the message a `message repeated` line wraps
    # (only the latter is stored, so the sorted rows do not carry every message twice).
    df = df.withColumn("_unwrapped", F.when(F.col("_wrapped"), F.regexp_extract(msg, tp.REPEAT_REGEX, 2)))
    body = F.when(F.col("_wrapped"), F.col("_unwrapped")).when(F.col("_is_sshd"), msg)
    return stitch(_typed(match_templates(df, body), max_repeat))


# Columns added to Silver since its first release (name -> SQL type): `Lake.write_silver` adds them
# to a lake written before.
SILVER_SCHEMA_ADDITIONS = {c: tables.table("silver").types[c] for c in ("suspicious",)}


def repeat_count(digits: Column, cap: int = tp.MAX_REPEAT) -> Column:
    """`lib.parser.repeat_count`: the claimed count bounded to [1, cap]."""
    digits = F.ltrim(digits, F.lit("0"))
    return (F.when(F.length(digits) > 9, F.lit(cap))
            .otherwise(F.least(F.greatest(F.coalesce(_nullif_empty(digits).cast("int"), F.lit(0)), F.lit(1)),
                               F.lit(cap))))


def _above(digits: Column, cap: int) -> Column:
    """`lib.parser._above`: the claimed count (null: none) is more than `cap`."""
    digits = F.ltrim(digits, F.lit("0"))
    return (F.length(digits) > 9) | (F.coalesce(_nullif_empty(digits).cast("int"), F.lit(0)) > cap)


def _address(src: Column) -> Column:
    """`lib.parser._address`'s ip: an IPv4 or IPv6 literal (``::ffff:a.b.c.d`` as ``a.b.c.d``), else null."""
    after_prefix = F.substring(src, len(tp.V4_MAPPED_PREFIX) + 1, 1 << 30)
    return (F.when(F.lower(src).startswith(tp.V4_MAPPED_PREFIX) & after_prefix.rlike(tp.IPV4_REGEX), after_prefix)
            .when(src.rlike(tp.IPV4_REGEX) | src.rlike(tp.IPV6_REGEX), src))


def _typed(df: DataFrame, max_repeat: int) -> DataFrame:
    c = F.col
    ok = c("reason").isNull()
    sshd, other = c("_is_sshd"), ok & ~c("_is_sshd")
    matched = c("_r_event_id").isNotNull()
    body = F.when(c("_wrapped"), c("_unwrapped")).otherwise(c("_message"))
    # A message no template knows: its first IP literal, the port after it, a "user X".
    scan_peer = F.when(sshd & ~matched, _nullif_empty(F.regexp_extract(body, tp.SCAN_PEER_REGEX, 1)))
    df = df.withColumn("_src", F.when(matched, _nullif_empty(c("_r_src"))).otherwise(scan_peer))
    df = df.withColumn("_src_ip", _address(c("_src")))
    src, src_ip = c("_src"), c("_src_ip")
    scan_port = F.when(F.regexp_extract(body, tp.SCAN_PORT_REGEX, 1) == src,
                       _nullif_empty(F.regexp_extract(body, tp.SCAN_PORT_REGEX, 2)))
    scan_user = _nullif_empty(F.regexp_extract(body, tp.SCAN_USER_REGEX, 1))
    wrap_digits = F.when(c("_wrapped"), F.regexp_extract(c("_message"), tp.REPEAT_REGEX, 1))
    wrap_n = repeat_count(wrap_digits, max_repeat)
    claimed = F.coalesce(_nullif_empty(c("_r_repeat")), wrap_digits)
    suspicious = F.filter(F.array(
        F.when(sshd & _above(claimed, max_repeat), F.lit(tp.SUSPICIOUS_CAPPED)),
        F.when(sshd & ~c("_message").startswith(tp.PAM_MESSAGE_PREFIX) & c("_message").rlike(tp.UNESCAPED_REGEX),
               F.lit(tp.SUSPICIOUS_UNESCAPED))), lambda x: x.isNotNull())
    when_sshd = lambda col: F.when(sshd, col)  # noqa: E731  (null for other and quarantined lines)
    category = F.when(sshd, "sshd").when(other, "other").otherwise("quarantined")
    preauth = when_sshd(F.rtrim(body, F.lit(" \t")).endswith(tp.PREAUTH_SUFFIX.strip()))
    action = _nullif_empty(c("_r_action"))
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
        F.when(matched, c("_r_user")).when(sshd, scan_user).alias("user"),
        when_sshd(F.coalesce(c("_r_invalid_user"), F.lit(False))).alias("invalid_user"),
        src_ip.alias("src_ip"),
        F.coalesce(_nullif_empty(c("_r_src_host")), F.when(src_ip.isNull(), src)).alias("src_host"),
        F.when(matched, _nullif_empty(c("_r_port"))).when(sshd & src.isNotNull(), scan_port)
        .cast("int").alias("src_port"),
        _nullif_empty(c("_r_method")).alias("auth_method"),
        _nullif_empty(c("_r_key_type")).alias("key_type"),
        _nullif_empty(c("_r_fingerprint")).alias("key_fingerprint"),
        when_sshd(F.coalesce(c("_r_outcome"), F.lit("info"))).alias("outcome"),
        F.when((action == "session") & preauth, "preauth_disconnect").otherwise(action).alias("action"),
        preauth.alias("preauth"),
        when_sshd(F.when(_nullif_empty(c("_r_repeat")).isNotNull(), repeat_count(c("_r_repeat"), max_repeat))
                  .otherwise(F.coalesce(F.when(c("_wrapped"), wrap_n), F.lit(1)))).alias("repeat_count"),
        suspicious.alias("suspicious"),
        F.when(sshd, F.coalesce(c("_r_scope"), F.lit("connection"))).alias("_scope"),
        c("reason"),
        F.when(~ok, c("line")).alias("line"),
    )


def stitch(df: DataFrame) -> DataFrame:
    """`lib.parser.stitch`: lines of one connection lend each other the peer and the user.

    A connection is (source_file, host, pid) of sshd lines that are not the listener's
    (`templates.STITCH_SECONDS`). Two window frames per connection, in line order: the
    last giver before the line, and the first among the next STITCH_ROWS.
    `inferred` lists the fields filled this way.
    """
    c = F.col
    conn = ((c("category") == "sshd") & c("pid").isNotNull() & c("timestamp").isNotNull()
            & (c("_scope") == "connection"))
    df = df.withColumn("_conn", F.coalesce(conn, F.lit(False))) \
        .withColumn("_sec", F.floor(F.unix_micros("timestamp") / F.lit(1_000_000)))
    # One long for the connection (a 64-bit hash of file, host, pid): the window's sort compares
    # it instead of the file's path, character by character.
    key = F.when(c("_conn"), F.xxhash64("source_file", "host", "pid"))
    order = Window.partitionBy(key).orderBy("line_number")
    before, after = order.rowsBetween(Window.unboundedPreceding, -1), order.rowsBetween(1, tp.STITCH_ROWS)
    peer = F.struct(c("_sec").alias("t"), "src_ip", "src_host", "src_port")
    user = F.struct(c("_sec").alias("t"), "user")
    has_peer = c("_conn") & (c("src_ip").isNotNull() | c("src_host").isNotNull())
    has_user = c("_conn") & c("user").isNotNull()
    df = df.select("*", F.last(F.when(has_peer, peer), True).over(before).alias("_pb"),
                   F.first(F.when(has_peer, peer), True).over(after).alias("_pa"),
                   F.last(F.when(has_user, user), True).over(before).alias("_ub"),
                   F.first(F.when(has_user, user), True).over(after).alias("_ua"))

    def giver(b: str, a: str) -> Column:
        near_b = c(b).isNotNull() & (c("_sec") - c(f"{b}.t") <= tp.STITCH_SECONDS)
        near_a = c(a).isNotNull() & (c(f"{a}.t") - c("_sec") <= tp.STITCH_SECONDS)
        return (F.when(near_b & (~near_a | (c("_sec") - c(f"{b}.t") <= c(f"{a}.t") - c("_sec"))), c(b))
                .when(near_a, c(a)))

    needs_peer = c("_conn") & c("src_ip").isNull() & c("src_host").isNull()
    df = df.withColumn("_p", F.when(needs_peer, giver("_pb", "_pa"))) \
        .withColumn("_u", F.when(c("_conn") & c("user").isNull(), giver("_ub", "_ua")))
    filled = {"src_ip": c("_p.src_ip"), "src_host": c("_p.src_host"), "src_port": c("_p.src_port"), "user": c("_u.user")}
    gets = {k: c(k).isNull() & v.isNotNull() for k, v in filled.items()}
    inferred = F.filter(F.array(*[F.when(gets[k], F.lit(k)) for k in tp.STITCHED]), lambda x: x.isNotNull())
    return df.select(*[F.coalesce(c(k), filled[k]).alias(k) if k in filled else
                       inferred.alias("inferred") if k == "inferred" else c(k)
                       for k in SILVER_COLUMNS + ("reason", "line")])


def events(parsed: DataFrame) -> DataFrame:
    """Parsed rows that are events (sshd or other): the Silver table."""
    return parsed.where(F.col("category") != "quarantined").select(*SILVER_COLUMNS)


def quarantine(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("category") == "quarantined").select(*QUARANTINE_COLUMNS)
