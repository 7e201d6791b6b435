"""Build branch KPI workbooks (.xlsx) per CONTRACT.md, for tests and sample data.

Written with openpyxl only, so tests never depend on the reader under test.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

Value = str | float | int | None

# Contract key -> canonical header label of sheet 考核数据 (this order = tidy column order).
LABELS: dict[str, str] = {
    "emp_id": "员工编号",
    "name": "姓名",
    "role": "岗位",
    "deposit_base": "基数存款日均(万元)",
    "deposit_avg": "本期存款日均(万元)",
    **{f"deposit_m{m}": f"{m}月存款日均(万元)" for m in range(1, 13)},
    "loan_balance": "贷款余额(万元)",
    "npl_balance": "不良贷款余额(万元)",
    "due_amount": "应收贷款本息(万元)",
    "collected_amount": "实收贷款本息(万元)",
    "mid_income_base": "上年同期中间业务收入(万元)",
    "mid_income": "本期中间业务收入(万元)",
    "new_accounts": "新开对公基本账户(个)",
    "conduct_deduction": "行为规范扣分",
    "major_violation": "重大违规违纪",
    "incident_loss": "案件事故损失及罚款(万元)",
    "major_accident": "重大安全责任事故",
    "remarks": "备注",
}

# Contract key -> label of sheet 基本信息 (column A).
INFO_LABELS: dict[str, str] = {
    "branch_code": "机构号",
    "branch_name": "机构名称",
    "period": "考核期",
    "filled_by": "填报人",
    "phone": "联系电话",
    "template_version": "模板版本",
}

REQUIRED: tuple[str, ...] = (
    "emp_id",
    "name",
    "role",
    "deposit_base",
    "deposit_avg",
    "loan_balance",
    "npl_balance",
    "due_amount",
    "collected_amount",
)

TEXT_KEYS = frozenset({"emp_id", "name", "remarks"})  # always written as text cells
_DECIMAL_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")  # ASCII only, no spaces
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_EXTRA_COLUMNS = {"序号": None, "所属部门": ("公司金融部", "个人金融部", "普惠金融部")}


def _is_ignored(key: str) -> bool:
    # Keys a vector row carries that are not 考核数据 columns.
    return key == "period" or key.startswith("expected_")


def _cell_value(key: str, value: Value) -> Value:
    """Text a branch typed -> the cell value: decimal text becomes a number."""
    if value is None or value == "":
        return None
    if key in TEXT_KEYS:
        return str(value)
    if isinstance(value, str) and _DECIMAL_RE.fullmatch(value):
        return float(value) if "." in value else int(value)
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return value


def _number_text(value: Value) -> str | None:
    """The decimal text of a numeric input, as typed (None if not numeric)."""
    if isinstance(value, str):
        return value if _DECIMAL_RE.fullmatch(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return format(Decimal(str(value)), "f")


def _messy_number(text: str, rng: random.Random) -> str:
    """One text form that shows the same decimal number as `text`."""
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, frac = body.partition(".")
    forms = ["fullwidth", "spaces"]
    if len(whole) > 3:
        forms += ["thousands", "thousands"]
    form = rng.choice(forms)
    if form == "thousands":
        return f"{sign}{int(whole):,}{dot}{frac}"
    if form == "fullwidth":
        return text.translate(_FULLWIDTH)
    return f" {text} "


def _messy_labels(keys: Sequence[str], rng: random.Random) -> dict[str, str]:
    """Header variants: full-width brackets, no unit, padding; each variant used at least once."""
    variants = ["fullwidth", "nounit", "canonical"]
    rng.shuffle(variants)
    unit_keys = [k for k in keys if "(" in LABELS[k]]
    labels = {k: LABELS[k] for k in keys}
    for i, key in enumerate(unit_keys):
        base, unit = LABELS[key].split("(", 1)
        variant = variants[i % len(variants)]
        if variant == "fullwidth":
            labels[key] = f"{base}（{unit[:-1]}）"
        elif variant == "nounit":
            labels[key] = base
    padded = rng.sample(list(keys), k=max(1, len(keys) // 3))
    for key in padded:
        left, right = rng.choice([(" ", ""), ("", " "), ("\u3000", ""), (" ", "\u3000")])
        labels[key] = f"{left}{labels[key]}{right}"
    return labels


def write_branch_workbook(
    path: str | Path,
    *,
    branch_code: str,
    branch_name: str,
    period: str,
    rows: Sequence[Mapping[str, Value]],
    style: str = "tidy",
    extra_info: Mapping[str, Value] | None = None,
    seed: int = 0,
) -> Path:
    """Write one branch workbook and return its path.

    `rows` use contract keys (LABELS); `period` and `expected_*` keys are ignored, any
    other unknown key is an error. A column is written when its key is in at least one
    row (required columns always). `extra_info` adds or overrides 基本信息 rows, keyed by
    contract key or label; a None value drops that row. style="messy" scrambles the
    layout deterministically from `seed` while keeping every value.
    """
    if style not in ("tidy", "messy"):
        raise ValueError(f"unknown style {style!r}")
    present = {k for row in rows for k in row if not _is_ignored(k)}
    unknown = present - LABELS.keys()
    if unknown:
        raise ValueError(f"unknown keys: {sorted(unknown)}")
    keys = [k for k in LABELS if k in present or k in REQUIRED]
    messy = style == "messy"
    rng = random.Random(seed)

    wb = Workbook()
    info_ws = wb.active
    info_ws.title = "基本信息"
    info: dict[str, Value] = {
        "机构号": branch_code,
        "机构名称": branch_name,
        "考核期": period,
        "填报人": "",
        "联系电话": "",
        "模板版本": "1",
    }
    for k, v in (extra_info or {}).items():
        info[INFO_LABELS.get(k, k)] = v
    info_items = [(label, v) for label, v in info.items() if v is not None]
    if messy:
        rng.shuffle(info_items)
    for label, v in info_items:
        info_ws.append([label, None if v == "" else v])
    info_ws.column_dimensions["A"].width = 12
    info_ws.column_dimensions["B"].width = 24

    ws = wb.create_sheet("考核数据")
    labels = _messy_labels(keys, rng) if messy else dict(LABELS)
    columns: list[str] = list(keys)
    if messy:
        rng.shuffle(columns)
        for extra in rng.sample(sorted(_EXTRA_COLUMNS), k=rng.randint(1, 2)):
            columns.insert(rng.randint(0, len(columns)), extra)
    ws.append([labels.get(c, c) for c in columns])

    for n, row in enumerate(rows, start=1):
        cells: list[Value] = []
        for col in columns:
            if col in _EXTRA_COLUMNS:
                choices = _EXTRA_COLUMNS[col]
                cells.append(n if choices is None else rng.choice(choices))
                continue
            raw = row.get(col)
            text = None if col in TEXT_KEYS else _number_text(raw)
            if messy and text is not None and rng.random() < 0.3:
                cells.append(_messy_number(text, rng))
            else:
                cells.append(_cell_value(col, raw))
        ws.append(cells)
        # Mark text columns as text, as the template does.
        for i, col in enumerate(columns, start=1):
            if col in TEXT_KEYS:
                ws.cell(row=ws.max_row, column=i).number_format = "@"
        if messy and n < len(rows) and (n == 1 or rng.random() < 0.3):
            ws.append([None] * len(columns))  # a fully blank row between persons

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def vector_rows(csv_path: str | Path) -> list[dict[str, str]]:
    """Rows of a vectors CSV as strings ('' = blank): `period`, contract keys and expected_*."""
    with open(csv_path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        keep = [c for c in reader.fieldnames or [] if c in LABELS or _is_ignored(c)]
        return [{c: (row.get(c) or "") for c in keep} for row in reader]
