"""The rules of the house that import-linter cannot express, checked on the source tree."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "mercato"
MODULES = SRC / "modules"
WEB_FRAMEWORKS = ("fastapi", "starlette")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _module_files() -> list[tuple[str, Path]]:
    return [(p.relative_to(MODULES).parts[0], p) for p in MODULES.glob("*/**/*.py")]


def test_there_are_modules_to_check() -> None:
    assert {"identity", "channels"} <= {owner for owner, _ in _module_files()}


def test_modules_use_each_other_only_through_their_package() -> None:
    offences = []
    for owner, path in _module_files():
        for name in _imports(path):
            parts = name.split(".")
            if parts[:2] == ["mercato", "modules"] and len(parts) > 3 and parts[2] != owner:
                other_package_member = len(parts) == 4 and (MODULES / parts[2] / "__init__.py").exists() and not (
                    (MODULES / parts[2] / f"{parts[3]}.py").exists() or (MODULES / parts[2] / parts[3]).is_dir()
                )
                if not other_package_member:
                    offences.append(f"{path.relative_to(SRC)} imports {name}")
    assert offences == []


def test_only_endpoints_import_the_web_framework() -> None:
    offences = [
        f"{path.relative_to(SRC)} imports {name}"
        for _, path in _module_files()
        if path.name != "endpoints.py" and "endpoints" not in path.relative_to(MODULES).parts[1:-1]
        for name in _imports(path)
        if name.split(".")[0] in WEB_FRAMEWORKS
    ]
    assert offences == []


def test_kit_imports_no_module_and_only_kit_web_knows_the_framework() -> None:
    offences = []
    for path in (SRC / "kit").rglob("*.py"):
        in_web = "web" in path.relative_to(SRC / "kit").parts[:1]
        for name in _imports(path):
            if name.startswith("mercato.modules") or name.startswith(("mercato.app", "mercato.worker", "mercato.cli")):
                offences.append(f"{path.relative_to(SRC)} imports {name}")
            if not in_web and name.split(".")[0] in WEB_FRAMEWORKS:
                offences.append(f"{path.relative_to(SRC)} imports {name}")
    assert offences == []


# Floats are right for positions on the globe; everything else that is not a whole number of
# something is suspect of being money.
_FLOAT_COLUMNS_ALLOWED = frozenset({"latitude", "longitude"})


def test_no_float_money_in_models() -> None:
    offences = [
        f"{path.relative_to(SRC)}: {line.strip()}"
        for path in SRC.rglob("models.py")
        for line in path.read_text().splitlines()
        if any(token in line for token in ("Float", "Numeric(", "float"))
        and not line.strip().startswith(("from ", "import ", "#", "Float,"))
        and line.strip().split(":")[0] not in _FLOAT_COLUMNS_ALLOWED
    ]
    assert offences == []
