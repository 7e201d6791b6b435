"""The ledger: a database of every run and every person's inputs and results.

The latest completed run of a period is that period's current result; earlier runs stay, so a
rerun loses nothing and an auditor can see what changed. The schema carries a version and is
brought up to date by numbered migrations when the ledger is opened. The database is a SQLite
file (the default) or a PostgreSQL database shared by an HR department (`ledger_db.py`): one
schema and one set of migrations for both.

People are kept compactly (schema 5, `ledger_codec.py`): a run's people in chunks (one branch's
people each), each chunk stored once per distinct content and referenced by the runs that
produced it (`run_chunks`), its people's inputs (stored once per distinct content too) and
results as compressed columns; `people` has one row per person of a chunk with what is looked up
or queried (employee id, branch, name, status, total as a number, grade, outcome).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from . import ledger_codec as codec
from .errors import KpiExcelError, RunLocked
from .ledger_db import Db, PostgresDb, SqliteDb, is_url, shown

SCHEMA_VERSION = 5
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
    # The compact ledger (see the module's docstring): people in content-addressed chunks;
    # rulebook texts once per sha256 (`runs.rulebook_text` empty then); adjustments with an id
    # (their order, in both dialects). `_compact_people` moves the people of every earlier run.
    5: """
    DROP INDEX people_emp;
    DROP INDEX people_run;
    ALTER TABLE people RENAME TO people_v4;
    DROP INDEX adjustments_run;
    DROP INDEX adjustments_emp;
    ALTER TABLE adjustments RENAME TO adjustments_v4;
    CREATE TABLE adjustments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    INSERT INTO adjustments (run, period, emp_id, kind, field, label, before, after, reason,
        approver, approved_on, source, status, refusal)
        SELECT run, period, emp_id, kind, field, label, before, after, reason, approver,
        approved_on, source, status, refusal FROM adjustments_v4 ORDER BY rowid;
    DROP TABLE adjustments_v4;
    CREATE INDEX adjustments_run ON adjustments (run);
    CREATE INDEX adjustments_emp ON adjustments (emp_id, run);
    CREATE TABLE rulebooks (sha256 TEXT PRIMARY KEY, text TEXT NOT NULL);
    CREATE TABLE blobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        digest BLOB NOT NULL UNIQUE,
        data BLOB NOT NULL
    );
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        digest BLOB NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        layout INTEGER NOT NULL REFERENCES blobs(id),
        inputs INTEGER NOT NULL REFERENCES blobs(id),
        results BLOB NOT NULL
    );
    CREATE TABLE run_chunks (
        run INTEGER NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        chunk INTEGER NOT NULL REFERENCES chunks(id),
        PRIMARY KEY (run, seq)
    ) WITHOUT ROWID;
    CREATE TABLE people (
        chunk INTEGER NOT NULL REFERENCES chunks(id),
        seq INTEGER NOT NULL,
        emp_id TEXT NOT NULL,
        branch_code TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        total REAL,
        grade TEXT NOT NULL,
        outcome TEXT NOT NULL,
        PRIMARY KEY (chunk, seq)
    ) WITHOUT ROWID;
    CREATE INDEX people_emp ON people (emp_id);
    """,
}


class LedgerError(KpiExcelError):
    """The ledger cannot be opened or is newer than this kpi-excel."""


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


def location(value: str | Path | None, output: Path) -> Path | str:
    """The ledger a command uses: `value` (a file, or a PostgreSQL URL), else the output
    folder's ledger.sqlite."""
    if value is None or value == "":
        return output / "ledger.sqlite"
    return str(value) if is_url(value) else Path(value)


def exists(where: Path | str) -> bool:
    """The ledger is there to be read: the file exists (a database server is asked when
    connecting: an empty database is a ledger without runs)."""
    return is_url(where) or Path(where).is_file()


class Ledger:
    """A connection to the ledger; writes of one run happen in one transaction.

    `location`: the SQLite file (a path), or a PostgreSQL URL (postgresql://…)."""

    def __init__(self, location: Path | str) -> None:
        self.path = location if is_url(location) else Path(location)
        self.db = self._connect(self.path)
        self.migrate()

    @staticmethod
    def _connect(location: Path | str, read_only: bool = False) -> Db:
        try:
            if is_url(location):
                return PostgresDb(str(location))
            return SqliteDb(Path(location), read_only)
        except ImportError:
            raise LedgerError(
                "使用 PostgreSQL 台账需要安装 psycopg:pip install 'kpi-excel[postgres]'"
            ) from None
        except Exception as exc:  # noqa: BLE001 - any driver's failure to connect
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LedgerError(f"无法打开台账 {shown(location)}: {detail}") from None

    @classmethod
    def read_only(cls, path: Path | str) -> Ledger | None:
        """The ledger opened for reading only, as it is (not migrated, not a byte written), or
        None when it cannot be opened so."""
        book = cls.__new__(cls)
        book.path = path
        try:
            book.db = cls._connect(path, read_only=True)
            book.db.has_table("meta")
        except (LedgerError, *SqliteDb.errors):
            return None
        return book

    @property
    def location(self) -> str:
        """Where the ledger is, as it may be shown (a URL without its password)."""
        return shown(self.path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> int:
        if not self.db.has_table("meta"):
            return 0
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        self.db.hold(MIGRATION_LOCK)  # one kpi-excel migrates a shared ledger, the others wait
        try:
            self._migrate()
        finally:
            self.db.release(MIGRATION_LOCK)

    def _migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise LedgerError(f"台账 {self.location} 的版本({current})比本程序新,请升级 kpi-excel")
        for v in range(current + 1, SCHEMA_VERSION + 1):
            self.db.begin()
            try:
                for statement in MIGRATIONS[v].split(";"):
                    if statement.strip():
                        self.db.execute(self.db.ddl(statement))
                if v in MIGRATION_STEPS:
                    MIGRATION_STEPS[v](self)
                self.db.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(v),),
                )
                self.db.commit()
            except BaseException:
                self.db.rollback()
                raise
        if current and current < 5 and isinstance(self.db, SqliteDb):
            self.db.vacuum()  # give back the space the people's JSON text took

    def lock_period(self, period: str, scheme: str = DEFAULT_SCHEME) -> None:
        """Hold the scheme's period for this connection's life, or raise RunLocked when another
        run holds it (PostgreSQL: an advisory lock; SQLite: the output folder's lock)."""
        if not self.db.try_lock(f"kpi-excel:run:{scheme}:{period}"):
            where = "" if scheme == DEFAULT_SCHEME else f"方案 {scheme} 的"
            raise RunLocked(
                f"{where}考核期 {period} 正在由另一个 kpi-excel 运行(共用台账 {self.location}),"
                "请等它结束后再试"
            )

    # -- writing -------------------------------------------------------------------------

    def begin(self) -> None:
        self.db.begin()

    def commit(self) -> None:
        self.db.commit()

    def rollback(self) -> None:
        self.db.rollback()

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

        A person's `inputs` and `results` are dicts (`write.outputs.ledger_rows` builds them
        column by column), or their JSON text."""
        record = {"scheme": DEFAULT_SCHEME, **run}
        record["rulebook_text"] = self._rulebook(record["rulebook_sha256"], run["rulebook_text"])
        columns = list(record)
        rid = int(
            self.db.execute(
                f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                " RETURNING id",
                [record[c] for c in columns],
            ).fetchone()[0]
        )
        self.db.executemany(
            "INSERT INTO run_inputs VALUES (?, ?, ?, ?, ?, ?)",
            [
                (rid, i["name"], i["size"], i["sha256"], i["status"], i.get("reason", ""))
                for i in inputs
            ],
        )
        self._add_people(rid, run["period"], people)
        return rid

    def _rulebook(self, sha256: str, text: str) -> str:
        """Keep the rulebook's text once per sha256; what `runs.rulebook_text` then holds ('' when
        the text is kept in `rulebooks`)."""
        self.db.execute(
            "INSERT INTO rulebooks VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING", (sha256, text)
        )
        kept = self.db.execute("SELECT text FROM rulebooks WHERE sha256=?", (sha256,)).fetchone()
        return "" if kept[0] == text else text

    def _add_people(self, rid: int, period: str, people: Iterable[dict[str, Any]]) -> None:
        links = []
        for seq, (_part, group) in enumerate(groupby(people, key=_chunk_key(CHUNK_MAX))):
            links.append((rid, seq, self._chunk([_decoded(p) for p in group], period)))
        self.db.executemany("INSERT INTO run_chunks VALUES (?, ?, ?)", links)

    def _chunk(self, people: list[dict[str, Any]], period: str) -> int:
        """The id of the chunk holding these people (stored now if no run stored it before)."""
        in_keys, in_columns, in_absent = codec.columns_of([p["inputs"] for p in people])
        res_keys, res_columns, res_absent = codec.columns_of([p["results"] for p in people])
        same: dict[str, str] = {}
        for i, k in enumerate(res_keys):
            field = _same_field(k, res_columns[i], people, period, str(i) in res_absent)
            if field:
                same[k] = field
        fields: dict[str, list[Any]] = {f: [p[f] for p in people] for f in _BLOB_FIELDS}
        for f in _ROW_FIELDS:  # kept as they are when not all texts (the rows hold texts)
            if not all(type(p[f]) is str for p in people):
                fields[f] = [p[f] for p in people]
        results = {
            "s": same,
            "c": [c for k, c in zip(res_keys, res_columns, strict=True) if k not in same],
            "a": res_absent,
            "p": fields,
        }
        layout = codec.dumps({"inputs": in_keys, "results": res_keys})
        inputs = codec.dumps([in_columns, in_absent])
        results_raw = codec.dumps(results)
        rows = [
            [_text(p[f]) for f in _ROW_FIELDS] + [_number(p["total"])] for p in people
        ]  # fmt: skip
        key = codec.digest(b"chunk", layout, inputs, results_raw, codec.dumps(rows))
        found = self.db.execute("SELECT id FROM chunks WHERE digest=?", (key,)).fetchone()
        if found:
            return int(found[0])
        layout_id, inputs_id = self._blob(layout), self._blob(inputs)
        got = self.db.execute(
            "INSERT INTO chunks (digest, size, layout, inputs, results) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (digest) DO NOTHING RETURNING id",
            (key, len(people), layout_id, inputs_id, codec.pack(results)),
        ).fetchone()
        if got is None:  # stored meanwhile by a run of another period (PostgreSQL)
            return int(
                self.db.execute("SELECT id FROM chunks WHERE digest=?", (key,)).fetchone()[0]
            )
        chunk = int(got[0])
        self.db.executemany(
            f"INSERT INTO people (chunk, seq, {', '.join(_ROW_FIELDS)}, total)"
            f" VALUES (?, ?, {', '.join('?' * len(_ROW_FIELDS))}, ?)",
            [(chunk, j, *row) for j, row in enumerate(rows)],
        )
        return chunk

    def _blob(self, raw: bytes) -> int:
        key = codec.digest(raw)
        found = self.db.execute("SELECT id FROM blobs WHERE digest=?", (key,)).fetchone()
        if found is None:
            found = (
                self.db.execute(
                    "INSERT INTO blobs (digest, data) VALUES (?, ?)"
                    " ON CONFLICT (digest) DO NOTHING RETURNING id",
                    (key, codec.compress(raw)),
                ).fetchone()
                or self.db.execute("SELECT id FROM blobs WHERE digest=?", (key,)).fetchone()
            )
        return int(found[0])

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
            f"SELECT {', '.join(_ADJUSTMENT_COLUMNS)} FROM adjustments WHERE run=? ORDER BY id",
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
        args: tuple = (scheme, period, before) if asof else (scheme, period)
        event = (
            self.db.execute(
                "SELECT kind, run FROM period_events WHERE scheme=? AND period=?"
                + (" AND last_run < ?" if asof else "")
                + " ORDER BY id DESC LIMIT 1",
                args,
            ).fetchone()
            if self.db.has_table("period_events")
            else None
        )
        if event is not None and event[0] == APPROVE:
            row = self.db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id=?", (event[1],)
            ).fetchone()
            return RunRecord(*row)
        row = self.db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE scheme=? AND period=?"
            " AND status='completed'"
            + (" AND id < ?" if asof else "")
            + " ORDER BY id DESC LIMIT 1",
            args,
        ).fetchone()
        return RunRecord(*row) if row else None

    def approval(self, period: str, scheme: str = DEFAULT_SCHEME) -> PeriodEvent | None:
        """The approval in force for the scheme's period (its latest event, if an approval)."""
        events = self.events(period, scheme)
        return events[-1] if events and events[-1].kind == APPROVE else None

    def events(self, period: str | None = None, scheme: str | None = None) -> list[PeriodEvent]:
        """Approvals and reopenings, oldest first; of one period (and scheme) if given."""
        if not self.db.has_table("period_events"):
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
        row = self.db.execute(
            """INSERT INTO period_events (scheme, period, kind, run, by_name, at, note, outputs,
                                          last_run)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM runs))
               RETURNING id""",
            (run.scheme, run.period, kind, run.id, by, at, note,
             json.dumps(outputs or {}, ensure_ascii=False, sort_keys=True)),
        ).fetchone()  # fmt: skip
        return int(row[0])

    def has_run(self, run_id: str) -> bool:
        """The run is recorded (its transaction was committed)."""
        return (
            self.db.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone() is not None
        )

    def scored_branches(self, run: int) -> dict[str, tuple[str, int]]:
        """branch_code -> (branch name, people scored) of the branches a run scored someone of."""
        found: dict[str, tuple[str, int]] = {}
        for p in self.run_people(run):
            if p["status"] != "scored":
                continue
            code = str(p["branch_code"])
            name, n = found.get(code) or (p["results"].get("branch_name"), 0)
            found[code] = ("" if name is None else str(name), n + 1)
        return dict(sorted(found.items()))

    def runs(self) -> list[RunRecord]:
        rows = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id").fetchall()
        return [RunRecord(*r) for r in rows]

    def rulebook_text(self, run: int) -> str:
        row = self.db.execute(
            """SELECT r.rulebook_text, b.text FROM runs r
               LEFT JOIN rulebooks b ON b.sha256 = r.rulebook_sha256 WHERE r.id=?""",
            (run,),
        ).fetchone()
        return str(row[0] or row[1] or "")

    def run_people(
        self, run: int, emp_ids: Iterable[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The people a run stored, in its order (of `emp_ids` only, if given), each as
        `add_run` took it: emp_id, branch_code, name, role, status, total, grade, flags,
        decided, outcome, inputs (dict), results (dict)."""
        period_row = self.db.execute("SELECT period FROM runs WHERE id=?", (run,)).fetchone()
        if period_row is None:
            return
        wanted = None if emp_ids is None else set(emp_ids)
        if wanted is not None and len(wanted) <= LOOKUP_MAX:
            chunks = self._chunks_with(run, sorted(wanted))
        else:
            chunks = [
                int(r[0])
                for r in self.db.execute(
                    "SELECT chunk FROM run_chunks WHERE run=? ORDER BY seq", (run,)
                ).fetchall()
            ]
        for start in range(0, len(chunks), BATCH):
            for person in self._decode(chunks[start : start + BATCH], str(period_row[0])):
                if wanted is None or person["emp_id"] in wanted:
                    yield person

    def _chunks_with(self, run: int, emp_ids: list[str]) -> list[int]:
        seqs: dict[int, int] = {}
        for start in range(0, len(emp_ids), BATCH):
            part = emp_ids[start : start + BATCH]
            for seq, chunk in self.db.execute(
                "SELECT rc.seq, rc.chunk FROM run_chunks rc JOIN people p ON p.chunk = rc.chunk"
                f" WHERE rc.run=? AND p.emp_id IN ({', '.join('?' * len(part))})",
                (run, *part),
            ).fetchall():
                seqs[int(seq)] = int(chunk)
        return [seqs[s] for s in sorted(seqs)]

    def _decode(self, chunks: list[int], period: str) -> Iterator[dict[str, Any]]:
        if not chunks:
            return
        marks = ", ".join("?" * len(chunks))
        stored = {
            int(r[0]): r[1:]
            for r in self.db.execute(
                f"SELECT id, size, layout, inputs, results FROM chunks WHERE id IN ({marks})",
                chunks,
            ).fetchall()
        }
        blob_ids = sorted({int(s[i]) for s in stored.values() for i in (1, 2)})
        blobs = {
            int(r[0]): codec.decompress(r[1])
            for r in self.db.execute(
                f"SELECT id, data FROM blobs WHERE id IN ({', '.join('?' * len(blob_ids))})",
                blob_ids,
            ).fetchall()
        }
        rows: dict[int, list[tuple]] = {c: [] for c in chunks}
        for r in self.db.execute(
            f"SELECT chunk, {', '.join(_ROW_FIELDS)} FROM people WHERE chunk IN ({marks})"
            " ORDER BY chunk, seq",
            chunks,
        ).fetchall():
            rows[int(r[0])].append(r[1:])
        for chunk in chunks:
            size, layout_id, inputs_id, results_data = stored[chunk]
            layout = json.loads(blobs[int(layout_id)])
            in_columns, in_absent = json.loads(blobs[int(inputs_id)])
            inputs = codec.records_of(int(size), layout["inputs"], in_columns, in_absent)
            res = codec.unpack(results_data)
            people = [dict(zip(_ROW_FIELDS, r, strict=True)) for r in rows[chunk]]
            for f, values in res["p"].items():
                for p, v in zip(people, values, strict=True):
                    p[f] = v
            same = res["s"]
            kept = [k for k in layout["results"] if k not in same]
            columns = dict(zip(kept, res["c"], strict=True))
            values = [
                [period if same[k] == "period" else p[same[k]] for p in people]
                if k in same
                else columns[k]
                for k in layout["results"]
            ]
            records = codec.records_of(len(people), layout["results"], values, res["a"])
            for j, p in enumerate(people):
                results = records[j]
                p["inputs"], p["results"] = inputs[j], results
                yield p

    def people_of(
        self, run: int, emp_ids: Iterable[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """emp_id -> {inputs, results, decided, status} for one run."""
        return {
            p["emp_id"]: {k: p[k] for k in ("status", "decided", "inputs", "results")}
            for p in self.run_people(run, emp_ids)
        }

    def history(self, emp_id: str) -> list[dict[str, Any]]:
        """The person's current result in each period that has one, oldest period first (`run`:
        the run's row id, for `rulebook_text`)."""
        periods = self.db.execute(
            """SELECT DISTINCT r.scheme, r.period FROM people p
               JOIN run_chunks rc ON rc.chunk = p.chunk JOIN runs r ON r.id = rc.run
               WHERE p.emp_id = ? ORDER BY r.scheme, r.period""",
            (emp_id,),
        ).fetchall()
        rows = []
        for scheme, period in periods:
            run = self.current_run(period, scheme)
            person = run and next(self.run_people(run.id, [emp_id]), None)
            if run and person:
                rows.append(
                    {k: person[k] for k in ("status", "total", "grade", "flags", "outcome")}
                    | {"branch_code": person["branch_code"], "name": person["name"]}
                    | {"period": period, "run_id": run.run_id, "scheme": run.scheme}
                    | {"run": run.id, "finished_at": run.finished_at}
                )
        keys = (
            "period", "status", "total", "grade", "flags", "outcome", "branch_code", "name",
            "run_id", "scheme", "run", "finished_at",
        )  # fmt: skip
        return [{k: r[k] for k in keys} for r in rows]


MIGRATION_LOCK = "kpi-excel:migrate"
CHUNK_MAX = 500  # people per chunk at most
BRANCHES_PER_CHUNK = 4  # on average: more people per chunk compress better
BATCH = 400  # chunks decoded, or employee ids looked up, per query
LOOKUP_MAX = 2000  # up to this many employee ids, only the chunks holding them are read
_ROW_FIELDS = ("emp_id", "branch_code", "name", "status", "grade", "outcome")  # `people` columns
_BLOB_FIELDS = ("role", "total", "flags", "decided")  # a person's other fields, in the chunk
_SAME_FIELDS = ("emp_id", "branch_code", "name", "role", "status", "total", "grade", "flags",
                "outcome")  # fmt: skip


def _chunk_key(most: int) -> Callable[[dict[str, Any]], int]:
    """Consecutive people in chunks of whole branches, a few branches each (a branch ends a
    chunk when its code's crc32 is divisible by BRANCHES_PER_CHUNK, so that where chunks end
    depends on the branches alone, and a rerun chunks as the run before it did), and at most
    `most` people (a larger branch is cut)."""
    state = {"branch": object(), "n": 0, "part": 0, "ends": False}

    def key(p: dict[str, Any]) -> int:
        branch = p["branch_code"]
        if state["n"] >= most or (branch != state["branch"] and state["ends"]):
            state["n"] = 0
            state["part"] += 1
        if branch != state["branch"]:
            state["branch"] = branch
            state["ends"] = zlib.crc32(_text(branch).encode()) % BRANCHES_PER_CHUNK == 0
        state["n"] += 1
        return state["part"]

    return key


def _decoded(p: dict[str, Any]) -> dict[str, Any]:
    return {**p, "inputs": _loads(p["inputs"]), "results": _loads(p["results"])}


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _same_field(
    key: str, column: list[Any], people: list[dict[str, Any]], period: str, absent: bool
) -> str | None:
    """The person field (or 'period') every value of a results column equals, if one does: the
    column is then not stored twice."""
    if absent:
        return None
    fields = [key] if key in _SAME_FIELDS else []
    if key == "period":
        fields = ["period"]
    for f in fields:
        others = [period] * len(column) if f == "period" else [p[f] for p in people]
        if all(type(a) is type(b) and a == b for a, b in zip(column, others, strict=True)):
            return f
    return None


def _text(v: Any) -> str:
    return v if isinstance(v, str) else "" if v is None else str(v)


def _number(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if x == x and abs(x) != float("inf") else None


def _compact_people(book: Ledger) -> None:
    """Migration 5: every earlier run's people into chunks; rulebook texts into `rulebooks`."""
    db = book.db
    order = "rowid" if db.dialect == "sqlite" else "ctid"
    runs = db.execute("SELECT id, period, rulebook_sha256, rulebook_text FROM runs").fetchall()
    for rid, period, sha, text in runs:
        cursor = db.execute(
            "SELECT emp_id, branch_code, name, role, status, total, grade, flags, decided,"
            f" outcome, inputs, results FROM people_v4 WHERE run=? ORDER BY {order}",
            (rid,),
        )
        keys = [d[0] for d in cursor.description]
        book._add_people(rid, period, (dict(zip(keys, r, strict=True)) for r in cursor))
        if book._rulebook(sha, text) == "":
            db.execute("UPDATE runs SET rulebook_text='' WHERE id=?", (rid,))
    db.execute("DROP TABLE people_v4")


MIGRATION_STEPS: dict[int, Callable[[Ledger], None]] = {5: _compact_people}


_ADJUSTMENT_COLUMNS = (
    "emp_id", "kind", "field", "label", "before", "after", "reason", "approver", "approved_on",
    "source", "status", "refusal",
)  # fmt: skip
_RUN_COLUMNS = (
    "id, run_id, period, started_at, finished_at, people_scored, people_refused, files_total, "
    "files_refused, rulebook_sha256, scheme"
)
