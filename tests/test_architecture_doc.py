"""docs/ARCHITECTURE.md's package table names, for each package, exactly the nsparse packages it imports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLE_ROW = re.compile(r"^\| (`nsparse\.[^|]*) \| .* \| ([^|]*) \|$")


def documented_rows() -> list[tuple[set[str], str]]:
    """(packages of a row, its 'depends on' cell) for each row of the table."""
    rows = []
    for line in (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        if match := TABLE_ROW.match(line):
            packages = set(re.findall(r"`nsparse\.(\w+)`", match.group(1)))
            rows.append((packages, match.group(2).strip()))
    return rows


def imported_units(unit: str) -> set[str]:
    """The nsparse packages and top-level modules that `nsparse.<unit>` (a package or a module) imports."""
    base = ROOT / "nsparse" / unit
    files = sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
    found = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
                if node.module == "nsparse":  # from nsparse import config
                    names = [f"nsparse.{alias.name}" for alias in node.names]
            else:
                continue
            found |= {name.split(".")[1] for name in names if name.startswith("nsparse.")}
    return found - {unit}


def named(cell: str) -> set[str] | None:
    """The packages a 'depends on' cell names (`data.format` names `data`); None for 'all'."""
    cell = re.sub(r"\([^)]*\)", "", cell).strip()
    if cell == "all":
        return None
    return {item.strip().split(".")[0] for item in cell.split(",") if item.strip() not in ("", "—")}


def test_every_package_has_a_row():
    units = {path.stem for path in (ROOT / "nsparse").glob("*.py") if path.stem != "__init__"}
    units |= {path.parent.name for path in (ROOT / "nsparse").glob("*/__init__.py")}
    assert units == set().union(*(packages for packages, _ in documented_rows()))


@pytest.mark.parametrize(
    ("packages", "cell"), [pytest.param(*row, id="+".join(sorted(row[0]))) for row in documented_rows()]
)
def test_depends_on_names_exactly_the_imports(packages: set[str], cell: str):
    documented = named(cell)
    if documented is None:  # pipeline: everything below it
        return
    actual = set().union(*(imported_units(unit) for unit in packages)) - packages
    assert documented == actual, (
        f"{sorted(packages)}: the table says {sorted(documented)}, the code imports {sorted(actual)}"
    )
