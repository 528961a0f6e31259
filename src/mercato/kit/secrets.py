"""The signing secret: MERCATO_SECRET_KEY, or (outside production) a random one kept in var/."""

from __future__ import annotations

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
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
