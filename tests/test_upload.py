"""`python -m lib upload` against Azurite's blob service, started and stopped here.

Azurite (npm azurite@3.35.0, installed into .venv-node by the Makefile) runs with an
account whose key is generated per test session, so no key is written anywhere.
"""
from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest

from lib import upload
from lib.spark import free_port

REPO = Path(__file__).resolve().parent.parent
AZURITE = REPO / ".venv-node" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "lakehouse"


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    """A running Azurite blob service; yields its connection string."""
    if not AZURITE.exists():
        pytest.fail(f"Azurite is not installed at {AZURITE}: run `make test` (or `make azurite`)")
    port, key = free_port(), base64.b64encode(secrets.token_bytes(32)).decode()
    folder = tmp_path_factory.mktemp("azurite")
    log = open(folder / "azurite.log", "w")
    proc = subprocess.Popen(
        [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder),
         "--skipApiVersionCheck", "--disableProductStyleUrl"],
        env=dict(os.environ, AZURITE_ACCOUNTS=f"{ACCOUNT}:{key}"), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60  # a readiness wait, not an assertion on speed
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Azurite exited with {proc.returncode}: {(folder / 'azurite.log').read_text()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail("Azurite did not open its port within 60 s")
            time.sleep(0.1)
        yield (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
               f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};")
    finally:
        proc.send_signal(signal.SIGTERM)  # Azurite 3.35 stops on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture()
def container(azurite):
    """A fresh bronze container (emptied after the test)."""
    client = upload.container_client(connection_string=azurite)
    client.create_container()
    yield client
    client.delete_container()


@pytest.fixture()
def logs(tmp_path):
    a = tmp_path / "a" / "auth.log"
    b = tmp_path / "b" / "OpenSSH_2k.log.gz"
    a.parent.mkdir()
    b.parent.mkdir()
    a.write_text("Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo failed\n")
    b.write_bytes(b"\x1f\x8b planted gzip bytes")
    return [a, b]


def _blobs(container) -> dict[str, bytes]:
    return {b.name: container.download_blob(b.name).readall() for b in container.list_blobs()}


def test_uploads_into_raw_logs_with_the_content_hash(container, logs):
    landed = upload.upload_files(container, logs)
    assert [(i.blob, i.action) for i in landed] == [
        ("raw_logs/auth.log", "uploaded"), ("raw_logs/OpenSSH_2k.log.gz", "uploaded")]
    assert _blobs(container) == {"raw_logs/auth.log": logs[0].read_bytes(),
                                 "raw_logs/OpenSSH_2k.log.gz": logs[1].read_bytes()}
    props = container.get_blob_client("raw_logs/auth.log").get_blob_properties()
    assert props.metadata == {upload.HASH_KEY: upload.content_hash(logs[0])}
    assert container.get_blob_client("raw_logs/OpenSSH_2k.log.gz").get_blob_properties() \
        .content_settings.content_type == "application/gzip"


def test_unchanged_files_are_skipped_and_changed_ones_replaced(container, logs):
    upload.upload_files(container, logs)
    assert [i.action for i in upload.upload_files(container, logs)] == ["skipped", "skipped"]
    logs[0].write_text("Dec 10 07:00:00 LabSZ sshd[1]: Connection closed by 10.0.0.1 [preauth]\n")
    assert [i.action for i in upload.upload_files(container, logs)] == ["uploaded", "skipped"]
    assert _blobs(container)["raw_logs/auth.log"] == logs[0].read_bytes()


def test_the_command_reports_what_it_did(container, logs, azurite):
    cmd = [sys.executable, "-m", "lib", "upload", *map(str, logs)]
    env = dict(os.environ, AZURE_STORAGE_CONNECTION_STRING=azurite)
    first = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0].startswith(f"uploaded {logs[0]} -> bronze/raw_logs/auth.log (")
    assert first.stdout.splitlines()[-1].startswith("2 uploaded, 0 skipped: ")
    assert again.returncode == 0, again.stderr
    assert "skipped  " in again.stdout and again.stdout.splitlines()[-1].startswith("0 uploaded, 2 skipped: ")


def test_a_missing_file_uploads_nothing(container, logs, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.log"):
        upload.upload_files(container, [logs[0], tmp_path / "nope.log"])
    assert _blobs(container) == {}


def test_two_files_with_one_name_are_refused(container, tmp_path):
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "auth.log").write_text(d)
    with pytest.raises(ValueError, match="raw_logs/auth.log"):
        upload.upload_files(container, [tmp_path / "x" / "auth.log", tmp_path / "y" / "auth.log"])
    assert _blobs(container) == {}


def test_a_missing_container_is_an_error(azurite, logs, capsys):
    code = upload.main(Namespace(files=logs, account=None, connection_string=azurite))
    assert code == 1
    assert "container 'bronze' does not exist" in capsys.readouterr().err


def test_an_account_name_means_entra_id_on_the_blob_endpoint():
    from azure.identity import DefaultAzureCredential

    client = upload.container_client(account="opensshlake")
    assert client.url == "https://opensshlake.blob.core.windows.net/bronze"
    assert isinstance(client.credential, DefaultAzureCredential)
    with pytest.raises(ValueError, match="--account"):
        upload.container_client()


def test_local_mistakes_are_reported_before_any_network_call(tmp_path, capsys):
    code = upload.main(Namespace(files=[tmp_path / "nope.log"], account="opensshlake", connection_string=None))
    assert code == 1
    assert capsys.readouterr().err == f"error: no such file: {tmp_path / 'nope.log'}\n"
