"""The layers point one way: domain imports nothing of ours and no I/O library; projections and
consumers import domain, never services; nothing imports services (STYLE.md (b)1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_LIBRARIES = {
    "psycopg",
    "psycopg_pool",
    "kafka",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "structlog",
    "eventsourcing",
    "requests",
    "socket",
    "sqlite3",
    "os",
    "subprocess",
    "logging",
    "jwt",
}


def imported_top_levels(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_the_domain_imports_no_other_package_of_ours_and_no_io_library() -> None:
    for module, names in imported_top_levels("domain").items():
        assert not names & {"projections", "services", "consumers"}, module
        assert not names & IO_LIBRARIES, module


@pytest.mark.parametrize("package", ["projections", "consumers"])
def test_projections_and_consumers_never_import_services(package: str) -> None:
    for module, names in imported_top_levels(package).items():
        assert "services" not in names, module


def test_the_layer_check_would_see_a_forbidden_import() -> None:
    tree = ast.parse("from services.adapters.store import EventStore\nimport psycopg\n")
    names = {
        n.module.split(".")[0] if isinstance(n, ast.ImportFrom) and n.module else n.names[0].name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
    }
    assert names == {"services", "psycopg"}


def imported_modules(package: str) -> dict[str, set[str]]:
    """Each module's imports, as full dotted names (`from a.b import c` gives `a.b` and `a.b.c`)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
        found[str(path.relative_to(ROOT))] = names
    return found


def test_use_cases_import_neither_the_web_framework_nor_the_api() -> None:
    for module, names in imported_modules("services/app").items():
        assert not {n.split(".")[0] for n in names} & {"fastapi", "starlette"}, module
        assert not any(n == "services.api" or n.startswith("services.api.") for n in names), module


@pytest.mark.parametrize("package", ["domain", "projections", "consumers", "interop", "services"])
def test_only_the_api_knows_the_http_problem(package: str) -> None:
    for module, names in imported_modules(package).items():
        if module.startswith("services/api/"):
            continue
        assert "services.api.problems.Problem" not in names, module
