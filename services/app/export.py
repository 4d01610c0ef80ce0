"""The analysts' export: the event stream as partitioned Parquet (or NDJSON), resumable.

    DIR/_manifest.json                              where the last run ended, counts, row kind
    DIR/events/part-<first>-<last>.parquet          the envelope of every event
    DIR/<EventType>/part-<first>-<last>.parquet     one table per type, its data fields as columns

`<first>-<last>` are the global positions a run's chunk covered (zero-padded, so names sort in
stream order); every table of one chunk carries the same range. pandas
(`read_parquet("DIR/events")`), polars (`scan_parquet("DIR/events/*.parquet")`) and DuckDB
(`read_parquet('DIR/events/*.parquet')`) read a table directly; every part of a table has the
same schema, derived from the event contract (domain/catalogue.py) and, for de-identified rows,
from the de-identification policy (domain/deidentify.py FIELD_POLICY), never from the data.

Rows are what the caller may see, made by a function passed in: de-identified rows (keyed
pseudonyms, shifted dates, no free text or direct identifiers) or the audit skeleton (envelope
only: then the per-type tables are not written). A run continues after the manifest's last
position: parts are written under temporary names and renamed, and the manifest is replaced
after each chunk, so a crash leaves at most parts beyond the manifest, which the next run
removes before it writes them again — no event is exported twice or skipped.
"""

from __future__ import annotations

import os
import re
import sys
import time
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO
from uuid import UUID

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pydantic
from pydantic import BaseModel

from domain.catalogue import EVENT_CLASSES, data_class_of
from domain.deidentify import FIELD_POLICY, Treatment
from domain.recorded import Recorded

MANIFEST = "_manifest.json"
EVENTS_TABLE = "events"
PART = re.compile(r"^part-(\d{12})-(\d{12})\.(parquet|ndjson)$")
MANIFEST_VERSION = 1

Format = Literal["parquet", "ndjson"]
Row = dict[str, Any]
Rows = Callable[[Recorded], Row]


class RowKind(StrEnum):
    """What each exported row shows (services/app/replay.py makes the same rows for the stream)."""

    DEIDENTIFIED = "deidentified"
    SKELETON = "skeleton"


class StreamSource(Protocol):
    """The global order of stored events (the event store satisfies it)."""

    def read(self, *, after: int = 0, limit: int = 1000) -> list[Recorded]: ...

    def head(self) -> int: ...


class ExportRefused(Exception):
    """The directory holds another export, or the run was asked for something unsafe."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- schemas

TIMESTAMP = pa.timestamp("us", tz="UTC")

_ENVELOPE: tuple[tuple[str, pa.DataType], ...] = (
    ("position", pa.int64()),
    ("event_id", pa.string()),
    ("client_id", pa.string()),
    ("type", pa.string()),
    ("version", pa.int64()),
    ("schema_version", pa.int64()),
    ("occurred_at", TIMESTAMP),
    ("recorded_at", TIMESTAMP),
    ("actor_id", pa.string()),
    ("actor_role", pa.string()),
    ("actor_org", pa.string()),
    ("actor_kind", pa.string()),
    ("purpose_of_use", pa.string()),
    ("security_labels", pa.list_(pa.string())),
    ("erased", pa.bool_()),
)
# The envelope columns every per-type table starts with (the rest is in `events`).
_TYPE_KEYS = ("position", "event_id", "client_id", "version", "occurred_at", "recorded_at")

EVENTS_SCHEMA = pa.schema([pa.field(name, kind) for name, kind in _ENVELOPE])


def arrow_type(annotation: Any) -> pa.DataType:
    """The Arrow type of one field of the event contract; anything unusual becomes JSON text."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return arrow_type(args[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        kinds = {str(arrow_type(a)) for a in members}
        if len(kinds) == 1:
            return arrow_type(members[0])
        if kinds == {"int64", "bool"}:
            return pa.int64()  # instrument answers: item scores or yes/no
        return pa.string()
    if origin is Literal:
        return arrow_type(type(args[0]))
    if origin in (tuple, frozenset, list, set):
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            return pa.string()
        item = args[0]
        pair = typing.get_args(item)
        if typing.get_origin(item) is tuple and len(pair) == 2 and pair[1] is not Ellipsis:
            return pa.map_(arrow_type(pair[0]), arrow_type(pair[1]))
        return pa.list_(arrow_type(item))
    simple: Mapping[Any, pa.DataType] = {
        str: pa.string(),
        bool: pa.bool_(),
        int: pa.int64(),
        float: pa.float64(),
        UUID: pa.string(),
        datetime: TIMESTAMP,
        date: pa.date32(),
        # pydantic's constrained date-times and dates are not datetime or date subclasses
        pydantic.AwareDatetime: TIMESTAMP,
        pydantic.PastDatetime: TIMESTAMP,
        pydantic.PastDate: pa.date32(),
    }
    if annotation in simple:
        return simple[annotation]
    return pa.string()


def _data_model(event_type: str) -> type[BaseModel]:
    model: type[BaseModel] = EVENT_CLASSES[event_type].model_fields["data"].annotation  # type: ignore[assignment]
    return model


def deidentified_columns(event_type: str) -> list[pa.Field]:
    """The data columns of a type's de-identified rows: what FIELD_POLICY keeps, as it keeps it."""
    out = []
    for name, info in _data_model(event_type).model_fields.items():
        kind = arrow_type(info.annotation)
        match FIELD_POLICY.get(name, Treatment.DROP):
            case Treatment.KEEP | Treatment.DATE:
                out.append(pa.field(name, kind))
            case Treatment.STAFF | Treatment.OPAQUE:
                out.append(pa.field(name, pa.string()))
            case Treatment.EVENT:
                listed = pa.types.is_list(kind)
                out.append(pa.field(name, pa.list_(pa.string()) if listed else pa.string()))
            case Treatment.COUNT:
                out.append(pa.field(f"{name}_count", pa.int64()))
            case Treatment.DROP:
                pass
    return out


def type_schema(event_type: str) -> pa.Schema:
    """A per-type table: the envelope keys, then the type's de-identified data columns."""
    envelope = dict(_ENVELOPE)
    keys = [pa.field(name, envelope[name]) for name in _TYPE_KEYS]
    data = deidentified_columns(event_type)
    clash = {f.name for f in keys} & {f.name for f in data}
    if clash:
        raise ValueError(f"{event_type} data fields clash with envelope columns: {sorted(clash)}")
    return pa.schema(keys + data)


# --------------------------------------------------------------------------- columns


def _envelope_values(row: Row) -> dict[str, Any]:
    actor = row.get("actor") or {}
    return {
        **{name: row.get(name) for name, _ in _ENVELOPE},
        "actor_id": actor.get("id"),
        "actor_role": actor.get("role"),
        "actor_org": actor.get("org"),
        "actor_kind": actor.get("kind"),
    }


def _to_json_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _as_int(value: Any) -> Any:
    return value if value is None else int(value)


def _converter(kind: pa.DataType) -> Callable[[Any], Any] | None:
    """How a JSON value becomes what pyarrow takes for this column (None: as it is)."""
    if pa.types.is_string(kind):
        return _to_json_text
    if pa.types.is_integer(kind):
        return _as_int
    if pa.types.is_list(kind) and pa.types.is_integer(kind.value_type):
        return lambda v: None if v is None else [int(x) for x in v]
    if pa.types.is_map(kind):
        return lambda v: None if v is None else [(k, val) for k, val in v]
    return None


@dataclass
class _Table:
    """One table's columns for the chunk being exported."""

    schema: pa.Schema
    columns: dict[str, list[Any]] = field(default_factory=dict)
    rows: int = 0

    def __post_init__(self) -> None:
        self.columns = {f.name: [] for f in self.schema}
        self._slots = [
            (f.name, self.columns[f.name].append, _converter(f.type)) for f in self.schema
        ]

    def add(self, values: Mapping[str, Any]) -> None:
        for name, append, convert in self._slots:
            value = values.get(name)
            append(value if convert is None or value is None else convert(value))
        self.rows += 1

    def arrow(self) -> pa.Table:
        arrays = []
        for f in self.schema:
            values = self.columns[f.name]
            if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type):
                # ISO text (with offsets) parsed in one vectorized cast
                arrays.append(pa.array(values, type=pa.string()).cast(f.type))
            else:
                arrays.append(pa.array(values, type=f.type))
        return pa.Table.from_arrays(arrays, schema=self.schema)


# --------------------------------------------------------------------------- manifest


@dataclass
class Manifest:
    """What DIR holds: the format, the kind of rows, the key's check value, where it ended."""

    format: Format
    rows: RowKind
    key_check: str | None
    last_position: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, directory: Path) -> Manifest | None:
        path = directory / MANIFEST
        if not path.exists():
            return None
        body = orjson.loads(path.read_bytes())
        if body.get("manifest_version") != MANIFEST_VERSION:
            raise ExportRefused(
                "manifest_version", f"{directory} holds an export of another version."
            )
        return cls(
            format=body["format"],
            rows=RowKind(body["rows"]),
            key_check=body.get("key_check"),
            last_position=int(body["last_position"]),
            counts={str(k): int(v) for k, v in body.get("counts", {}).items()},
            runs=list(body.get("runs", [])),
        )

    def write(self, directory: Path) -> None:
        body = {
            "manifest_version": MANIFEST_VERSION,
            "format": self.format,
            "rows": str(self.rows),
            "key_check": self.key_check,
            "last_position": self.last_position,
            "counts": dict(sorted(self.counts.items())),
            "runs": self.runs,
        }
        _atomic_write(directory / MANIFEST, orjson.dumps(body, option=orjson.OPT_INDENT_2))


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


# --------------------------------------------------------------------------- progress


class Progress(Protocol):
    def update(self, done: int) -> None: ...

    def finish(self, done: int) -> None: ...


class ProgressLine:
    """A percentage line on stderr: redrawn in place on a terminal, every 10% otherwise."""

    def __init__(
        self, total: int, out: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = max(total, 0)
        self.out = out if out is not None else sys.stderr  # the stream at run time, not import
        self.clock = clock
        self.started = clock()
        self.tty = self.out.isatty()
        self._last_tenth = -1

    def _line(self, done: int) -> str:
        seconds = max(self.clock() - self.started, 1e-9)
        share = 100.0 if self.total == 0 else min(100.0, 100.0 * done / self.total)
        return (
            f"export {share:5.1f}%  {done:,}/{self.total:,} events  {done / seconds:,.0f} events/s"
        )

    def update(self, done: int) -> None:
        if self.tty:
            self.out.write("\r" + self._line(done))
            self.out.flush()
            return
        tenth = 10 if self.total == 0 else min(10, 10 * done // max(self.total, 1))
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            self.out.write(self._line(done) + "\n")
            self.out.flush()

    def finish(self, done: int) -> None:
        if self.tty:
            self.out.write("\r" + self._line(done) + "\n")
        elif self._last_tenth < 10:
            self.out.write(self._line(done) + "\n")
        self.out.flush()


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class ExportOptions:
    directory: Path
    format: Format = "parquet"
    after: int | None = None
    chunk_events: int = 100_000  # events per part file (per table)
    page: int = 2000  # events per read from the store


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What one run exported: the positions it covered, counts per type, files, time."""

    after: int
    last_position: int
    events: int
    counts: Mapping[str, int]
    files: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def export_stream(
    source: StreamSource,
    rows: Rows,
    kind: RowKind,
    options: ExportOptions,
    *,
    key_check: str | None = None,
    progress: Callable[[int], Progress] | None = None,
    before_write: Callable[[Mapping[UUID, frozenset[str]]], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExportSummary:
    """Export every event after the manifest's position (or `options.after` in a new DIR).

    `rows` turns a stored event into what the caller may see; `before_write` is told, before
    each chunk's files are written, which clients they show and which data classes of each (the
    access log); `key_check` identifies the pseudonym key, so a later run under another key
    (whose pseudonyms would not join) is refused.
    """
    directory = options.directory
    directory.mkdir(parents=True, exist_ok=True)
    manifest = _open_manifest(directory, options, kind, key_check)
    after = manifest.last_position
    _remove_parts_after(directory, after)
    started = time.perf_counter()
    head = source.head()
    meter = progress(max(head - after, 0)) if progress is not None else None
    writer = _ChunkWriter(directory, options.format, kind)
    counts: Counter[str] = Counter()
    shown: dict[UUID, set[str]] = {}
    done, files, position = 0, 0, after
    chunk_first: int | None = None

    def write_chunk(first: int, last: int) -> int:
        if before_write is not None:
            before_write({client: frozenset(classes) for client, classes in shown.items()})
        shown.clear()
        written = writer.flush(first, last)
        _advance(manifest, directory, last, writer.flushed_counts)
        return written

    while True:
        page = source.read(after=position, limit=options.page)
        if not page:
            break
        for item in page:
            event = item.event
            writer.add(rows(item), event.type)
            counts[event.type] += 1
            shown.setdefault(event.client_id, set()).add(data_class_of(event.type))
        if chunk_first is None:
            chunk_first = page[0].position
        position = page[-1].position
        done += len(page)
        if writer.rows >= options.chunk_events:
            files += write_chunk(chunk_first, position)
            chunk_first = None
        if meter is not None:
            meter.update(done)
    if chunk_first is not None:
        files += write_chunk(chunk_first, position)
    seconds = time.perf_counter() - started
    manifest.runs.append(
        {
            "at": clock().isoformat(),
            "after": after,
            "last_position": position,
            "events": done,
            "seconds": round(seconds, 3),
        }
    )
    manifest.write(directory)
    if meter is not None:
        meter.finish(done)
    return ExportSummary(after, position, done, dict(sorted(counts.items())), files, seconds)


def _open_manifest(
    directory: Path, options: ExportOptions, kind: RowKind, key_check: str | None
) -> Manifest:
    manifest = Manifest.read(directory)
    if manifest is None:
        if any(p for p in directory.iterdir() if not p.name.startswith(".")):
            raise ExportRefused(
                "directory_not_empty", f"{directory} holds files but no export manifest."
            )
        manifest = Manifest(options.format, kind, key_check, last_position=options.after or 0)
        manifest.write(directory)
        return manifest
    if manifest.format != options.format or manifest.rows != kind:
        raise ExportRefused(
            "export_mismatch",
            f"{directory} holds a {manifest.format} export of {manifest.rows} rows; "
            f"this run asked for {options.format} with {kind} rows.",
        )
    if manifest.key_check != key_check:
        raise ExportRefused(
            "key_mismatch", f"{directory} was exported under another de-identification key."
        )
    if options.after is not None and options.after != manifest.last_position:
        raise ExportRefused(
            "after_mismatch",
            f"DIR continues after position {manifest.last_position}; "
            "--after starts a new directory.",
        )
    return manifest


def _advance(manifest: Manifest, directory: Path, position: int, flushed: Counter[str]) -> None:
    manifest.last_position = position
    for name, count in flushed.items():
        manifest.counts[name] = manifest.counts.get(name, 0) + count
    flushed.clear()
    manifest.write(directory)


def _parts(directory: Path) -> Iterable[tuple[Path, int]]:
    for table in directory.iterdir():
        if not table.is_dir():
            continue
        for part in table.iterdir():
            match = PART.match(part.name)
            if match is not None:
                yield part, int(match.group(1))


def _remove_parts_after(directory: Path, position: int) -> None:
    """Parts a crashed run wrote beyond the manifest, and its temporary files: gone."""
    for part, first in _parts(directory):
        if first > position:
            part.unlink()
    for table in directory.iterdir():
        if table.is_dir():
            for stale in table.glob(".part-*.tmp"):
                stale.unlink()


class _ChunkWriter:
    """Rows of the chunk being exported, by table, written out as one part per table."""

    def __init__(self, directory: Path, fmt: Format, kind: RowKind) -> None:
        self.directory = directory
        self.format = fmt
        self.kind = kind
        self.events = _Table(EVENTS_SCHEMA)
        self.by_type: dict[str, _Table] = {}
        self.lines: list[bytes] = []
        self.pending: Counter[str] = Counter()
        self.flushed_counts: Counter[str] = Counter()

    @property
    def rows(self) -> int:
        return self.events.rows if self.format == "parquet" else len(self.lines)

    def add(self, row: Row, event_type: str) -> None:
        self.pending[event_type] += 1
        if self.format == "ndjson":
            self.lines.append(orjson.dumps(row) + b"\n")
            return
        envelope = _envelope_values(row)
        self.events.add(envelope)
        if self.kind is RowKind.SKELETON:
            return
        table = self.by_type.get(event_type)
        if table is None:
            table = self.by_type[event_type] = _Table(type_schema(event_type))
        data = row.get("data") or {}
        table.add({**data, **{name: envelope[name] for name in _TYPE_KEYS}})

    def flush(self, first: int, last: int) -> int:
        """Write the chunk's parts; answers how many files were written."""
        name = f"part-{first:012d}-{last:012d}.{self.format}"
        files = 0
        if self.format == "ndjson":
            _write_part(self.directory / EVENTS_TABLE, name, b"".join(self.lines))
            self.lines = []
            files = 1
        else:
            _write_table(self.directory / EVENTS_TABLE, name, self.events.arrow())
            files = 1
            for event_type, table in sorted(self.by_type.items()):
                _write_table(self.directory / event_type, name, table.arrow())
                files += 1
            self.events = _Table(EVENTS_SCHEMA)
            self.by_type = {}
        self.flushed_counts.update(self.pending)
        self.pending = Counter()
        return files


def _write_table(table_dir: Path, name: str, table: pa.Table) -> None:
    table_dir.mkdir(parents=True, exist_ok=True)
    temporary = table_dir / f".{name}.tmp"
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, table_dir / name)


def _write_part(table_dir: Path, name: str, data: bytes) -> None:
    table_dir.mkdir(parents=True, exist_ok=True)
    temporary = table_dir / f".{name}.tmp"
    temporary.write_bytes(data)
    os.replace(temporary, table_dir / name)


def summary_lines(summary: ExportSummary, directory: Path) -> list[str]:
    """The end-of-run summary: counts per type, the range, the rate."""
    width = max((len(t) for t in summary.counts), default=10)
    lines = [
        f"exported {summary.events:,} events after position {summary.after:,} "
        f"(to {summary.last_position:,}) into {directory} in {summary.seconds:.1f} s "
        f"({summary.rate:,.0f} events/s, {summary.files} files)"
    ]
    lines.extend(f"  {name:<{width}}  {count:>10,}" for name, count in summary.counts.items())
    return lines
