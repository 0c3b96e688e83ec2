"""Signed bundles: an ed25519 signature over manifest.json, which carries every model file's sha256.

Why the manifest only: loading already refuses a model file whose size or hash differs from the
manifest, so a valid signature over the manifest bytes vouches for every file. The signature lives
in `manifest.sig` (base64) next to it; keys are PEM files that never live in the repo.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from edge.bundle import MANIFEST_NAME, resolve
from edge.errors import BundleError

SIGNATURE_NAME = "manifest.sig"


def _crypto():
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    except ImportError as exc:
        raise BundleError("signed bundles need the `cryptography` package (pip install cryptography)") from exc
    return serialization, Ed25519PrivateKey, Ed25519PublicKey, InvalidSignature


def generate_keys(out_dir: str | Path, name: str = "edgesight") -> tuple[Path, Path]:
    """(private.pem (mode 0600), public.pem) for signing; keep the private key off the devices."""
    serialization, private_cls, _, _ = _crypto()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = private_cls.generate()
    private, public = out / f"{name}.pem", out / f"{name}.pub.pem"
    if private.exists():
        raise BundleError(f"{private} exists; refusing to overwrite a private key")
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def _load_key(path: str | Path, private: bool):
    serialization, private_cls, public_cls, _ = _crypto()
    try:
        data = Path(path).read_bytes()
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except (OSError, ValueError, TypeError) as exc:
        raise BundleError(f"{path}: not a readable {'private' if private else 'public'} PEM key ({exc})") from None
    if not isinstance(key, private_cls if private else public_cls):
        raise BundleError(f"{path}: not an ed25519 key")
    return key


def sign_bundle(ref: str | Path, private_key: str | Path) -> Path:
    root = resolve(ref)
    key = _load_key(private_key, private=True)
    signature = key.sign((root / MANIFEST_NAME).read_bytes())
    path = root / SIGNATURE_NAME
    path.write_text(base64.b64encode(signature).decode() + "\n")
    return path


def verify_bundle(ref: str | Path, public_key: str | Path) -> None:
    """Raises BundleError unless manifest.json is signed by the key and unchanged since."""
    _, _, _, invalid = _crypto()
    root = resolve(ref)
    sig_path = root / SIGNATURE_NAME
    if not sig_path.is_file():
        raise BundleError(f"{root}: unsigned bundle ({SIGNATURE_NAME} missing) and a trusted key is required")
    key = _load_key(public_key, private=False)
    try:
        key.verify(base64.b64decode(sig_path.read_text().strip(), validate=True), (root / MANIFEST_NAME).read_bytes())
    except (invalid, ValueError):
        raise BundleError(f"{root}: {SIGNATURE_NAME} does not match manifest.json: the bundle was altered or signed "
                          f"with another key") from None
