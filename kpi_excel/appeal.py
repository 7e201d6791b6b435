"""Appeals (申诉) with a trail: adjustments HR records for a person and period, and a run applies.

An adjustment is a row of an adjustments workbook (`kpi-excel appeal template`), filled in and put
in `inbox/<period>/调整/`: a corrected input value (改正数据) or an accepted appeal that overrides
the outcome (申诉改结论), always with the reason, who approved it and when. A run reads them with
the same care and Chinese reasons as any input: a correction's new value goes through its field's
own row checks (rowchecks.py); an adjustment naming an unknown person, field or outcome, or
missing its reason, approver or date, is refused with its reason, never applied and never
ignored.

Corrections replace the input value before the person is validated and scored (the branch's value
is kept as `before`); overrides replace the outcome after the flags, with what depends on it
(`action`, `recommended_level`, from the rulebook). Each applied adjustment leaves its sentence in
the person's `adjustment_note` (the explanation, 考核结果's 预警与处理), a note on the corrected
cell, a row of the summary's 申诉调整 sheet and of report.html, and a row of the ledger.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import python_calamine as pc
import xlsxwriter

from . import problems as P
from .discover import ADJUSTMENTS_DIR, READ_SUFFIXES, _not_a_submission, display_name
from .errors import WorkbookRefused
from .guard import check_container
from .numbers import show
from .periods import Period
from .read import PackedWorkbook, WorkbookData, pack
from .rowchecks import check_rows
from .rulebook import Rulebook
from .schema import DATA_SHEET, NUMERIC_KINDS, Field, label_key
from .write.atomic import write_atomic
from .write.safe import SafeSheet

SHEET = "申诉调整"
GUIDE_SHEET = "说明"
LISTS_SHEET = "选项"
CORRECT, OVERRIDE = "改正数据", "申诉改结论"
KINDS = {CORRECT: "correct", OVERRIDE: "override"}
OUTCOME_LABEL = "考核结论"
# (key, header, width, required): the columns of 申诉调整, in this order
COLUMNS = [
    ("emp_id", "员工编号", 12, True),
    ("name", "姓名", 10, False),
    ("kind", "类型", 12, True),
    ("field", "字段", 20, False),
    ("old", "原值", 12, False),
    ("new", "新值", 12, False),
    ("outcome", "新考核结论", 12, False),
    ("reason", "理由", 36, True),
    ("approver", "审批人", 10, True),
    ("date", "审批日期", 12, True),
]
HEADER_SEARCH_ROWS = 10
ROWS = 500  # rows of the template carrying data validation
NOT_CORRECTED = {"emp_id"}  # who the row is: never corrected by an adjustment
_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


@dataclass
class Adjustment:
    """One row of an adjustments workbook, and what became of it."""

    file: str  # as messages name it: 调整/<file name>
    row: int  # Excel row
    letters: dict[str, str]  # column key -> Excel letter
    emp_id: str = ""
    name: str = ""
    kind: str = ""  # correct | override ('' when the 类型 is not one of them)
    field: str = ""  # contract key of a correction
    label: str = ""  # what is adjusted, in words: the field's name or 考核结论
    old: Any = None  # 原值 as written (None: not given)
    new: Any = None  # 新值 as written (a correction) or the outcome word (an override)
    reason: str = ""
    approver: str = ""
    date: str = ""  # ISO date
    before: str = ""  # the value or outcome before, as shown
    after: str = ""
    status: str = "pending"  # applied | refused
    branch_file: str = ""  # a correction: the branch workbook and cell it corrects
    branch_cell: str = ""
    problems: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def where(self, key: str) -> str:
        return (
            f"{self.letters.get(key, '')}{self.row}" if key in self.letters else f"第{self.row}行"
        )

    def refuse(self, kind: P.ProblemType, key: str, value: Any = None, extra: Any = "") -> None:
        label = dict((k, h) for k, h, _, _ in COLUMNS).get(key, key)
        if kind is P.APPEAL_OLD_VALUE:
            label = self.label
        self.problems.append(
            P.problem(kind, self.file, self.where(key), label, value, extra, sheet=SHEET)
        )
        self.status = "refused"

    @property
    def refusal(self) -> str:
        return "; ".join(p["message"] for p in self.problems)

    @property
    def kind_label(self) -> str:
        return {v: k for k, v in KINDS.items()}.get(self.kind, "")

    @property
    def source(self) -> str:
        return f"{self.file} {SHEET}!第{self.row}行"

    def note(self) -> str:
        """The sentence of the person's explanation."""
        return (
            f"经申诉调整: {self.label}由 {self.before} 改为 {self.after}"
            f"(依据{self.reason},审批人{self.approver},日期{self.date})"
        )


@dataclass
class Adjustments:
    """Every adjustment of a run's inbox, and the adjustments workbooks refused whole."""

    items: list[Adjustment] = dataclasses.field(default_factory=list)
    refused_files: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (file, reason)

    @property
    def applied(self) -> list[Adjustment]:
        return [a for a in self.items if a.status == "applied"]

    @property
    def refused(self) -> list[Adjustment]:
        return [a for a in self.items if a.status == "refused"]

    def reasons(self) -> list[str]:
        """Why each refused adjustment (and workbook) was not applied, one line each."""
        return [r for _f, r in self.refused_files] + [a.refusal for a in self.refused]

    def ledger_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "emp_id": a.emp_id, "kind": a.kind or "", "field": a.field or (
                    "outcome" if a.kind == "override" else ""), "label": a.label,
                "before": a.before, "after": a.after, "reason": a.reason,
                "approver": a.approver, "approved_on": a.date, "source": a.source,
                "status": a.status, "refusal": a.refusal,
            }
            for a in self.items
        ] + [
            {
                "emp_id": "", "kind": "", "field": "", "label": "", "before": "", "after": "",
                "reason": "", "approver": "", "approved_on": "", "source": file,
                "status": "refused", "refusal": reason,
            }
            for file, reason in self.refused_files
        ]  # fmt: skip


# -- the template ----------------------------------------------------------------------------


def correctable(rules: Rulebook) -> list[Field]:
    """The fields an adjustment may correct."""
    return [f for f in rules.contract.fields if f.key not in NOT_CORRECTED]


def guide_lines(period: Period, rules: Rulebook) -> list[str]:
    outcomes = "、".join(o for o in rules.outcomes.values() if o)
    return [
        f"{period.code} 申诉调整表",
        "用途:记录经批准的申诉调整。每行一条调整;填好后放入收件夹的「调整」子文件夹"
        f"(inbox/{period.code}/{ADJUSTMENTS_DIR}/),再运行 kpi-excel run {period.code}。",
        f"类型「{CORRECT}」:改正某人报送的一项数据。「字段」填数据项名称(如 不良贷款余额),"
        "「新值」填改正后的数值,按该项的填报要求检查;「原值」可填报送的数值以便核对,"
        "填了而与报送数据不一致时该调整不予采用。",
        f"类型「{OVERRIDE}」:申诉成立,直接改变考核结论。「新考核结论」填 {outcomes} 之一;"
        "建议职级随结论按考核方案确定。",
        "「理由」「审批人」「审批日期」每行必填。「姓名」可填,填了须与报送数据一致。",
        "有问题的调整不会被采用,也不会被忽略:运行结束时和 report.html 中列出每条未采用的调整及原因。",
        "采用的调整写入该员工的计分说明、支行结果工作簿、汇总表「申诉调整」、report.html 和台账。",
        "报送的工作簿本身不会被修改。",
    ]


def build_template(path: Path, period: Period, rules: Rulebook) -> Path:
    """Write the adjustments workbook of `period` to `path` (atomically)."""
    return write_atomic(Path(path), lambda tmp: _write_template(tmp, period, rules))


def _write_template(path: Path, period: Period, rules: Rulebook) -> None:
    wb = xlsxwriter.Workbook(str(path), dict(_OPTIONS))
    try:
        font = {"font_name": "宋体"}
        f_title = wb.add_format({**font, "bold": True, "font_size": 14})
        f_wrap = wb.add_format({**font, "text_wrap": True, "valign": "top"})
        f_text = wb.add_format({**font, "num_format": "@"})
        f_date = wb.add_format({**font, "num_format": "yyyy-mm-dd"})
        f_head = wb.add_format(
            {**font, "bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"}
        )
        ws = wb.add_worksheet(GUIDE_SHEET, worksheet_class=SafeSheet)
        ws.set_column(0, 0, 88, f_wrap)
        for r, text in enumerate(guide_lines(period, rules)):
            ws.write_string(r, 0, text, f_title if r == 0 else f_wrap)
        fields = [f.label for f in correctable(rules)]
        outcomes = [o for o in rules.outcomes.values() if o]
        lists = wb.add_worksheet(LISTS_SHEET, worksheet_class=SafeSheet)
        for r, text in enumerate(fields):
            lists.write_string(r, 0, text)
        lists.hide()
        ws = wb.add_worksheet(SHEET, worksheet_class=SafeSheet)
        ws.freeze_panes(1, 0)
        for c, (key, header, width, _req) in enumerate(COLUMNS):
            fmt = f_date if key == "date" else None if key in ("old", "new") else f_text
            ws.set_column(c, c, width, fmt)
            ws.write_string(0, c, header, f_head)
        col = {key: c for c, (key, *_rest) in enumerate(COLUMNS)}
        ws.data_validation(1, col["kind"], ROWS, col["kind"], {
            "validate": "list", "source": list(KINDS), "input_title": "类型",
            "input_message": f"{CORRECT}:改正一项数据;{OVERRIDE}:改变考核结论",
            "error_title": "类型不正确", "error_message": f"只能是「{CORRECT}」或「{OVERRIDE}」",
        })  # fmt: skip
        if fields:
            ws.data_validation(1, col["field"], ROWS, col["field"], {
                "validate": "list", "source": f"='{LISTS_SHEET}'!$A$1:$A${len(fields)}",
                "input_title": "字段", "input_message": f"类型为「{CORRECT}」时填:改正的数据项",
                "error_title": "字段不正确", "error_message": "请从下拉列表选择数据项",
            })  # fmt: skip
        if outcomes:
            ws.data_validation(1, col["outcome"], ROWS, col["outcome"], {
                "validate": "list", "source": outcomes, "input_title": "新考核结论",
                "input_message": f"类型为「{OVERRIDE}」时填", "error_title": "考核结论不正确",
                "error_message": "只能是:" + "、".join(outcomes),
            })  # fmt: skip
        ws.data_validation(1, col["date"], ROWS, col["date"], {
            "validate": "date", "criteria": "between", "minimum": dt.date(2000, 1, 1),
            "maximum": dt.date(2100, 12, 31), "input_title": "审批日期",
            "input_message": "填写批准日期,如 2026-10-15", "error_title": "日期不正确",
            "error_message": "请填写日期,如 2026-10-15",
        })  # fmt: skip
        ws.activate()
        wb.get_worksheet_by_name(GUIDE_SHEET).set_first_sheet()
    finally:
        wb.close()


# -- reading ---------------------------------------------------------------------------------


def read_adjustments(
    folder: Path, rules: Rulebook, limits: dict[str, int] | None = None
) -> Adjustments:
    """Every adjustments workbook of `folder` (none if it does not exist), each row checked on
    its own: what it adjusts, its new value or outcome word, its reason, approver and date."""
    out = Adjustments()
    if not folder.is_dir():
        return out
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        name = f"{ADJUSTMENTS_DIR}/{display_name(path)}"
        if _not_a_submission(path) or path.is_dir() or not path.is_file():
            continue
        if path.suffix.lower() not in READ_SUFFIXES:
            why = "申诉调整工作簿应为 .xlsx 文件(用 kpi-excel appeal template 生成)"
            out.refused_files.append((name, P.APPEAL_FILE.message(file=name, extra=why)))
            continue
        try:
            out.items += _read_one(path, name, rules, limits)
        except WorkbookRefused as exc:
            out.refused_files.append((name, P.APPEAL_FILE.message(file=name, extra=exc.message)))
    _refuse_duplicates(out.items)
    return out


def _read_one(
    path: Path, name: str, rules: Rulebook, limits: dict[str, int] | None
) -> list[Adjustment]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WorkbookRefused(P.APPEAL_FILE.code, f"无法打开:{exc.strerror or exc}") from None
    container = check_container(data, name, limits, lambda s: label_key(s) == label_key(SHEET))
    try:
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(container.data))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - calamine raises many kinds
        raise WorkbookRefused(P.APPEAL_FILE.code, f"无法读取({type(exc).__name__})") from None
    sheet = next((s for s in book.sheet_names if label_key(s) == label_key(SHEET)), None)
    if sheet is None:
        have = "、".join(f"「{s}」" for s in book.sheet_names)
        raise WorkbookRefused(P.APPEAL_FILE.code, f"缺少工作表「{SHEET}」(工作簿中的工作表:{have})")
    rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    headers = {label_key(h): k for k, h, _, _ in COLUMNS}
    head = next(
        (
            i
            for i, row in enumerate(rows[:HEADER_SEARCH_ROWS])
            if any(label_key(v) == label_key("员工编号") for v in row)
        ),
        None,
    )
    if head is None:
        raise WorkbookRefused(P.APPEAL_FILE.code, f"「{SHEET}」表中找不到表头「员工编号」")
    cols: dict[str, int] = {}
    for j, v in enumerate(rows[head]):
        key = headers.get(label_key(v))
        if key and key not in cols:
            cols[key] = j
    missing = [h for k, h, _, req in COLUMNS if req and k not in cols]
    if missing:
        where = f"{SHEET}!第{head + 1}行"
        raise WorkbookRefused(
            P.APPEAL_COLUMN_MISSING.code,
            P.APPEAL_COLUMN_MISSING.message(
                file=name, where=where, label="」「".join(missing)
            ).removeprefix(f"{name} "),
        )
    letters = {k: _letter(j) for k, j in cols.items()}
    out = []
    for i in range(head + 1, len(rows)):
        row = rows[i]
        values = {k: (row[j] if j < len(row) else None) for k, j in cols.items()}
        if all(_blank(v) for v in values.values()):
            continue
        out.append(_adjustment(name, i + 1, letters, values, rules))
    return out


def _letter(j: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(j + 1)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip(" \u3000\t\r\n"))


def _text(v: Any) -> str:
    return "" if _blank(v) else show(v).strip(" \u3000\t\r\n")


def _adjustment(
    file: str, row: int, letters: dict[str, str], values: dict[str, Any], rules: Rulebook
) -> Adjustment:
    a = Adjustment(file, row, letters)
    a.emp_id, a.name = _text(values.get("emp_id")), _text(values.get("name"))
    a.reason, a.approver = _text(values.get("reason")), _text(values.get("approver"))
    a.old = None if _blank(values.get("old")) else values.get("old")
    kind_text = _text(values.get("kind"))
    a.kind = KINDS.get(kind_text, "")
    if not a.emp_id:
        a.refuse(P.APPEAL_BLANK, "emp_id")
    if not kind_text:
        a.refuse(P.APPEAL_BLANK, "kind")
    elif not a.kind:
        a.refuse(P.APPEAL_KIND, "kind", kind_text, "、".join(f"「{k}」" for k in KINDS))
    if a.kind == "correct":
        by_label = {label_key(f.label): f for f in correctable(rules)}
        wanted = _text(values.get("field"))
        f = by_label.get(label_key(wanted)) if wanted else None
        if not wanted:
            a.refuse(P.APPEAL_BLANK, "field")
        elif f is None:
            names = "、".join(f.name for f in correctable(rules))
            a.refuse(P.APPEAL_FIELD, "field", wanted, names)
        else:
            a.field, a.label = f.key, f.name
        a.new = values.get("new")
        if _blank(a.new) and "new" in letters:
            a.refuse(P.APPEAL_BLANK, "new")
        elif "new" not in letters:
            a.refuse(P.APPEAL_BLANK, "new")
    elif a.kind == "override":
        a.label = OUTCOME_LABEL
        words = [o for o in rules.outcomes.values() if o]
        a.new = _text(values.get("outcome"))
        if not a.new:
            a.refuse(P.APPEAL_BLANK, "outcome")
        elif a.new not in words:
            a.refuse(P.APPEAL_OUTCOME, "outcome", a.new, "、".join(words))
    for key in ("reason", "approver"):
        if not getattr(a, key):
            a.refuse(P.APPEAL_BLANK, key)
    date = values.get("date")
    if _blank(date):
        a.refuse(P.APPEAL_BLANK, "date")
    else:
        a.date = _date(date)
        if not a.date:
            a.refuse(P.APPEAL_DATE, "date", date)
    return a


_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def _date(v: Any) -> str:
    """An approval date as ISO text, '' if it is none."""
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    m = _DATE_RE.match(show(v).strip()) if isinstance(v, str) else None
    if not m:
        return ""
    try:
        return dt.date(*map(int, m.groups())).isoformat()
    except ValueError:
        return ""


def _refuse_duplicates(items: list[Adjustment]) -> None:
    seen: dict[tuple[str, str, str], Adjustment] = {}
    for a in items:
        if not a.emp_id or not a.kind:
            continue
        key = (a.emp_id, a.kind, a.field)
        first = seen.setdefault(key, a)
        if first is not a:
            a.refuse(P.APPEAL_DUPLICATE, "emp_id", a.emp_id, f"{first.file} 第{first.row}行")
            if not any(p["check"] == P.APPEAL_DUPLICATE.code for p in first.problems):
                first.refuse(P.APPEAL_DUPLICATE, "emp_id", a.emp_id, f"{a.file} 第{a.row}行")


# -- applying --------------------------------------------------------------------------------


def apply_corrections(
    adjustments: Adjustments, books: list[PackedWorkbook], rules: Rulebook
) -> list[PackedWorkbook]:
    """The books with each acceptable correction's new value in place of the branch's (the books
    it changes packed anew; the others as they are), the value checked by its field's own
    checks. A correction names a person: the first row of the first book with that 员工编号."""
    corrections = [a for a in adjustments.items if a.kind == "correct" and a.status == "pending"]
    if not corrections:
        return books
    wanted = {a.emp_id for a in corrections}
    where: dict[str, list[tuple[int, Any]]] = {}
    for b, packed in enumerate(books):
        frame = packed.unpack().frame
        if "emp_id" not in frame:
            continue
        for idx, emp in zip(frame.index, frame["emp_id"].tolist(), strict=True):
            if not _blank(emp) and (key := _text(emp)) in wanted:
                where.setdefault(key, []).append((b, idx))
    changed: dict[int, WorkbookData] = {}
    for a in corrections:
        found = where.get(a.emp_id, [])
        if not found:
            a.refuse(P.APPEAL_PERSON, "emp_id", a.emp_id)
            continue
        b, idx = found[0]
        wb = changed[b] if b in changed else books[b].unpack()
        spec = rules.contract.by_key[a.field]
        if a.name and "name" in wb.frame and _text(wb.frame.at[idx, "name"]) != a.name:
            a.refuse(P.APPEAL_NAME, "name", a.name, _text(wb.frame.at[idx, "name"]))
            continue
        original = wb.frame.at[idx, a.field] if a.field in wb.frame else None
        before, after, problem = _check_value(a, wb, idx, spec, rules)
        if problem:
            a.refuse(P.APPEAL_VALUE, "new", a.new, problem)
            continue
        if a.old is not None and not _same(a.old, original, before):
            a.refuse(P.APPEAL_OLD_VALUE, "old", a.old, before or "空")
            continue
        changed[b] = wb
        if a.field not in wb.frame:
            wb.frame[a.field] = pd.Series(None, index=wb.frame.index, dtype=object)
        column = wb.frame[a.field].astype(object)
        column.at[idx] = a.new
        wb.frame[a.field] = column
        row = int(wb.frame.at[idx, "_row"])
        wb.marks.pop((DATA_SHEET, row, a.field), None)
        wb.formats.pop((row, a.field), None)
        a.before, a.after, a.status = before or "空", after, "applied"
        a.branch_file, a.branch_cell = wb.file, f"{wb.letters.get(a.field, '')}{row}"
    out = list(books)
    for b, wb in changed.items():
        out[b] = pack(wb)
    return out


def _check_value(
    a: Adjustment, wb: WorkbookData, idx: Any, spec: Field, rules: Rulebook
) -> tuple[str, str, str]:
    """(value before, value after, '' or why the new value cannot be used), by the row checks
    of the person's row as the branch filled it and with the new value: a problem the new
    value brings (on its field or another one it is checked against) refuses it."""
    frame = wb.frame.loc[[idx, idx]].reset_index(drop=True).copy()
    for key in rules.contract.keys:
        if key not in frame:
            frame[key] = pd.Series(None, index=frame.index, dtype=object)
    column = frame[a.field].astype(object)
    column.iat[1] = a.new
    frame[a.field] = column
    frame["_file"] = a.file
    frame["_row"] = [int(wb.frame.at[idx, "_row"]), a.row]
    frame["_order"] = 0
    frame["branch_code"] = show(wb.info["branch_code"][0]) if "branch_code" in wb.info else ""
    frame["branch_name"] = show(wb.info["branch_name"][0]) if "branch_name" in wb.info else ""
    letter = a.letters.get("new", "")
    probe = WorkbookData(a.file, 0, "", {}, frame, dict.fromkeys(rules.contract.keys, letter),
                         pd.DataFrame(index=frame.index))  # fmt: skip
    checked, problems = check_rows(frame, [probe], rules)
    had = {(p["check"], p["column"]) for p in problems if p["row"] == 0}
    new = [
        p["message"]
        for p in problems
        if p["row"] == 1 and p["level"] == "refuse_row" and (p["check"], p["column"]) not in had
    ]
    prefix = f"{a.file} {DATA_SHEET}!{letter}{a.row}"  # the cell is named by APPEAL_VALUE
    reasons = [m.removeprefix(prefix) for m in new]
    before = _shown(checked[a.field].iat[0], wb.frame.at[idx, a.field] if a.field in wb.frame
                    else None, spec)  # fmt: skip
    after = _shown(checked[a.field].iat[1], a.new, spec)
    return before, after, ";".join(dict.fromkeys(reasons))


def _shown(value: Any, raw: Any, spec: Field) -> str:
    """A field's value as the explanation shows it: amounts with 2 decimals, 是/否."""
    if spec.kind == "yesno":
        return "" if _blank(raw) else ("是" if bool(value) else "否")
    if spec.kind in NUMERIC_KINDS:
        if _blank(raw) or value is None or (isinstance(value, float) and np.isnan(value)):
            return _text(raw)
        if spec.kind == "amount" or spec.show == "money":
            return f"{Decimal(repr(float(value))):.2f}"
        return show(float(value))
    return _text(raw)


def _same(given: Any, original: Any, shown: str) -> bool:
    """原值 agrees with the branch's value: equal numbers, or equal texts."""
    try:
        return Decimal(_text(given).replace(",", "")) == Decimal(
            _text(original).replace(",", "") or "x"
        )
    except InvalidOperation:
        return _text(given) in (_text(original), shown)


def apply_overrides(
    adjustments: Adjustments, people: pd.DataFrame, rules: Rulebook
) -> pd.DataFrame:
    """The people with each acceptable override's outcome (and what depends on it), and every
    applied adjustment's sentence in `adjustment_note` (also below 预警与处理)."""
    if not any(a.status != "refused" and a.kind for a in adjustments.items):
        people["adjustment_note"] = pd.Series("", index=people.index, dtype=object)
        return people  # nothing to apply: no per-person work in a bank's run
    notes: dict[Any, list[str]] = {}
    ids = people["emp_id"].map(_text) if len(people) else pd.Series(dtype=object)
    refused = people["refused"].to_numpy(dtype=bool) if len(people) else np.zeros(0, bool)
    key_of = {word: key for key, word in rules.outcomes.items() if word}
    for a in adjustments.items:
        if a.status == "refused" or not a.kind:
            continue
        at = np.flatnonzero(ids.to_numpy(dtype=object) == a.emp_id) if len(people) else []
        if not len(at):
            if a.kind == "override":
                a.refuse(P.APPEAL_PERSON, "emp_id", a.emp_id)
            else:
                a.refuse(P.APPEAL_NOT_SCORED, "emp_id", a.emp_id, "所在工作簿被拒收")
            continue
        i = people.index[at[0]]
        if refused[at[0]]:
            why = str(people.at[i, "errors"] or "该行未通过校验")
            a.refuse(P.APPEAL_NOT_SCORED, "emp_id", a.emp_id, why)
            continue
        if a.kind == "override":
            name = _text(people.at[i, "name"])
            if a.name and name != a.name:
                a.refuse(P.APPEAL_NAME, "name", a.name, name)
                continue
            a.before, a.after = _text(people.at[i, "outcome"]), a.new
            _set_outcome(people, i, a.new, key_of[a.new], rules)
            a.status = "applied"
        notes.setdefault(i, []).append(a.note())
    people["adjustment_note"] = pd.Series(
        ["\n".join(notes.get(i, [])) for i in people.index], index=people.index, dtype=object
    )
    if notes and "flags_text" in people:
        text = people["flags_text"].astype(object).fillna("")
        extra = people["adjustment_note"]
        people["flags_text"] = np.where(
            extra != "", np.where(text != "", text + "\n" + extra, extra), text
        )
    return people


def _set_outcome(people: pd.DataFrame, i: Any, word: str, key: str, rules: Rulebook) -> None:
    """The person's outcome, and what depends on it, as `flags.apply_flags` sets them."""
    people.at[i, "outcome"] = word
    people.at[i, "action"] = key if key in ("dismiss", "demote") else ""
    if key == "dismiss":
        level = rules.dismiss_level
    elif key == "demote":
        level = rules.demote_level.get(str(people.at[i, "role"]), "")
    else:
        level = people.at[i, "role_label"]
    people.at[i, "recommended_level"] = level


def reapply_overrides(people: pd.DataFrame, rows: list[dict[str, Any]], rules: Rulebook) -> None:
    """The overrides a run applied (the ledger's `adjustments` rows), applied again to a scoring
    of its stored inputs (`kpi-excel compare`: to the result under each rulebook); an outcome
    word that is not one of `rules`' is left out."""
    key_of = {word: key for key, word in rules.outcomes.items() if word}
    if not len(people):
        return
    ids = people["emp_id"].map(_text).to_numpy(dtype=object)
    ok = ~people["refused"].astype(bool).to_numpy()
    for r in rows:
        if r.get("kind") == "override" and r.get("status") == "applied" and r["after"] in key_of:
            for i in people.index[(ids == r["emp_id"]) & ok]:
                _set_outcome(people, i, r["after"], key_of[r["after"]], rules)


def cell_notes(adjustments: Adjustments) -> list[dict[str, Any]]:
    """A note on each corrected cell of a branch workbook (its 原始数据 sheet marks it)."""
    out = []
    for a in adjustments.applied:
        if a.kind == "correct" and a.branch_file:
            out.append(
                P.problem(
                    P.APPEAL_APPLIED, a.branch_file, a.branch_cell, a.label, a.after, a.note()
                )
            )
    return out


def table_rows(adjustments: Adjustments, people: pd.DataFrame | None = None) -> list[dict]:
    """The rows of the summary's 申诉调整 sheet and of the report: every adjustment, applied or
    not, with its person, what changed and why."""
    branch: dict[str, tuple[str, str, str]] = {}
    if people is not None and len(people):
        for emp, code, bname, name in zip(
            people["emp_id"].map(_text), people["branch_code"].map(_text),
            people["branch_name"].map(_text), people["name"].map(_text), strict=True,
        ):  # fmt: skip
            branch.setdefault(emp, (code, bname, name))
    rows = []
    for a in adjustments.items:
        code, bname, name = branch.get(a.emp_id, ("", "", ""))
        rows.append({
            "status": "已采用" if a.status == "applied" else "未采用",
            "branch": f"{bname}({code})" if code else "", "emp_id": a.emp_id,
            "name": a.name or name, "kind": a.kind_label, "label": a.label,
            "before": a.before, "after": a.after if a.status == "applied" else _text(a.new),
            "reason": a.reason, "approver": a.approver, "date": a.date,
            "source": a.source, "refusal": a.refusal,
        })  # fmt: skip
    for file, reason in adjustments.refused_files:
        rows.append({
            "status": "未采用", "branch": "", "emp_id": "", "name": "", "kind": "", "label": "",
            "before": "", "after": "", "reason": "", "approver": "", "date": "",
            "source": file, "refusal": reason,
        })  # fmt: skip
    return rows


TABLE_HEADERS = {
    "status": ("状态", 7), "branch": ("机构", 16), "emp_id": ("员工编号", 10),
    "name": ("姓名", 8), "kind": ("类型", 10), "label": ("调整项", 12),
    "before": ("调整前", 10), "after": ("调整后", 10), "reason": ("理由", 30),
    "approver": ("审批人", 8), "date": ("审批日期", 11), "source": ("来源", 26),
    "refusal": ("未采用原因", 40),
}  # fmt: skip
