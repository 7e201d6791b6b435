"""The input contract, declared apart from the code that checks it.

The fields of sheet 考核数据 (key, label with its unit, type, range, decimals, whether every row
must fill it, the value of a blank cell) are declared by the rulebook's `fields` section: a
scheme's input is part of its rules. `Contract` holds them for the code that reads (`read.py`,
labels to columns), checks (`rowchecks.py`) and writes (the template, 原始数据). What people of
one group must fill in besides is the rulebook's `groups.<group>.required_fields`.

The 基本信息 sheet (机构号, 机构名称, 考核期 …) is the same for every scheme and is declared here.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

DATA_SHEET = "考核数据"
INFO_SHEET = "基本信息"
NUMERIC_KINDS = ("amount", "count", "number")


@dataclass(frozen=True)
class Field:
    key: str
    label: str  # canonical header label, with its unit
    kind: str  # text | role | amount | count | number | yesno
    required: bool  # every row must fill it in (and the column must be present)
    default: object = None  # value of a blank optional cell
    minimum: Decimal | None = None  # numbers: the smallest value allowed (inclusive)
    maximum: Decimal | None = None  # numbers: the largest value allowed (inclusive)
    decimals: int | None = None  # numbers: the most decimals a cell may carry
    month: int | None = None  # a field filled in per calendar month: its month
    at_most: str | None = None  # numbers: another field this one may not exceed
    show: str = "number"  # money: shown with 2 decimals
    note: str = ""  # what the field holds, for the template's hint
    ratio: bool = False  # numbers: a ratio (0.85 = 85%), which a percent-formatted cell may hold

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def whole(self) -> bool:
        return self.kind == "count"

    @property
    def name(self) -> str:
        """The label without its unit, as messages name the column."""
        return self.label.split("(")[0]

    @property
    def unit(self) -> str:
        """The unit in the label's brackets (万元, 个), '' if none."""
        if self.label.endswith(")") and "(" in self.label:
            return self.label[self.label.rindex("(") + 1 : -1]
        return ""


@dataclass(frozen=True)
class Contract:
    """The fields of 考核数据, in sheet order."""

    fields: tuple[Field, ...]
    by_key: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {f.key: f for f in self.fields})

    @cached_property
    def label_to_key(self) -> dict[str, str]:
        return {label_key(f.label): f.key for f in self.fields}

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fields]

    @property
    def numeric(self) -> list[str]:
        return [f.key for f in self.fields if f.numeric]

    @property
    def required_columns(self) -> list[str]:
        """Columns without which a workbook cannot be scored at all."""
        return [f.key for f in self.fields if f.required]

    @cached_property
    def digest(self) -> str:
        """Identifies what reading depends on (labels and required columns), for caches."""
        text = "\n".join(f"{f.key}\t{f.label}\t{f.required}" for f in self.fields)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def __getstate__(self) -> dict:  # cached properties are rebuilt after pickling
        return {"fields": self.fields}

    def __setstate__(self, state: dict) -> None:
        object.__setattr__(self, "fields", state["fields"])
        self.__post_init__()


# 基本信息: label -> key
INFO_FIELDS = {
    "机构号": "branch_code",
    "机构名称": "branch_name",
    "考核期": "period",
    "填报人": "filled_by",
    "联系电话": "phone",
    "模板版本": "template_version",
    "上级机构": "parent",  # optional: the branch's parent (分行), which the summary groups by
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
