"""`carecircle worker ingest --processes N` scales ingest by partitions (one consumer group);
the other roles follow one position each and refuse more than one process."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from services.cli.main import build_parser
from services.settings import Settings


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """`main` configures logging onto the captured stdout; later tests must not write to it
    once pytest has closed it (the first integration test's log line failed on it)."""
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_the_ingest_worker_takes_a_number_of_processes() -> None:
    args = build_parser().parse_args(["worker", "ingest", "--processes", "3"])
    assert (args.role, args.processes) == ("ingest", 3)


@pytest.mark.parametrize("role", ["projections", "publish"])
def test_other_roles_refuse_several_processes(
    role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["worker", role, "--processes", "2"])
    assert args.run(args, Settings()) == 2
    assert "ingest role only" in capsys.readouterr().err
