"""The audit's use cases: verify both chains, anchor their heads outside the database, and
verify against those anchors (`carecircle audit verify|anchor`).

Two chains are kept: the audit trail (projections/audit_trail.py, every recorded event) and the
access log (services/adapters/access_log.py, every read and refusal). Both are HMAC-keyed under
`CARE_AUDIT_KEY`, so an edit with every later hash recomputed does not verify without the key.
What a chain cannot show by itself is that its END is where it was: deleting the last rows, all
rows, or the store's tail with its audit rows leaves a shorter chain that verifies. An anchor
is a signed checkpoint of one chain — its position (the event position, or the access log's
entry id), how many entries it held up to there, and its head hash — written OUTSIDE the
database (a JSON-lines file, or the anchors topic). `verify` with anchors then demands that each
chain still reaches each anchored position with the same count and head: a chain cut back,
emptied, or recomputed (even by someone holding the key, for anything before an anchor) fails.

An anchor is signed with HMAC-SHA256 under a key derived from the audit key, so anchors cannot
be forged by someone who can only write where they are kept; and an anchor is only taken of a
chain that verifies, so tampering is never signed.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import orjson
import structlog
from psycopg.sql import SQL

from projections.audit_trail import AUDIT_TRAIL, GENESIS
from projections.audit_verify import Scope, Verdict, verify
from projections.engine import POSITIONS, Pool, versions_of
from services.adapters.access_log import GENESIS as ACCESS_GENESIS
from services.adapters.access_log import AccessLog, ChainCheck
from services.adapters.store import EVENTS_TABLE, INDEX_TABLE

Chain = Literal["audit_trail", "access_log"]
CHAINS: tuple[Chain, ...] = ("audit_trail", "access_log")
_ANCHOR_CONTEXT = b"carecircle audit anchor v1"

log = structlog.get_logger(__name__)


class AnchorError(ValueError):
    """An anchors file that cannot be read (not JSON, fields missing)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """A signed checkpoint of one chain: position, entries up to it, and the head hash."""

    chain: Chain
    position: int
    count: int
    head: str  # hex
    at: datetime
    signature: str = ""

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "chain": self.chain,
                "position": self.position,
                "count": self.count,
                "head": self.head,
                "at": self.at.isoformat(),
            },
            option=orjson.OPT_SORT_KEYS,
        )

    def signed(self, key: bytes) -> Anchor:
        return Anchor(self.chain, self.position, self.count, self.head, self.at, _sign(key, self))

    def genuine(self, key: bytes) -> bool:
        return hmac.compare_digest(self.signature, _sign(key, self))

    def line(self) -> str:
        """The anchor as one JSON line (its body and signature)."""
        body = orjson.loads(self.body())
        return orjson.dumps({**body, "signature": self.signature}).decode()

    @classmethod
    def of_line(cls, line: str) -> Anchor:
        try:
            data = orjson.loads(line)
            chain = data["chain"]
            if chain not in CHAINS:
                raise AnchorError(f"unknown chain {chain!r}")
            return cls(
                chain=chain,
                position=int(data["position"]),
                count=int(data["count"]),
                head=str(data["head"]),
                at=datetime.fromisoformat(data["at"]),
                signature=str(data["signature"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise AnchorError(f"not an anchor: {type(error).__name__}") from error


def _sign(key: bytes, anchor: Anchor) -> str:
    anchor_key = hmac.new(key, _ANCHOR_CONTEXT, hashlib.sha256).digest()
    return hmac.new(anchor_key, anchor.body(), hashlib.sha256).hexdigest()


def read_anchors(lines: Iterable[str]) -> list[Anchor]:
    return [Anchor.of_line(line) for line in lines if line.strip()]


# --- verify ---------------------------------------------------------------------------------------


def verify_trail(pool: Pool, key: bytes, *, at: Sequence[int] = ()) -> Verdict:
    """The audit trail's live version against the store and its own position, in one snapshot."""
    with pool.connection() as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        live = versions_of(conn, AUDIT_TRAIL.name).live
        row = conn.execute(
            SQL("SELECT position FROM {} WHERE name = %s AND version = %s").format(POSITIONS),
            (AUDIT_TRAIL.name, live),
        ).fetchone()
        scope = Scope(
            tables=AUDIT_TRAIL.tables_of(live),
            version=live,
            events_table=EVENTS_TABLE,
            index_table=INDEX_TABLE,
            key=key,
            projected=None if row is None else int(row["position"]),
        )
        return verify(conn, scope, at=frozenset(at))


@dataclass(frozen=True, slots=True)
class AnchorFinding:
    """An anchor the chains no longer agree with."""

    anchor: Anchor
    problem: Literal["forged", "truncated", "rewritten"]
    detail: str

    def line(self) -> str:
        return (
            f"{self.anchor.chain} fails its anchor of {self.anchor.at.isoformat()} at position"
            f" {self.anchor.position}: {self.problem} ({self.detail})"
        )


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Both chains checked, and each anchor held against them."""

    trail: Verdict
    access: ChainCheck
    anchors_checked: int = 0
    findings: list[AnchorFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.trail.ok and self.access.ok and not self.findings


def verify_all(
    pool: Pool, access_log: AccessLog, key: bytes, anchors: Sequence[Anchor] = ()
) -> AuditReport:
    """Verify the audit trail and the access log, then every anchor against them."""
    trail_at = [a.position for a in anchors if a.chain == "audit_trail"]
    access_at = [a.position for a in anchors if a.chain == "access_log"]
    trail = verify_trail(pool, key, at=trail_at)
    access = access_log.verify(at=frozenset(access_at))
    findings: list[AnchorFinding] = []
    for anchor in anchors:
        broken = not (trail.ok if anchor.chain == "audit_trail" else access.ok)
        if broken and anchor.genuine(key):
            continue  # the chain's own failure is the finding
        finding = _hold(anchor, key, trail, access)
        if finding is not None:
            findings.append(finding)
    return AuditReport(trail, access, len(anchors), findings)


def _hold(anchor: Anchor, key: bytes, trail: Verdict, access: ChainCheck) -> AnchorFinding | None:
    if not anchor.genuine(key):
        return AnchorFinding(anchor, "forged", "its signature does not verify under the key")
    if anchor.count == 0:
        return None  # an anchor of an empty chain: anything since extends it
    if anchor.chain == "audit_trail":
        found = trail.heads.get(anchor.position)
        state = None if found is None else (found.count, found.hash.hex())
        last = trail.last_position
    else:
        held = access.heads.get(anchor.position)
        state = None if held is None else (held.count, held.hash)
        last = access.head.entry_id if access.head is not None else 0
    if state is None:
        if anchor.position > last:
            return AnchorFinding(
                anchor,
                "truncated",
                f"the chain ends at {last}, it held {anchor.count} entries up to the anchor",
            )
        return AnchorFinding(anchor, "rewritten", "the anchored entry is gone from the chain")
    if state != (anchor.count, anchor.head):
        return AnchorFinding(
            anchor, "rewritten", f"{state[0]} entries up to it now, {anchor.count} anchored"
        )
    return None


# --- anchor ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Anchoring:
    """The anchors taken, or why none were (a chain that does not verify is never anchored)."""

    anchors: list[Anchor]
    refused: AuditReport | None = None


def take_anchors(
    pool: Pool, access_log: AccessLog, key: bytes, clock: Callable[[], datetime]
) -> Anchoring:
    """Verify both chains and, when they hold, sign a checkpoint of each one's head."""
    report = verify_all(pool, access_log, key)
    if not report.ok:
        return Anchoring([], refused=report)
    at = clock()
    trail, access = report.trail.head, report.access.head
    anchors = [
        Anchor(
            "audit_trail",
            position=trail.position if trail else 0,
            count=trail.count if trail else 0,
            head=(trail.hash if trail else GENESIS).hex(),
            at=at,
        ),
        Anchor(
            "access_log",
            position=access.entry_id if access else 0,
            count=access.count if access else 0,
            head=access.hash if access else ACCESS_GENESIS,
            at=at,
        ),
    ]
    return Anchoring([anchor.signed(key) for anchor in anchors])


def report_lines(report: AuditReport) -> list[str]:
    """What `carecircle audit verify` prints."""
    lines = [verdict_line(report.trail), report.access.line()]
    if report.anchors_checked:
        held = report.anchors_checked - len(report.findings)
        lines.append(f"anchors: {held} of {report.anchors_checked} hold")
    lines.extend(finding.line() for finding in report.findings)
    return lines


def verdict_line(verdict: Verdict) -> str:
    if verdict.ok:
        return (
            f"audit trail verified: {verdict.checked} entries up to position "
            f"{verdict.last_position}; {verdict.unchained} stored events not chained yet"
        )
    return (
        f"audit trail broken at position {verdict.position}: {verdict.problem} "
        f"({verdict.detail}); {verdict.checked} entries before it verified"
    )


# --- anchoring periodically -----------------------------------------------------------------------


def anchor_every(
    every_s: float,
    take: Callable[[], Anchoring],
    keep: Callable[[Sequence[Anchor]], None],
    stop: threading.Event,
    *,
    transient: tuple[type[BaseException], ...],
) -> None:
    """Anchor both chains now and every `every_s` seconds until `stop` (the `anchor` worker).

    A round that cannot reach the database or where anchors are kept is logged and tried again
    at the next; a chain that does not verify is never anchored, and that is logged as an error
    each round (the operator runs `carecircle audit verify` to see where)."""
    while not stop.is_set():
        try:
            taken = take()
            if taken.refused is not None:
                log.error("audit.anchor_refused", chains_ok=False)
            else:
                keep(taken.anchors)
                for anchor in taken.anchors:
                    log.info(
                        "audit.anchored",
                        chain=anchor.chain,
                        position=anchor.position,
                        count=anchor.count,
                    )
        except transient as error:
            log.warning("audit.anchor_failed", error_type=type(error).__name__)
        stop.wait(every_s)
