"""No production module over 600 lines, no function over 80 lines, checked with `ast`.

A reader holds a module and a function at once; past these sizes they are split. The one
exception is the exhaustive fold: a function whose body is a single `match` over the event types
(after at most a docstring and a few simple assignments) ending in a wildcard case
(`assert_never`, or "nothing else changes"). Splitting such a fold would scatter the one place
that says what every event does, so its length is the length of the catalogue, not a smell.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("domain", "projections", "consumers", "services", "interop", "infra", "demo")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
MAX_LINES_BEFORE_THE_MATCH = 3

Function = ast.FunctionDef | ast.AsyncFunctionDef


def production_modules() -> Iterator[Path]:
    for package in PRODUCTION:
        yield from sorted((ROOT / package).rglob("*.py"))


def is_exhaustive_fold(function: Function) -> bool:
    """A docstring, at most a few simple assignments, then one `match` ending in `case _`."""
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body or not isinstance(body[-1], ast.Match):
        return False
    prelude = body[:-1]
    if len(prelude) > MAX_LINES_BEFORE_THE_MATCH:
        return False
    if not all(isinstance(s, ast.Assign | ast.AnnAssign) for s in prelude):
        return False
    last = body[-1].cases[-1]
    return isinstance(last.pattern, ast.MatchAs) and last.pattern.pattern is None


def too_long(source: str, filename: str = "<source>") -> list[str]:
    """Every function of the source over the limit that is not an exhaustive fold."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not is_exhaustive_fold(node):
                found.append(f"{filename}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_the_checks_walk_the_production_packages() -> None:
    modules = list(production_modules())
    assert len(modules) > 100
    assert {p.relative_to(ROOT).parts[0] for p in modules} == set(PRODUCTION)


@pytest.mark.parametrize("package", PRODUCTION)
def test_no_production_module_is_over_600_lines(package: str) -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in sorted((ROOT / package).rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


@pytest.mark.parametrize("package", PRODUCTION)
def test_no_production_function_is_over_80_lines_except_exhaustive_folds(package: str) -> None:
    found = [
        line
        for p in sorted((ROOT / package).rglob("*.py"))
        for line in too_long(p.read_text(), str(p.relative_to(ROOT)))
    ]
    assert not found, found


def _function(statements: list[str], *, prelude: Sequence[str] = ()) -> str:
    lines = ["def fold(state, event):", '    """A fold."""', *(f"    {s}" for s in prelude)]
    return "\n".join([*lines, *(f"    {s}" for s in statements)]) + "\n"


def test_a_long_function_is_found() -> None:
    source = _function([f"x{i} = {i}" for i in range(90)])
    assert too_long(source) == ["<source>:1 fold (92 lines)"]


CASES = [line for i in range(45) for line in (f"    case {i}:", f"        return {i}")]
WILDCARD = ["    case _:", "        return state"]


def test_a_long_exhaustive_match_fold_is_allowed_but_not_one_without_a_wildcard() -> None:
    assert too_long(_function(["match event:", *CASES, *WILDCARD])) == []
    assert too_long(_function(["match event:", *CASES])) == ["<source>:1 fold (93 lines)"]


def test_a_long_function_with_work_before_its_match_is_found() -> None:
    work = [f"step{i}()" for i in range(4)]
    source = _function(["match event:", *CASES, *WILDCARD], prelude=work)
    assert too_long(source) == ["<source>:1 fold (99 lines)"]
