"""The ledger: an embedded SQLite database of every run and every person's inputs and results.

The latest completed run of a period is that period's current result; earlier runs stay, so a
rerun loses nothing and an auditor can see what changed. The schema carries a version and is
brought up to date by numbered migrations when the ledger is opened.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import KpiExcelError

SCHEMA_VERSION = 4
DEFAULT_SCHEME = "main"  # the id of the main policy's rulebook, and of runs made before schemes
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL UNIQUE,
        period TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        rulebook_path TEXT NOT NULL,
        rulebook_sha256 TEXT NOT NULL,
        rulebook_text TEXT NOT NULL,
        files_total INTEGER NOT NULL,
        files_refused INTEGER NOT NULL,
        people_scored INTEGER NOT NULL,
        people_refused INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'completed'
    );
    CREATE INDEX runs_period ON runs (period, id);
    CREATE TABLE run_inputs (
        run INTEGER NOT NULL REFERENCES runs(id),
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE people (
        run INTEGER NOT NULL REFERENCES runs(id),
        period TEXT NOT NULL,
        emp_id TEXT NOT NULL,
        branch_code TEXT NOT NULL,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        status TEXT NOT NULL,
        total TEXT NOT NULL,
        grade TEXT NOT NULL,
        flags TEXT NOT NULL,
        decided TEXT NOT NULL,
        outcome TEXT NOT NULL,
        inputs TEXT NOT NULL,
        results TEXT NOT NULL
    );
    CREATE INDEX people_emp ON people (emp_id, run);
    CREATE INDEX people_run ON people (run);
    """,
    # Several schemes in one ledger: a run belongs to the scheme (rulebook id) it was scored by;
    # a period's current run is the scheme's own.
    2: """
    ALTER TABLE runs ADD COLUMN scheme TEXT NOT NULL DEFAULT 'main';
    CREATE INDEX runs_scheme_period ON runs (scheme, period, id);
    """,
    # Appeals (appeal.py): each adjustment a run read, applied or refused, with its reason,
    # approver and date, and the value or outcome before and after.
    3: """
    CREATE TABLE adjustments (
        run INTEGER NOT NULL REFERENCES runs(id),
        period TEXT NOT NULL,
        emp_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        field TEXT NOT NULL,
        label TEXT NOT NULL,
        before TEXT NOT NULL,
        after TEXT NOT NULL,
        reason TEXT NOT NULL,
        approver TEXT NOT NULL,
        approved_on TEXT NOT NULL,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        refusal TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX adjustments_run ON adjustments (run);
    CREATE INDEX adjustments_emp ON adjustments (emp_id, run);
    """,
    # Approval and reopening of a scheme's period, as events: the latest event of a period says
    # whether it is approved (`kind` approve or reopen, `run` the run concerned, `outputs` the
    # JSON object of output file -> sha256 at approval, `last_run` the highest runs.id when the
    # event was recorded, so that the ledger can be read as it was before a later run).
    4: """
    CREATE TABLE period_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scheme TEXT NOT NULL,
        period TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('approve', 'reopen')),
        run INTEGER NOT NULL REFERENCES runs(id),
        by_name TEXT NOT NULL,
        at TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        outputs TEXT NOT NULL DEFAULT '{}',
        last_run INTEGER NOT NULL
    );
    CREATE INDEX period_events_period ON period_events (scheme, period, id);
    """,
}


class LedgerError(KpiExcelError):
    """The ledger file cannot be opened or is newer than this kpi-excel."""


@dataclass(frozen=True)
class RunRecord:
    id: int
    run_id: str
    period: str
    started_at: str
    finished_at: str
    people_scored: int
    people_refused: int
    files_total: int
    files_refused: int
    rulebook_sha256: str
    scheme: str = DEFAULT_SCHEME


APPROVE, REOPEN = "approve", "reopen"


@dataclass(frozen=True)
class PeriodEvent:
    """An approval or a reopening of a scheme's period (times in UTC, as kept)."""

    id: int
    scheme: str
    period: str
    kind: str  # APPROVE or REOPEN
    run: int  # the run's row id
    run_id: str
    by: str
    at: str
    note: str  # the approval's note, the reopening's reason
    outputs: dict[str, str]  # output file (relative to the period folder) -> sha256; approvals


class Ledger:
    """A connection to the ledger file; writes of one run happen in one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), isolation_level=None, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"无法打开台账 {path}: {exc}") from None
        self.db.execute("PRAGMA foreign_keys = ON")
        self.migrate()

    @classmethod
    def read_only(cls, path: Path) -> Ledger | None:
        """The ledger opened for reading only, as it is (not migrated, not a byte written), or
        None when it cannot be opened so."""
        book = cls.__new__(cls)
        book.path = path
        try:
            book.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
            book.db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except (OSError, ValueError, sqlite3.Error):
            return None
        return book

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> int:
        exists = self.db.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone()
        if not exists:
            return 0
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise LedgerError(f"台账 {self.path} 的版本({current})比本程序新,请升级 kpi-excel")
        for v in range(current + 1, SCHEMA_VERSION + 1):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[v].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(v),)
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- writing -------------------------------------------------------------------------

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        """A transaction is open (after `begin`, until `commit` or `rollback` succeeds)."""
        return self.db.in_transaction

    def add_run(
        self,
        run: dict[str, Any],
        inputs: Iterable[dict[str, Any]],
        people: Iterable[dict[str, Any]],
    ) -> int:
        """Insert one run with its inputs and people (inside the caller's transaction).

        A person's `inputs` and `results` are dicts, or their JSON text already encoded
        (`write.outputs.ledger_rows` builds it column by column), stored as given."""
        cur = self.db.execute(
            """INSERT INTO runs (run_id, period, started_at, finished_at, tool_version, rulebook_path,
               rulebook_sha256, rulebook_text, files_total, files_refused, people_scored, people_refused,
               scheme)
               VALUES (:run_id, :period, :started_at, :finished_at, :tool_version, :rulebook_path,
               :rulebook_sha256, :rulebook_text, :files_total, :files_refused, :people_scored, :people_refused,
               :scheme)""",
            {"scheme": DEFAULT_SCHEME, **run},
        )
        rid = int(cur.lastrowid or 0)
        self.db.executemany(
            "INSERT INTO run_inputs VALUES (?, ?, ?, ?, ?, ?)",
            [
                (rid, i["name"], i["size"], i["sha256"], i["status"], i.get("reason", ""))
                for i in inputs
            ],
        )
        period = run["period"]
        self.db.executemany(
            "INSERT INTO people VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    rid, period, p["emp_id"], p["branch_code"], p["name"], p["role"], p["status"],
                    p["total"], p["grade"], p["flags"], p["decided"], p["outcome"],
                    _json(p["inputs"]), _json(p["results"]),
                )
                for p in people
            ),
        )  # fmt: skip
        return rid

    def add_adjustments(self, run: int, period: str, rows: Iterable[dict[str, Any]]) -> None:
        """The adjustments a run read (appeal.py), applied or refused (inside the caller's
        transaction)."""
        self.db.executemany(
            f"INSERT INTO adjustments (run, period, {', '.join(_ADJUSTMENT_COLUMNS)})"
            f" VALUES (?, ?, {', '.join('?' * len(_ADJUSTMENT_COLUMNS))})",
            [(run, period, *(str(r.get(c, "")) for c in _ADJUSTMENT_COLUMNS)) for r in rows],
        )

    def adjustments_of(self, run: int) -> list[dict[str, Any]]:
        """The adjustments a run read, in the order it read them."""
        rows = self.db.execute(
            f"SELECT {', '.join(_ADJUSTMENT_COLUMNS)} FROM adjustments WHERE run=? ORDER BY rowid",
            (run,),
        ).fetchall()
        return [dict(zip(_ADJUSTMENT_COLUMNS, r, strict=True)) for r in rows]

    # -- reading -------------------------------------------------------------------------

    def current_run(
        self, period: str, scheme: str = DEFAULT_SCHEME, before: int | None = None
    ) -> RunRecord | None:
        """The period's current run of a scheme, or None: the run approved, while the period's
        latest approval is not followed by a reopening; else its latest completed run.

        `before` (a run's row id): the ledger as it was when that run was made (only runs and
        events recorded before it). Every reader of "the period's current run" asks here."""
        asof = before is not None
        event = self.db.execute(
            "SELECT kind, run FROM period_events WHERE scheme=:scheme AND period=:period"
            + (" AND last_run < :before" if asof else "")
            + " ORDER BY id DESC LIMIT 1",
            {"scheme": scheme, "period": period, "before": before},
        ).fetchone()
        if event is not None and event[0] == APPROVE:
            row = self.db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id=?", (event[1],)
            ).fetchone()
            return RunRecord(*row)
        row = self.db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE scheme=:scheme AND period=:period"
            " AND status='completed'"
            + (" AND id < :before" if asof else "")
            + " ORDER BY id DESC LIMIT 1",
            {"scheme": scheme, "period": period, "before": before},
        ).fetchone()
        return RunRecord(*row) if row else None

    def approval(self, period: str, scheme: str = DEFAULT_SCHEME) -> PeriodEvent | None:
        """The approval in force for the scheme's period (its latest event, if an approval)."""
        events = self.events(period, scheme)
        return events[-1] if events and events[-1].kind == APPROVE else None

    def events(self, period: str | None = None, scheme: str | None = None) -> list[PeriodEvent]:
        """Approvals and reopenings, oldest first; of one period (and scheme) if given."""
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE name='period_events'").fetchone():
            return []  # a ledger opened read-only, of a version before approvals: none yet
        where, args = [], []
        for column, value in (("e.period", period), ("e.scheme", scheme)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        rows = self.db.execute(
            """SELECT e.id, e.scheme, e.period, e.kind, e.run, r.run_id, e.by_name, e.at, e.note,
                      e.outputs
               FROM period_events e JOIN runs r ON r.id = e.run"""
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY e.id",
            args,
        ).fetchall()
        return [PeriodEvent(*r[:9], json.loads(r[9])) for r in rows]

    def add_event(
        self,
        kind: str,
        run: RunRecord,
        by: str,
        at: str,
        note: str = "",
        outputs: dict[str, str] | None = None,
    ) -> int:
        """Record an approval or a reopening of the run's period (inside the caller's
        transaction, or on its own)."""
        cur = self.db.execute(
            """INSERT INTO period_events (scheme, period, kind, run, by_name, at, note, outputs,
                                          last_run)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM runs))""",
            (run.scheme, run.period, kind, run.id, by, at, note,
             json.dumps(outputs or {}, ensure_ascii=False, sort_keys=True)),
        )  # fmt: skip
        return int(cur.lastrowid or 0)

    def has_run(self, run_id: str) -> bool:
        """The run is recorded (its transaction was committed)."""
        return (
            self.db.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone() is not None
        )

    def scored_branches(self, run: int) -> dict[str, tuple[str, int]]:
        """branch_code -> (branch name, people scored) of the branches a run scored someone of."""
        rows = self.db.execute(
            """SELECT g.branch_code, json_extract(p.results, '$.branch_name'), g.n
               FROM (SELECT branch_code, COUNT(*) AS n, MIN(rowid) AS first FROM people
                     WHERE run=? AND status='scored' GROUP BY branch_code) AS g
               JOIN people AS p ON p.rowid = g.first
               ORDER BY g.branch_code""",
            (run,),
        ).fetchall()
        return {str(code): ("" if name is None else str(name), int(n)) for code, name, n in rows}

    def runs(self) -> list[RunRecord]:
        rows = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id").fetchall()
        return [RunRecord(*r) for r in rows]

    def rulebook_text(self, run: int) -> str:
        return str(
            self.db.execute("SELECT rulebook_text FROM runs WHERE id=?", (run,)).fetchone()[0]
        )

    def people_of(
        self, run: int, emp_ids: Iterable[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """emp_id -> {inputs, results, decided, status} for one run."""
        rows = self.db.execute(
            "SELECT emp_id, status, decided, inputs, results FROM people WHERE run=?", (run,)
        ).fetchall()
        wanted = set(emp_ids) if emp_ids is not None else None
        return {
            r[0]: {
                "status": r[1],
                "decided": r[2],
                "inputs": json.loads(r[3]),
                "results": json.loads(r[4]),
            }
            for r in rows
            if wanted is None or r[0] in wanted
        }

    def history(self, emp_id: str) -> list[dict[str, Any]]:
        """The person's current result in each period that has one, oldest period first (`run`:
        the run's row id, for `rulebook_text`)."""
        periods = self.db.execute(
            """SELECT DISTINCT r.scheme, p.period FROM people p JOIN runs r ON r.id = p.run
               WHERE p.emp_id = ? ORDER BY r.scheme, p.period""",
            (emp_id,),
        ).fetchall()
        rows = []
        for scheme, period in periods:
            run = self.current_run(period, scheme)
            row = (
                run
                and self.db.execute(
                    """SELECT p.period, p.status, p.total, p.grade, p.flags, p.outcome, p.branch_code,
                          p.name, r.run_id, r.scheme, r.id, r.finished_at
                   FROM people p JOIN runs r ON r.id = p.run WHERE p.run = ? AND p.emp_id = ?""",
                    (run.id, emp_id),
                ).fetchone()
            )
            if row:
                rows.append(row)
        keys = (
            "period",
            "status",
            "total",
            "grade",
            "flags",
            "outcome",
            "branch_code",
            "name",
            "run_id",
            "scheme",
            "run",
            "finished_at",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


_ADJUSTMENT_COLUMNS = (
    "emp_id", "kind", "field", "label", "before", "after", "reason", "approver", "approved_on",
    "source", "status", "refusal",
)  # fmt: skip
_RUN_COLUMNS = (
    "id, run_id, period, started_at, finished_at, people_scored, people_refused, files_total, "
    "files_refused, rulebook_sha256, scheme"
)
