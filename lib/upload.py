"""`python -m lib upload`: land raw log files in the lake's bronze container, under raw_logs/.

The Azure counterpart of the local runner's `land` step (and of the seed guide's
``az storage blob upload``). It authenticates with azure-identity's
``DefaultAzureCredential`` (managed identity, ``az login``, workload identity) unless
a connection string is given (Azurite, or an account that still allows keys). Each
blob carries the SHA-256 of its content in its metadata, so a file already uploaded
with the same content is skipped: re-running an upload is cheap and changes nothing.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from lib.lake import TABLES

CONTAINER, _FOLDER = TABLES["raw_logs"]  # ("bronze", "raw_logs"): where raw_load reads relative inputs
PREFIX = f"{_FOLDER}/"
HASH_KEY = "content_sha256"
CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"


@dataclass(frozen=True)
class Landed:
    """What happened to one file."""

    file: str
    blob: str
    action: str  # "uploaded" or "skipped"
    size: int


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def blob_names(files: list[Path], prefix: str = PREFIX) -> dict[Path, str]:
    """Blob name of each file: the prefix plus its file name; refuses missing files and two files with one name."""
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"no such file: {', '.join(missing)}")
    names: dict[Path, str] = {}
    for f in files:
        name = prefix + f.name
        if name in names.values():
            raise ValueError(f"two files would land as {name}: rename one of them")
        names[f] = name
    return names


def container_client(account: str | None = None, connection_string: str | None = None,
                     container: str = CONTAINER):
    """A client for the lake's container: by connection string, or as DefaultAzureCredential."""
    from azure.storage.blob import ContainerClient

    if connection_string:
        return ContainerClient.from_connection_string(connection_string, container)
    if not account:
        raise ValueError("give --account NAME (Entra ID) or --connection-string")
    from azure.identity import DefaultAzureCredential

    return ContainerClient(f"https://{account}.blob.core.windows.net", container,
                           credential=DefaultAzureCredential(exclude_interactive_browser_credential=True))


def upload_files(container, files: list[Path], prefix: str = PREFIX) -> list[Landed]:
    """Upload each file unless a blob with the same content hash is already there."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import ContentSettings

    landed = []
    for path, name in blob_names(files, prefix).items():
        digest, size = content_hash(path), path.stat().st_size
        blob = container.get_blob_client(name)
        try:
            unchanged = blob.get_blob_properties().metadata.get(HASH_KEY) == digest
        except ResourceNotFoundError:
            unchanged = False
        if not unchanged:
            with open(path, "rb") as f:
                blob.upload_blob(f, overwrite=True, metadata={HASH_KEY: digest},
                                 content_settings=ContentSettings(content_type=_content_type(path)))
        landed.append(Landed(str(path), name, "skipped" if unchanged else "uploaded", size))
    return landed


def _content_type(path: Path) -> str:
    return "application/gzip" if path.suffix == ".gz" else "text/plain; charset=utf-8"


def add_arguments(parser) -> None:
    """The `upload` subcommand's arguments."""
    parser.add_argument("files", nargs="+", type=Path, help="raw log files (plain or .gz)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--account", help="ADLS Gen2 account of the lake (Terraform output storage_account_name)")
    where.add_argument("--connection-string", dest="connection_string",
                       default=os.environ.get(CONNECTION_STRING_ENV),
                       help=f"instead of Entra ID (default: ${CONNECTION_STRING_ENV})")
    parser.set_defaults(fn=main)


def main(args) -> int:
    """Upload `args.files`, print one line per file and a summary; 1 on an error."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError

    # azure-identity logs every credential it tried; the one-line error below says enough.
    logging.getLogger("azure").setLevel(logging.ERROR)
    try:
        blob_names(list(args.files))  # local mistakes first, before any network call
        container = container_client(args.account, None if args.account else args.connection_string)
        if not container.exists():
            raise ValueError(f"container {container.container_name!r} does not exist at {container.url}")
        landed = upload_files(container, list(args.files))
    except ClientAuthenticationError as exc:
        print(f"error: {_first_line(exc)} (sign in with `az login`, or give --connection-string)", file=sys.stderr)
        return 1
    except (AzureError, OSError, ValueError) as exc:
        print(f"error: {_first_line(exc)}", file=sys.stderr)
        return 1
    for item in landed:
        reason = f"{item.size} bytes" if item.action == "uploaded" else "same content already there"
        print(f"{item.action:<8} {item.file} -> {container.container_name}/{item.blob} ({reason})")
    counts = {a: sum(i.action == a for i in landed) for a in ("uploaded", "skipped")}
    print(f"{counts['uploaded']} uploaded, {counts['skipped']} skipped: {container.url}/{PREFIX}")
    return 0


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
