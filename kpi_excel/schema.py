"""The input contract (CONTRACT.md), declared apart from the code that checks it.

Each field has a key, its canonical label, a type and whether every row must fill it in (such
a column must also be present). What people of one group must fill in besides is a rule: the
rulebook's `groups.<group>.required_fields`. `validate.py` runs these declarations; `read.py`
uses the labels to find columns.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DATA_SHEET = "考核数据"
INFO_SHEET = "基本信息"


@dataclass(frozen=True)
class Field:
    key: str
    label: str  # canonical header label, with its unit
    kind: str  # text | role | amount | count | number | yesno
    required: bool  # every row must fill it in (and the column must be present)
    default: object = None  # value of a blank optional cell


def _month_fields() -> list[Field]:
    return [Field(f"deposit_m{m}", f"{m}月存款日均(万元)", "amount", False) for m in range(1, 13)]


FIELDS: list[Field] = [
    Field("emp_id", "员工编号", "text", True),
    Field("name", "姓名", "text", True),
    Field("role", "岗位", "role", True),
    Field("deposit_base", "基数存款日均(万元)", "amount", True),
    Field("deposit_avg", "本期存款日均(万元)", "amount", True),
    *_month_fields(),
    Field("loan_balance", "贷款余额(万元)", "amount", True),
    Field("npl_balance", "不良贷款余额(万元)", "amount", True),
    Field("due_amount", "应收贷款本息(万元)", "amount", True),
    Field("collected_amount", "实收贷款本息(万元)", "amount", True),
    Field("mid_income_base", "上年同期中间业务收入(万元)", "amount", False),
    Field("mid_income", "本期中间业务收入(万元)", "amount", False),
    Field("new_accounts", "新开对公基本账户(个)", "count", False),
    Field("conduct_deduction", "行为规范扣分", "number", False, 0.0),
    Field("major_violation", "重大违规违纪", "yesno", False, False),
    Field("incident_loss", "案件事故损失及罚款(万元)", "amount", False, 0.0),
    Field("major_accident", "重大安全责任事故", "yesno", False, False),
    Field("remarks", "备注", "text", False),
]
FIELD_BY_KEY = {f.key: f for f in FIELDS}
NUMERIC_KINDS = ("amount", "count", "number")
# Columns without which a workbook cannot be scored at all.
REQUIRED_COLUMNS = [f.key for f in FIELDS if f.required]

# 基本信息: label -> key
INFO_FIELDS = {
    "机构号": "branch_code",
    "机构名称": "branch_name",
    "考核期": "period",
    "填报人": "filled_by",
    "联系电话": "phone",
    "模板版本": "template_version",
}
BRANCH_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

YES = {"是", "Y", "YES", "TRUE", "1", "1.0", "√"}
NO = {"否", "N", "NO", "FALSE", "0", "0.0", "×"}

_UNIT_RE = re.compile(r"\([^()]*\)$")
_SPACE_RE = re.compile(r"\s+")


def label_key(label: object) -> str:
    """Normalise a header label: NFKC (full-width folded), spaces dropped, unit in brackets dropped."""
    if not isinstance(label, str):
        label = "" if label is None else str(label)
    text = _SPACE_RE.sub("", unicodedata.normalize("NFKC", label))
    return _UNIT_RE.sub("", text)


LABEL_TO_KEY = {label_key(f.label): f.key for f in FIELDS}
