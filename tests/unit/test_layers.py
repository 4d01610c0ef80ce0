"""The rooms and the one direction between them (docs/architecture.md), checked with `ast`.

- domain/ imports nothing of ours and no I/O library;
- projections/, consumers/ and interop/ import domain/ only (of ours);
- demo/ imports domain/ only; infra/ imports nothing of ours;
- services/api/, services/cli/ and services/bench/ reach adapters and infra only through
  services/wiring/: they import services/app/ and the wiring, never services/adapters/ (cli
  may import infra/);
- the wiring is one package imported by its name: nothing outside it imports its modules;
- services/app/ imports neither FastAPI nor services/api/ nor the wiring nor the CLI;
- only services/adapters/store.py imports the eventsourcing library's persistence or touches
  its `recorder`, `datastore` or `codec`; only services/api/ imports the HTTP `Problem`;
- there is no import cycle between our modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"domain", "projections", "consumers", "interop", "services", "infra", "demo"}
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


def modules() -> Iterator[tuple[str, Path]]:
    for package in sorted(OURS):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            yield ".".join(parts), path


def imports_of(path: Path, module: str) -> set[str]:
    """Every dotted module name this file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


GRAPH = {module: imports_of(path, module) for module, path in modules()}
KNOWN = set(GRAPH)


def ours(names: set[str]) -> set[str]:
    """Our modules among the imported names (a `from pkg import name` counts as `pkg.name`
    when that is a module, else as `pkg`)."""
    return {name for name in names if name in KNOWN}


def in_room(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def edges_from(room: str) -> Iterator[tuple[str, str]]:
    for module, names in GRAPH.items():
        if in_room(module, room):
            for target in ours(names):
                yield module, target


def test_the_domain_imports_no_other_package_of_ours_and_no_io_library() -> None:
    for module, names in GRAPH.items():
        if in_room(module, "domain"):
            tops = {name.split(".")[0] for name in names}
            assert not tops & (OURS - {"domain"}), module
            assert not tops & IO_LIBRARIES, module


@pytest.mark.parametrize("room", ["projections", "consumers", "interop", "demo"])
def test_the_outer_rooms_import_only_the_domain(room: str) -> None:
    for module, target in edges_from(room):
        assert in_room(target, "domain") or in_room(target, room), f"{module} -> {target}"


def test_infra_imports_nothing_of_ours() -> None:
    assert not list(edges_from("infra"))


@pytest.mark.parametrize("room", ["services.api", "services.cli", "services.bench"])
def test_the_edges_reach_adapters_only_through_the_wiring(room: str) -> None:
    for module, target in edges_from(room):
        assert not in_room(target, "services.adapters"), f"{module} -> {target}"
        if room != "services.cli":
            assert not in_room(target, "infra"), f"{module} -> {target}"


def test_only_the_wiring_and_the_cli_start_infra() -> None:
    for module, names in GRAPH.items():
        if in_room(module, "services.wiring") or in_room(module, "services.cli"):
            continue
        if in_room(module, "infra"):
            continue
        assert not {n for n in names if in_room(n, "infra")}, module


def test_the_wiring_is_imported_by_the_package_name_only() -> None:
    for module, names in GRAPH.items():
        if in_room(module, "services.wiring"):
            continue
        inner = {n for n in ours(names) if n.startswith("services.wiring.")}
        assert not inner, f"{module} -> {sorted(inner)}"


def test_use_cases_know_nothing_of_http_the_cli_or_the_wiring() -> None:
    for module, names in GRAPH.items():
        if not in_room(module, "services.app"):
            continue
        tops = {name.split(".")[0] for name in names}
        assert not tops & {"fastapi", "starlette", "uvicorn"}, module
        for target in ours(names):
            for forbidden in ("services.api", "services.cli", "services.wiring"):
                assert not in_room(target, forbidden), f"{module} -> {target}"


def test_nothing_imports_services_from_outside() -> None:
    for module, names in GRAPH.items():
        if not in_room(module, "services"):
            assert not {n for n in names if in_room(n, "services")}, module


def test_only_the_store_adapter_touches_the_library_persistence() -> None:
    forbidden_attributes = {"recorder", "datastore", "codec"}
    for module, path in modules():
        if module == "services.adapters.store":
            continue
        assert not {
            n
            for n in GRAPH[module]
            if in_room(n, "eventsourcing.persistence") or in_room(n, "eventsourcing.postgres")
        }, module
        tree = ast.parse(path.read_text())
        touched = {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in forbidden_attributes
        }
        assert not touched, f"{module} touches {sorted(touched)}"


def test_only_the_http_edge_knows_the_problem_type() -> None:
    for module, names in GRAPH.items():
        if in_room(module, "services.api"):
            continue
        assert "services.api.problems.Problem" not in names, module


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle among our modules as a path, or None (iterative depth-first search)."""
    colour: dict[str, int] = dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done
    for start in sorted(graph):
        if colour[start]:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        colour[start] = 1
        while stack:
            target = next(stack[-1], None)
            if target is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour.get(target) == 1:
                return [*path[path.index(target) :], target]
            elif colour.get(target) == 0:
                colour[target] = 1
                path.append(target)
                stack.append(iter(sorted(graph[target])))
    return None


def test_there_is_no_import_cycle() -> None:
    graph = {module: ours(names) - {module} for module, names in GRAPH.items()}
    # a package's __init__ re-exporting its own modules is not a cycle of the design
    for module in graph:
        graph[module] = {t for t in graph[module] if not in_room(t, module)}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_check_would_see_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_layer_check_would_see_a_forbidden_import() -> None:
    source = "from services.adapters.store import EventStore\nimport psycopg\n"
    path = ROOT / "tests" / "unit" / "_probe.py"
    tree_names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            tree_names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            tree_names |= {a.name for a in node.names}
    assert {"services.adapters.store", "psycopg"} <= tree_names
    assert not path.exists()
