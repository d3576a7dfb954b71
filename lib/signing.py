"""Model integrity: the pipeline signs what it registers, the API loads only what verifies.

Whoever can move a registry alias chooses the model the API unpickles (code execution in
its pod). So the training run signs a digest of the registered version's artifacts with an
Ed25519 key that only the pipeline holds (Key Vault / a Databricks secret scope; locally a
key made once in the output folder), and records digest and signature as tags of the
version. The API downloads a version, digests the bytes it downloaded, checks the
signature with the public key it was configured with, and only then loads those same
bytes. A version registered or re-pointed by anyone without the key does not load.
"""
from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

DIGEST_TAG, SIGNATURE_TAG = "artifact_sha256", "artifact_signature"
KEY_SECRET = "model-signing-key"  # its name in the Key Vault-backed secret scope


class SignatureError(RuntimeError):
    """A model version without a valid signature of its artifacts."""


def digest(folder: str | Path) -> str:
    """SHA-256 over every file under `folder`: its relative path and its bytes, in path order."""
    root = Path(folder)
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix().encode()
        h.update(len(rel).to_bytes(4, "big") + rel)
        data = path.read_bytes()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def new_private_key() -> bytes:
    """A fresh Ed25519 private key, PEM (PKCS#8): what the secret scope or the local key file holds."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption())


def public_key(private_pem: bytes) -> str:
    """The public half as the API takes it (MODEL_PUBLIC_KEY): base64 of the raw 32 bytes, one line."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem, password=None).public_key()
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def local_key(folder: str | Path) -> bytes:
    """The private key of a local output folder (`<folder>/model-signing/private.pem`), made on
    first use (mode 0600), with its public half beside it for the API (`public.key`)."""
    keys = Path(folder) / "model-signing"
    private_path = keys / "private.pem"
    if not private_path.exists():
        keys.mkdir(parents=True, exist_ok=True)
        private = new_private_key()
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private)
        (keys / "public.key").write_text(public_key(private) + "\n")
    return private_path.read_bytes()


def pipeline_key(dbutils, secret_scope: str, local_folder: str | None) -> bytes:
    """The pipeline's private key: from the secret scope on Databricks, else the local output folder's."""
    if dbutils is not None and secret_scope:
        return dbutils.secrets.get(secret_scope, KEY_SECRET).encode()
    if local_folder:
        return local_key(local_folder)
    raise RuntimeError(f"no model-signing key: set signing_secret_scope to a secret scope holding {KEY_SECRET!r}")


def load_public_key(text: str):
    """MODEL_PUBLIC_KEY (base64 of 32 raw bytes) as a key object; ValueError when it is not one."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise ValueError("not base64") from None
    if len(raw) != 32:
        raise ValueError(f"{len(raw)} bytes, not an Ed25519 public key's 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign(hex_digest: str, private_pem: bytes) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem, password=None)
    return base64.b64encode(key.sign(bytes.fromhex(hex_digest))).decode()


def verify(folder: str | Path, tags: dict, key) -> str:
    """The digest of `folder` when `tags` hold a valid signature of it by `key` (`load_public_key`);
    else SignatureError saying what is wrong."""
    from cryptography.exceptions import InvalidSignature

    signature = (tags or {}).get(SIGNATURE_TAG)
    if not signature:
        raise SignatureError("the version is not signed")
    actual = digest(folder)
    if actual != (tags or {}).get(DIGEST_TAG):
        raise SignatureError(f"its artifacts' digest {actual[:12]}… is not the one signed")
    try:
        key.verify(base64.b64decode(signature), bytes.fromhex(actual))
    except (InvalidSignature, ValueError):
        raise SignatureError("the signature does not verify with the configured public key") from None
    return actual


def download(model_name: str, version: str, folder: str) -> str:
    """Version `version`'s artifacts by its `models:/` URI into `folder` (no progress bar); their path."""
    import mlflow.artifacts

    before = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    try:
        return mlflow.artifacts.download_artifacts(f"models:/{model_name}/{version}", dst_path=folder)
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = before


def sign_version(client, model_name: str, version: str, private_pem: bytes) -> str:
    """Download version `version`'s artifacts (from MLflow's current registry, as `registry.setup_mlflow`
    sets it, and by its `models:/` URI, as the API does), sign their digest, tag the version with both."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        hex_digest = digest(download(model_name, version, tmp))
    client.set_model_version_tag(model_name, str(version), DIGEST_TAG, hex_digest)
    client.set_model_version_tag(model_name, str(version), SIGNATURE_TAG, sign(hex_digest, private_pem))
    return hex_digest
