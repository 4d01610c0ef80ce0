"""The recipes of docs/analysts.md and README.md run as written.

Given a small demo stack (demo data recorded through the command path, the API served), every
fenced `sh`/`bash` block of docs/analysts.md, and README.md's examples (every block but those
that start the stack itself with `./dev`), runs with bash from a working directory that looks
like a checkout after `./dev up` (its `.venv` is this one). The one change made to a block:
README's `localhost:8000` becomes the test server's address.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from demo.simulate import run_simulation
from services.settings import Settings
from services.wiring import Runtime, build_api, build_runtime, migrate
from tests.integration.http_support import live_server

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(sh|bash)\n(.*?)^```", re.S | re.M)


def blocks(page: str) -> list[str]:
    text = (REPO / page).read_text()
    return [body for _, body in FENCE.findall(text) if not body.lstrip().startswith("./dev")]


@pytest.fixture(scope="module")
def demo_stack(database_url: str) -> Iterator[tuple[Runtime, str]]:
    settings = Settings(database_url=database_url)
    runtime = build_runtime(settings, database_url)
    migrate(runtime)
    start = (datetime.now(UTC) - timedelta(days=6)).replace(microsecond=0)
    run_simulation(runtime.handler, clients=3, days=5, seed=7, start=start)
    with live_server(build_api(runtime)) as base:
        yield runtime, base
    runtime.close()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A working directory shaped like the repository after `./dev up`: `.venv` is there."""
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    return tmp_path


def run(block: str, cwd: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    env["CARE_DATABASE_URL"] = database_url
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_every_shell_block_of_the_analysts_page_runs_as_written(
    demo_stack: tuple[Runtime, str], checkout: Path, database_url: str
) -> None:
    recipes = blocks("docs/analysts.md")
    assert len(recipes) >= 3
    # when the analyst runs each block in turn, in one checkout
    for recipe in recipes:
        done = run(recipe, checkout, database_url)
        # then each succeeds
        assert done.returncode == 0, f"{recipe}\n---\n{done.stdout}\n{done.stderr}"
    # and the export landed as the page says, with date-times typed as timestamps
    import pyarrow.parquet as pq

    events = pq.read_schema(next((checkout / "lake" / "events").glob("*.parquet")))
    assert str(events.field("occurred_at").type) == "timestamp[us, tz=UTC]"
    scheduled = list((checkout / "lake" / "AppointmentScheduled").glob("*.parquet"))
    if scheduled:
        schema = pq.read_schema(scheduled[0])
        assert str(schema.field("scheduled_for").type) == "timestamp[us, tz=UTC]"


def test_the_readme_s_examples_run_as_written(
    demo_stack: tuple[Runtime, str], checkout: Path, database_url: str
) -> None:
    _, base = demo_stack
    recipes = blocks("README.md")
    assert recipes
    for recipe in recipes:
        done = run(recipe.replace("localhost:8000", base), checkout, database_url)
        assert done.returncode == 0, f"{recipe}\n---\n{done.stdout}\n{done.stderr}"
        assert '"code"' not in done.stdout, done.stdout  # no problem came back
