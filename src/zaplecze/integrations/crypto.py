"""Credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key of its own, not the Django secret key.

The key comes from `settings.CREDENTIALS_KEY` (environment `ZAPLECZE_CREDENTIALS_KEY`): one Fernet key, or
several separated by commas for rotation (the first encrypts, all decrypt). When none is configured a key
is generated once into `<data dir>/credentials_key` (mode 0600), like the secret key, so the embedded
setup, tests and the demo need no manual step. Keeping it apart from SECRET_KEY means rotating the session
secret does not lose the stored credentials, and a leaked SECRET_KEY does not reveal them.
"""

from __future__ import annotations

import json
import os
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from zaplecze.core.errors import DomainError


def _configured() -> str:
    return settings.CREDENTIALS_KEY


@cache
def _fernet() -> MultiFernet:
    given = _configured()
    if given:
        keys = [k.strip() for k in given.split(",") if k.strip()]
    else:
        path = settings.DATA_DIR / "credentials_key"
        if not path.exists():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(Fernet.generate_key().decode())
        keys = [path.read_text().strip()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt(values: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise DomainError(
            "The stored credentials cannot be decrypted with the configured key "
            "(ZAPLECZE_CREDENTIALS_KEY changed?). Enter them again.",
            field="credentials",
            code="credentials_key",
        ) from None


def hint(secret: str) -> str:
    """What the screens show after saving: the last 4 characters only."""
    return f"•••• {secret[-4:]}" if len(secret) >= 8 else "••••"
