"""The exception tree of kpi-excel. The library raises these; only the CLI turns them into exits."""

from __future__ import annotations


class KpiExcelError(Exception):
    """Base of every error kpi-excel raises on purpose."""


class UsageError(KpiExcelError):
    """A command was called with arguments that cannot work (bad period, missing folder)."""


class RulebookError(KpiExcelError):
    """The rulebook file is missing, unreadable, or breaks its schema or its references.

    `lines` holds one Chinese line per problem (file, key path, what is wrong); str() joins them.
    """

    def __init__(self, lines: str | list[str]) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


class WorkbookRefused(KpiExcelError):
    """One input workbook cannot be used as a whole; `code` is stable, `args[0]` is Chinese;
    `detail` is the underlying error (a parser's own words) for the log, or ""."""

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


class OutputError(KpiExcelError):
    """An output could not be written (disk full, folder not writable)."""


class PeriodApproved(UsageError):
    """The period is approved: it may not be run (or approved) again until it is reopened;
    nothing was written. `approval` is the ledger's event (ledger.PeriodEvent)."""

    def __init__(self, message: str, approval: object) -> None:
        super().__init__(message)
        self.approval = approval


class RunLocked(KpiExcelError):
    """Another run is using the same output folder."""


class NotFound(KpiExcelError):
    """A period, run or person asked for is not in the ledger."""


class InboxRefused(KpiExcelError):
    """The inbox as a whole cannot replace the period's current results: nothing was run and
    nothing written. `reasons` lists what was wrong with each file (may be empty)."""

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = list(reasons or [])


class EmptyInbox(InboxRefused):
    """The inbox holds no submission at all (only lock files, hidden files, folders, or nothing)."""


class NothingScored(InboxRefused):
    """Nobody in the inbox could be scored, while the period's current run scored people."""


class FrameRefused(KpiExcelError):
    """A DataFrame given to the library cannot be scored as a whole (a required column missing,
    two columns for one field, a row with no or a malformed 机构号): what would refuse a
    workbook. `lines` holds one Chinese line per problem; str() joins them."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


class OutputExists(UsageError):
    """Files a command would write already exist and were not to be overwritten; `paths` lists
    them (nothing was written)."""

    def __init__(self, message: str, paths: list) -> None:
        super().__init__(message)
        self.paths = list(paths)
