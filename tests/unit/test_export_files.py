"""The export's files (services/app/export.py) over a fake stream: schemas, resuming, refusals."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from domain.catalogue import EVENT_TYPES
from domain.deidentify import Deidentifier
from domain.recorded import Recorded
from services.app.export import (
    ExportOptions,
    ExportRefused,
    ProgressLine,
    RowKind,
    export_stream,
    type_schema,
)
from tests.unit import builders as b

KEY = b"unit-test-deidentification-key-0123"


class FakeStream:
    """The store's global order, in memory (a port of our own: unit tests only)."""

    def __init__(self, items: list[Recorded]) -> None:
        self.items = items

    def read(self, *, after: int = 0, limit: int = 1000) -> list[Recorded]:
        return [r for r in self.items if r.position > after][:limit]

    def head(self) -> int:
        return self.items[-1].position if self.items else 0


def history(count: int) -> list[Recorded]:
    events = [b.enrolled(), b.assigned()]
    events += [b.check_in(occurred_at=b.T0 + timedelta(hours=h)) for h in range(count)]
    return b.stored(*events)


def export(items: list[Recorded], directory: Path, **options: object) -> int:
    summary = export_stream(
        FakeStream(items),
        Deidentifier(KEY).recorded,
        RowKind.DEIDENTIFIED,
        ExportOptions(directory=directory, page=7, **options),  # type: ignore[arg-type]
        key_check="k1",
    )
    return summary.events


def rows_in(directory: Path, table: str) -> int:
    return sum(pq.read_metadata(p).num_rows for p in (directory / table).glob("part-*.parquet"))


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_has_a_table_schema_without_clashes(event_type: str) -> None:
    schema = type_schema(event_type)
    assert schema.names[:2] == ["position", "event_id"]
    assert len(set(schema.names)) == len(schema.names)
    assert not {"given_name", "family_name", "birth_date", "phone", "note"} & set(schema.names)


def test_a_resumed_export_adds_exactly_the_new_events(tmp_path: Path) -> None:
    items = history(30)
    assert export(items[:20], tmp_path, chunk_events=8) == 20
    assert export(items, tmp_path, chunk_events=8) == len(items) - 20
    assert rows_in(tmp_path, "events") == len(items)
    assert rows_in(tmp_path, "CheckInRecorded") == 30


def test_parts_a_crashed_run_left_beyond_the_manifest_are_replaced_not_doubled(
    tmp_path: Path,
) -> None:
    # given an export that ended at position 1010, and a part a crashed run wrote after it
    items = history(20)
    export(items[:10], tmp_path)
    assert items[9].position == 1010
    stray = tmp_path / "events" / "part-000000001011-000000001015.parquet"
    stray.write_bytes(b"not parquet")
    # when the next run goes on
    export(items, tmp_path)
    # then the stray part is gone and every event is there once
    assert not stray.exists()
    assert rows_in(tmp_path, "events") == len(items)


def test_a_directory_of_another_key_or_a_different_start_is_refused(tmp_path: Path) -> None:
    items = history(3)
    export(items, tmp_path)
    with pytest.raises(ExportRefused) as after:
        export(items, tmp_path, after=0)
    assert after.value.code == "after_mismatch"
    with pytest.raises(ExportRefused) as kind:
        export_stream(
            FakeStream(items),
            Deidentifier(KEY).recorded,
            RowKind.DEIDENTIFIED,
            ExportOptions(directory=tmp_path),
            key_check="another key",
        )
    assert kind.value.code == "key_mismatch"


def test_the_progress_line_reports_each_tenth_when_not_a_terminal() -> None:
    out = io.StringIO()
    line = ProgressLine(100, out=out, clock=iter(float(i) for i in range(100)).__next__)
    for done in range(0, 101, 5):
        line.update(done)
    line.finish(100)
    shown = out.getvalue().splitlines()
    assert len(shown) == 11
    assert shown[-1].startswith("export 100.0%  100/100 events")


def test_an_ndjson_export_writes_one_deidentified_line_per_event(tmp_path: Path) -> None:
    items = history(5)
    export(items, tmp_path, format="ndjson")
    lines = [
        line
        for part in sorted((tmp_path / "events").glob("part-*.ndjson"))
        for line in part.read_text().splitlines()
    ]
    assert len(lines) == len(items)
    assert all('"client_id":"c-' in line for line in lines)
    assert not any("Test" in line for line in lines)  # the builder's given name
