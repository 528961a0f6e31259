"""Pricing and tax HTTP routers: every submodule here contributes its `routers` list."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

routers: list[Any] = []
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
    routers.extend(getattr(importlib.import_module(f"{__name__}.{_info.name}"), "routers", []))
