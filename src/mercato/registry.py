"""Finds what each module contributes (models, routers, handlers, periodic jobs) by convention,
so adding a module never means editing a central list."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any

import mercato.modules

_KIT_MODELS = ("mercato.kit.idempotency", "mercato.kit.outbox", "mercato.kit.jobs")
_KIT_TASKS = ("mercato.kit.maintenance",)


def module_names() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(mercato.modules.__path__) if info.ispkg)


def _optional(dotted: str) -> ModuleType | None:
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        if exc.name == dotted:
            return None
        raise


def import_all_models() -> None:
    for dotted in _KIT_MODELS:
        importlib.import_module(dotted)
    for name in module_names():
        _optional(f"mercato.modules.{name}.models")


def routers() -> list[Any]:
    """Each module's `endpoints.routers` (a list of APIRouter), in module order."""
    found: list[Any] = []
    for name in module_names():
        endpoints = _optional(f"mercato.modules.{name}.endpoints")
        if endpoints is not None:
            found.extend(getattr(endpoints, "routers", []))
    return found


def import_handlers_and_tasks(extra: list[str] | None = None) -> None:
    for dotted in _KIT_TASKS:
        importlib.import_module(dotted)
    for name in module_names():
        _optional(f"mercato.modules.{name}.handlers")
        _optional(f"mercato.modules.{name}.tasks")
    for dotted in extra or []:
        importlib.import_module(dotted)
