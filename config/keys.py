"""Server keys for the embedded mode.

Production passes ``SECRET_KEY`` and ``JWT_PRIVATE_KEY`` through the environment. Without them, a
key is generated once into ``VAR_DIR`` (never committed) so a fresh clone runs with nothing to set.
"""

import os
import secrets
from pathlib import Path


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def local_secret(var_dir: Path, name: str) -> str:
    path = var_dir / name
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(50).encode())
    return path.read_text().strip()


def local_rsa_private_pem(var_dir: Path) -> str:
    path = var_dir / "jwt_private.pem"
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(path, pem)
    return path.read_text()


def public_pem_of(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
