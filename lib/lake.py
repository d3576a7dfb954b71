"""The lake: where every table lives, and how it is written atomically.

This is the only module that knows paths. Locally the lake is a directory; on
Azure each layer is an ADLS Gen2 filesystem (container):
``abfss://<layer>@<account>.dfs.core.windows.net/``. The layout follows the seed
guide, so users find things where they expect them:

    bronze/raw_logs/                      landed raw files
    bronze/processed/batch_id=.../        the Bronze table
    bronze/ingested_files/batch_id=.../   per batch and input file: its identity, lines read, new, already in
    silver/structured_logs/batch_id=.../category=.../   parsed lines (sshd, other)
    silver/quarantine/batch_id=.../       lines that could not be parsed, with the reason
    silver/quality_reports/               validation reports (JSON + Markdown)
    gold/final_data/batch_id=.../openssh_logs_final.csv   the final CSV of each batch
    gold/final_data/openssh_logs_final.csv                the latest published batch's
    gold/business_reports/<table>/        analyst tables
    models/                               MLflow artifacts, training sets

Every table is a Delta table: a commit is one entry in its `_delta_log`, so a
reader never sees a half-written version, a writer killed at any point leaves the
previous version readable (its unreferenced files are left for VACUUM), and a
re-run of a batch replaces that batch (`replaceWhere` on `batch_id`) instead of
appending it again. Spark SQL reads them by path: ``delta.`<path>```.

On Databricks with Unity Catalog, `uc_catalog` (and `uc_schema`) name the tables instead of
paths: ``<catalog>.<schema>.<layer>_<table>`` (``main.openssh.silver_structured_logs``,
the path's last folder after its layer), and the files (landed logs, reports, the final
CSVs) live in the schema's volume ``/Volumes/<catalog>/<schema>/lake/<layer>/...``, in
the same layout. Paths stay the default, for the seed's layout and for mounts (legacy).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from lib import tables

LAYERS = ("bronze", "silver", "gold", "models")
VOLUME = "lake"  # the Unity Catalog volume of the files, in the lake's schema (infrastructure/databricks.tf)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
REPO = Path(__file__).resolve().parent.parent
OUTPUT_ENV = "LAKEHOUSE_OUTPUT"


def default_output() -> Path:
    """Where local runs keep the lake and the MLflow store: $LAKEHOUSE_OUTPUT, else ./output of the
    repository checkout (or, for an installed wheel, of the working directory)."""
    checkout = (REPO / "notebooks").is_dir()
    return Path(os.environ.get(OUTPUT_ENV) or (REPO if checkout else Path.cwd()) / "output").resolve()


def default_tracking_uri() -> str:
    return f"sqlite:///{default_output() / 'mlflow.db'}"

# table -> (layer, path below it), from the registry
TABLES = {name: (t.layer, t.path) for name, t in tables.TABLES.items()}
FINAL_CSV = "openssh_logs_final.csv"
SOURCES_MANIFEST = "_sources.json"  # beside landed files: their names as the user gave them


class FileSystem:
    """The few file operations a commit needs, on the local disk or through dbutils."""

    def __init__(self, dbutils=None):
        self.dbutils = dbutils

    def exists(self, path: str) -> bool:
        if self.dbutils:
            try:
                self.dbutils.fs.ls(path)
                return True
            except Exception:  # dbutils raises a Java exception wrapper for a missing path
                return False
        return os.path.exists(_local(path))

    def makedirs(self, path: str) -> None:
        if self.dbutils:
            self.dbutils.fs.mkdirs(path)
        else:
            os.makedirs(_local(path), exist_ok=True)

    def move(self, src: str, dst: str) -> None:
        """Rename (atomic on a local disk and on ADLS Gen2 with a hierarchical namespace)."""
        if self.dbutils:
            self.dbutils.fs.mv(src, dst, recurse=True)
        else:
            os.makedirs(os.path.dirname(_local(dst)), exist_ok=True)
            os.replace(_local(src), _local(dst))

    def copy(self, src: str, dst: str) -> None:
        """Copy a file; locally through a temporary file renamed over `dst` (readers see old or new)."""
        if self.dbutils:
            self.dbutils.fs.cp(src, dst)
        else:
            tmp = f"{_local(dst)}.{uuid.uuid4().hex}.tmp"
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            shutil.copyfile(_local(src), tmp)
            os.replace(tmp, _local(dst))

    def remove(self, path: str) -> None:
        if self.dbutils:
            self.dbutils.fs.rm(path, recurse=True)
        elif os.path.isdir(_local(path)):
            shutil.rmtree(_local(path))
        elif os.path.exists(_local(path)):
            os.remove(_local(path))

    def listdir(self, path: str) -> list[str]:
        if self.dbutils:
            if not self.exists(path):
                return []
            return [f.name.rstrip("/") for f in self.dbutils.fs.ls(path)]
        p = _local(path)
        return sorted(os.listdir(p)) if os.path.isdir(p) else []

    def write_text(self, path: str, text: str) -> None:
        if self.dbutils:
            self.dbutils.fs.put(path, text, overwrite=True)
        else:
            tmp = f"{_local(path)}.{uuid.uuid4().hex}.tmp"
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, _local(path))

    def read_text(self, path: str) -> str:
        if self.dbutils:
            return self.dbutils.fs.head(path, 1 << 30)
        with open(_local(path), encoding="utf-8") as f:
            return f.read()


def configure_abfss(spark, account: str, auth: str, secret_scope: str, dbutils) -> str:
    """Give this Spark session access to `abfss://*@<account>.dfs.core.windows.net`. No credential in code.

    * ``unity_catalog`` (recommended): the workspace's access connector (a managed
      identity holding Storage Blob Data Contributor) backs Unity Catalog external
      locations; nothing to set here.
    * ``service_principal``: OAuth client credentials whose id, secret and tenant are
      read from a Key Vault-backed secret scope (keys ``sp-client-id``,
      ``sp-client-secret``, ``sp-tenant-id``). Unity Catalog standard-access (shared)
      clusters do not allow setting ``fs.azure.*``: this mode needs a dedicated cluster.
    """
    if auth == "unity_catalog":
        if dbutils is not None:  # fail here, where ADF retries, not halfway through raw_load
            dbutils.fs.ls(f"abfss://bronze@{account}.dfs.core.windows.net/")
        return "Unity Catalog external locations (access connector managed identity)"
    if auth != "service_principal":
        raise ValueError(f"unknown auth {auth!r}: use unity_catalog or service_principal")
    if dbutils is None:
        raise RuntimeError("service_principal auth reads its secret with dbutils.secrets: run on Databricks")
    host = f"{account}.dfs.core.windows.net"
    secret = lambda key: dbutils.secrets.get(scope=secret_scope, key=key)  # noqa: E731
    spark.conf.set(f"fs.azure.account.auth.type.{host}", "OAuth")
    spark.conf.set(f"fs.azure.account.oauth.provider.type.{host}",
                   "org.apache.hadoop.fs.azurebfs.oauth2.ClientCredsTokenProvider")
    spark.conf.set(f"fs.azure.account.oauth2.client.id.{host}", secret("sp-client-id"))
    spark.conf.set(f"fs.azure.account.oauth2.client.secret.{host}", secret("sp-client-secret"))
    spark.conf.set(f"fs.azure.account.oauth2.client.endpoint.{host}",
                   f"https://login.microsoftonline.com/{secret('sp-tenant-id')}/oauth2/token")
    return f"service principal from secret scope {secret_scope!r}"


def _local(path: str) -> str:
    return path[len("file:"):] if path.startswith("file:") else path


@dataclass(frozen=True)
class Lake:
    """Paths of the lake. `root` is a local directory (or a volume), or None with `account` for ADLS;
    with `catalog` and `schema`, the Delta tables are Unity Catalog tables of that name instead."""

    root: str | None = None
    account: str | None = None
    fs: FileSystem = FileSystem()
    catalog: str | None = None
    schema: str | None = None

    @classmethod
    def from_params(cls, lake_root: str = "", storage_account: str = "", dbutils=None,
                    uc_catalog: str = "", uc_schema: str = "openssh") -> "Lake":
        """The lake the notebook parameters name. `uc_catalog` set: tables by Unity Catalog name, files
        in the schema's volume unless `lake_root` or `storage_account` says where else."""
        fs = FileSystem(dbutils) if dbutils else FileSystem()
        names = {}
        if uc_catalog.strip():
            names = {"catalog": _identifier(uc_catalog, "catalog"), "schema": _identifier(uc_schema, "schema")}
            if not lake_root and not storage_account:
                lake_root = f"/Volumes/{names['catalog']}/{names['schema']}/{VOLUME}"
        if storage_account:
            return cls(account=storage_account, fs=FileSystem(dbutils), **names)
        root = os.path.abspath(lake_root) if lake_root else str(default_output() / "lake")
        return cls(root=root, fs=fs, **names)

    def layer(self, name: str) -> str:
        if self.account:
            return f"abfss://{name}@{self.account}.dfs.core.windows.net"
        return str(Path(self.root) / name)

    def path(self, table: str, *parts: str) -> str:
        layer, sub = TABLES[table]
        return "/".join(p for p in (self.layer(layer), sub, *parts) if p)

    def table_name(self, table: str) -> str | None:
        """The Unity Catalog name of Delta table `table` (``<catalog>.<schema>.<layer>_<folder>``), or
        None when the lake addresses its tables by path."""
        if not self.catalog:
            return None
        t = tables.table(table)
        if not t.schema:
            raise ValueError(f"{table} is a folder of files, not a table")
        return f"{self.catalog}.{self.schema}.{t.layer}_{t.path.rsplit('/', 1)[-1]}"

    def location(self, table: str) -> str:
        """Where `table` is, as a reader names it: its Unity Catalog name, else its path."""
        return self.table_name(table) or self.path(table)

    def sql_name(self, table: str) -> str:
        """`table` in Spark SQL: ``catalog.schema.table`` or ``delta.`<path>```."""
        return self.table_name(table) or f"delta.`{self.path(table)}`"

    def _replace(self, df, table: str, predicate: str | None, partition_by: tuple = ()) -> str:
        """Replace the rows of `table` that `predicate` selects (all of them, schema included, when
        None) with `df`'s, in one Delta commit. By path: `replaceWhere`. By name: the table API
        (``writeTo``), which Unity Catalog expects and whose overwrite-by-condition is the same
        replace (``saveAsTable`` would replace the whole table's metadata)."""
        name = self.table_name(table)
        if name is None:
            writer = df.write.format("delta").mode("overwrite")
            writer = writer.option("replaceWhere", predicate) if predicate else writer.option("overwriteSchema", "true")
            (writer.partitionBy(*partition_by) if partition_by else writer).save(self.path(table))
        elif predicate is None:
            df.writeTo(name).using("delta").createOrReplace()
        elif df.sparkSession.catalog.tableExists(name):
            from pyspark.sql import functions as F

            df.writeTo(name).overwrite(F.expr(predicate))
        else:
            writer = df.writeTo(name).using("delta")
            (writer.partitionedBy(*partition_by) if partition_by else writer).create()
        return self.location(table)

    @property
    def final_csv(self) -> str:
        """The seed's deliverable: the final CSV of the latest published batch (`lib.publish`)."""
        return self.path("final_data", FINAL_CSV)

    def batch_csv(self, batch_id: str) -> str:
        """The final CSV of one batch: `gold/final_data/batch_id=<id>/openssh_logs_final.csv`."""
        return self.path("final_data", f"batch_id={_batch_literal(batch_id)}", FINAL_CSV)

    def ensure(self) -> dict:
        """Create the layout (a no-op for what exists) and say where everything is."""
        for table in ("raw_logs", "bronze", "silver", "quarantine", "quality_reports", "final_data", "models"):
            self.fs.makedirs(self.path(table))
        return {t: self.location(t) if tables.table(t).schema else self.path(t) for t in TABLES}

    # ---- batches and inputs -------------------------------------------------
    def set_latest_batch(self, batch_id: str) -> None:
        self.write_json("bronze", "_latest_batch.json", {"batch_id": batch_id})

    def latest_batch(self) -> str:
        """The batch raw_load wrote last: the default for notebooks run by hand."""
        path = self.path("bronze", "_latest_batch.json")
        if not self.fs.exists(path):
            raise FileNotFoundError(f"no batch loaded yet in {self.path('bronze')}: run raw_load first")
        return json.loads(self.fs.read_text(path))["batch_id"]

    def input_paths(self, input_path: str) -> list[str]:
        """Comma-separated files, folders or globs; relative ones are under `bronze/raw_logs/`."""
        paths = []
        for item in (s.strip() for s in input_path.split(",")):
            if not item:
                continue
            if "://" not in item and not os.path.isabs(item):
                item = self.path("raw_logs", item.removeprefix("raw_logs/"))
            if not any(ch in item for ch in "*?[") and not self.fs.exists(item):
                raise FileNotFoundError(f"input not found: {item}")
            paths.append(item)
        if not paths:
            raise ValueError("no input path given")
        return paths

    def source_names(self, files: list[str]) -> dict[str, str]:
        """The names the user gave landed files, by read path: the `_sources.json` that the local
        runner writes beside what it lands, where there is one (else Bronze keeps the read path)."""
        out, manifests = {}, {}
        for f in files:
            folder, base = f.rsplit("/", 1)
            if folder not in manifests:
                m = f"{folder}/{SOURCES_MANIFEST}"
                manifests[folder] = json.loads(self.fs.read_text(m)) if self.fs.exists(m) else {}
            if base in manifests[folder]:
                out[f] = manifests[folder][base]
        return out

    def is_delta(self, table: str, spark=None) -> bool:
        """True once `table` has a committed Delta version (its `_delta_log` holds a commit; a Unity
        Catalog table: it exists, which needs `spark`)."""
        name = self.table_name(table)
        if name:
            if spark is None:
                raise ValueError(f"is_delta({table!r}) needs the Spark session for a Unity Catalog table")
            return spark.catalog.tableExists(name)
        log = self.path(table, "_delta_log")
        return any(n.endswith(".json") for n in self.fs.listdir(log))

    def batches(self, spark, table: str) -> list[str]:
        """The batch ids `table` holds now (its partitions in the current version)."""
        df = self.read_table(spark, table)
        return [] if df is None else sorted(r[0] for r in df.select("batch_id").distinct().collect())

    def history(self, spark, table: str, limit: int | None = None) -> list[dict]:
        """`DESCRIBE HISTORY` of `table`, newest version first (the newest `limit` versions only)."""
        last = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = spark.sql(f"DESCRIBE HISTORY {self.sql_name(table)}{last}").select(
            "version", "operation", "operationParameters").collect()
        return [r.asDict() for r in rows]

    def write_json(self, table: str, name: str, obj) -> str:
        path = self.path(table, name)
        self.fs.write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str))
        return path

    # ---- Spark I/O: Delta tables -------------------------------------------
    def write_partition(self, df, table: str, batch_id: str) -> str:
        """Replace batch `batch_id` of `table` with `df`'s rows, in one Delta commit, partitioned as the
        registry (`lib.tables`) says (by batch first).

        `replaceWhere` makes a re-run of a batch a replace, not a second append; Delta
        checks that every row written belongs to the batch, and enforces the table's schema.
        """
        from pyspark.sql import functions as F

        if tables.table(table).partition_by[:1] != ("batch_id",):
            raise ValueError(f"{table} is not partitioned by batch: write it with write_table or replace_keys")
        predicate = f"batch_id = '{_batch_literal(batch_id)}'"
        return self._replace(df.withColumn("batch_id", F.lit(batch_id)), table, predicate,
                             tables.table(table).partition_by)

    def replace_keys(self, df, table: str, column: str, seconds: list[int]) -> str:
        """Replace the rows of `table` whose timestamp `column` falls on one of `seconds` (epoch
        seconds: the windows or hours a batch touched) with `df`'s rows, in one Delta commit.

        Delta checks that every row written has such a key, so a recompute for some keys can
        never overwrite others. Nothing to replace: no commit.
        """
        if not seconds:
            return self.location(table)
        # The column itself against constants: a predicate that the table API can hand to Delta.
        keys = ", ".join(f"timestamp_seconds({int(s)})" for s in sorted(set(seconds)))
        return self._replace(df, table, f"{column} IN ({keys})")

    def add_columns(self, spark, table: str, columns: dict) -> list[str]:
        """Add the nullable `columns` (name -> SQL type) that an existing `table` lacks, one ALTER TABLE
        each (a lake written by an earlier release: Delta refuses a write with a column its schema lacks,
        and the old rows read as null). Returns the columns added."""
        if not self.is_delta(table, spark):
            return []
        have = set(self.read_table(spark, table).columns)
        added = [name for name in columns if name not in have]
        for name in added:
            if not re.fullmatch(r"[a-z_]+", name) or not re.fullmatch(r"[a-z<>]+", columns[name]):
                raise ValueError(f"not a column to add: {name} {columns[name]}")
            spark.sql(f"ALTER TABLE {self.sql_name(table)} ADD COLUMNS ({name} {columns[name]})")
        return added

    def write_table(self, df, table: str) -> str:
        """Replace the whole (unpartitioned) `table` with `df` in one Delta commit."""
        return self._replace(df, table, None)

    def read_table(self, spark, table: str, batch_id: str | None = None, version: int | None = None):
        """A table as a DataFrame (one batch of it when `batch_id` is given; an earlier Delta
        `version` for time travel), or None before its first commit."""
        if not self.is_delta(table, spark):
            return None
        reader = spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", int(version))
        name = self.table_name(table)
        df = reader.table(name) if name else reader.load(self.path(table))
        if batch_id is not None:
            from pyspark.sql import functions as F

            df = df.where(F.col("batch_id") == batch_id)
        return df

    def version(self, spark, table: str) -> int | None:
        """The table's current Delta version (what a reader sees now), None before its first commit."""
        if not self.is_delta(table, spark):
            return None
        return self.history(spark, table, limit=1)[0]["version"]  # not the whole history: it grows every run

    def write_csv(self, df, table: str, filename: str, *, order_by: tuple) -> str:
        """One CSV file with a header at `<table>/<filename>`, rows sorted by `order_by`, replaced atomically.

        Every row is encoded as a CSV line by `to_csv` (the CSV writer's own encoder) where
        it is, in parallel; the lines are then gathered into one partition, sorted there
        and written as text, so the one task that writes the file only sorts and copies
        bytes. Measured on 10M lines: 38 s, against 43-53 s for `orderBy` + `coalesce(1)` +
        the CSV writer, whose range partitioning reads every row twice and whose one task
        encodes every row (BENCHMARKS.md); the files are byte for byte the same.
        """
        from pyspark.sql import functions as F

        options = {"escape": '"'}
        keys = {f"_k{i}": k for i, k in enumerate(order_by)}
        rows = df.select(F.lit(1).alias("_k"), *[F.col(k).alias(n) for n, k in keys.items()],
                         F.to_csv(F.struct(*df.columns), options).alias("value"))
        header = df.sparkSession.range(1).select(  # _k = 0: sorts before every row
            F.lit(0).alias("_k"), *[F.lit(None).cast(df.schema[k].dataType).alias(n) for n, k in keys.items()],
            F.to_csv(F.struct(*[F.lit(c).alias(c) for c in df.columns]), options).alias("value"))
        lines = header.unionByName(rows).repartition(1).sortWithinPartitions("_k", *keys).select("value")

        staged = self.path(table, "_staging", f"{filename.replace('/', '_')}-{uuid.uuid4().hex[:12]}")
        lines.write.mode("overwrite").text(staged)
        parts = [n for n in self.fs.listdir(staged) if n.startswith("part-") and n.endswith(".txt")]
        if len(parts) != 1:
            raise RuntimeError(f"expected one part in {staged}, found {parts}")
        target = self.path(table, filename)
        self.fs.move(f"{staged}/{parts[0]}", target)
        self.fs.remove(staged)
        return target

    def write_final(self, df, batch_id: str, *, order_by: tuple) -> str:
        """The batch's final CSV (`batch_csv`). The seed's path gets a copy when the batch is
        published (`lib.publish`: after validation passed)."""
        return self.write_csv(df, "final_data", f"batch_id={_batch_literal(batch_id)}/{FINAL_CSV}", order_by=order_by)

    def write_silver(self, bronze_rows, batch_id: str, year: int | None, tz: str = "UTC",
                     max_repeat: int | None = None) -> dict:
        """Silver (`category=sshd|other`) and quarantine of one batch's Bronze rows, from one parse.

        The parsed rows are persisted (on disk) so that the parse runs once for the two Delta commits;
        Silver is committed first, so a reader that sees a batch's quarantine also sees its
        Silver rows. (Deciding quarantine again from the headers alone, without persisting,
        measured no faster: BENCHMARKS.md.)
        """
        from pyspark import StorageLevel

        from lib import silver, templates

        cap = templates.MAX_REPEAT if max_repeat is None else max_repeat
        self.add_columns(bronze_rows.sparkSession, "silver", silver.SILVER_SCHEMA_ADDITIONS)
        # On disk, serialized: faster here than the default, deserialized rows in the JVM's heap
        # (1M lines, medians of three: 32.8 s against 42.4 s; BENCHMARKS.md).
        parsed = silver.parse(bronze_rows, year, tz, max_repeat=cap).persist(StorageLevel.DISK_ONLY)
        try:
            self.write_partition(silver.events(parsed), "silver", batch_id)
            self.write_partition(silver.quarantine(parsed), "quarantine", batch_id)
        finally:
            parsed.unpersist()
        return {"silver": self.location("silver"), "quarantine": self.location("quarantine")}


_BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}")


def batch_id_of(digests) -> str:
    """The batch id of a set of input files, from (file name, SHA-256 hex of its bytes) pairs: the same
    files give the same batch wherever they were landed and whenever (`lib.runner.fingerprint`
    and `lib.bronze.batch_fingerprint` both compute it)."""
    import hashlib

    text = "\n".join(f"{name}:{digest}" for name, digest in sorted(digests))
    return "b" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _identifier(value: str, what: str) -> str:
    """A Unity Catalog catalog or schema name, checked: letters, digits and `_`, not starting with a digit."""
    name = str(value).strip()
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"invalid {what} name {value!r}: use letters, digits and _ (not starting with a digit)")
    return name


def _batch_literal(batch_id: str) -> str:
    """A batch id safe to put in a SQL predicate: letters, digits and `_.:+-` only."""
    if not isinstance(batch_id, str) or not _BATCH_ID.fullmatch(batch_id):
        raise ValueError(f"invalid batch id {batch_id!r}: use letters, digits and _.:+- (at most 128)")
    return batch_id
