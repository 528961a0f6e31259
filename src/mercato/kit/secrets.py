"""The signing secret: MERCATO_SECRET_KEY, or (outside production) a random one kept in var/."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from mercato.kit.settings import PROJECT_ROOT, ConfigurationError, Settings

_DEV_SECRET_FILE = PROJECT_ROOT / "var" / "secret_key"


def signing_secret(settings: Settings, path: Path = _DEV_SECRET_FILE) -> str:
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            raise ConfigurationError("MERCATO_SECRET_KEY: must be at least 32 characters")
        return settings.secret_key
    if settings.env == "production":
        raise ConfigurationError("MERCATO_SECRET_KEY: required when MERCATO_ENV=production")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write a private temp file, then link it into place: the link either publishes a complete
        # secret or fails because another process (a sibling worker) published one first. Creating
        # `path` directly would let that sibling read it while still empty.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise ConfigurationError(
            f"MERCATO_SECRET_KEY: unset, and {path} does not hold a usable secret; delete it or set the variable"
        )
    return secret
