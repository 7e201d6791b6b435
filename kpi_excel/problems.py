"""One kind of problem = one named type with a stable code and a Chinese message template.

A problem is a row of the run's problem table: file, sheet, cell, column, check, value, message,
and its level: `refuse_row`, `refuse_file` or `note` (kept, but worth a look).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .numbers import show

PROBLEM_COLUMNS = ["file", "sheet", "cell", "row", "column", "check", "value", "level", "message"]


@dataclass(frozen=True)
class ProblemType:
    code: str
    level: str  # refuse_row | refuse_file | note
    template: str  # str.format fields: file, where (sheet!cell), label, value, extra

    def message(self, **fields: object) -> str:
        return self.template.format(**fields)


def _t(code: str, level: str, template: str) -> ProblemType:
    return ProblemType(code, level, template)


# Row problems: the person is refused (status `rejected`), the rest of the run goes on.
NUMBER_INVALID = _t(
    "number-invalid", "refuse_row", "{file} {where}「{label}」应为数字,实际为「{value}」"
)
NUMBER_NEGATIVE = _t(
    "number-negative", "refuse_row", "{file} {where}「{label}」不能为负数,实际为「{value}」"
)
COUNT_NOT_WHOLE = _t(
    "count-not-whole", "refuse_row", "{file} {where}「{label}」应为整数,实际为「{value}」"
)
TOO_MANY_DECIMALS = _t(
    "too-many-decimals",
    "refuse_row",
    "{file} {where}「{label}」最多保留{extra}位小数,实际为「{value}」,请核实后按规定位数填写",
)
REQUIRED_BLANK = _t("required-blank", "refuse_row", "{file} {where}「{label}」为必填项,不能为空")
ROLE_UNKNOWN = _t(
    "role-unknown",
    "refuse_row",
    "{file} {where}「岗位」「{value}」不是本办法考核的岗位(应为{extra})",
)
YESNO_INVALID = _t(
    "yesno-invalid", "refuse_row", "{file} {where}「{label}」应填 是 或 否,实际为「{value}」"
)
DENOMINATOR_ZERO = _t(
    "denominator-zero", "refuse_row", "{file} {where}「{label}」为0,无法计算{extra},该行不能计分"
)
NUMBER_TOO_LARGE = _t(
    "number-too-large",
    "refuse_row",
    "{file} {where}「{label}」数值「{value}」超过15位整数,超出 Excel 能准确保存的范围,请核实",
)
ABOVE_FIELD = _t("above-field", "refuse_row", "{file} {where}「{label}」{value} 大于{extra}")
NUMBER_BELOW_MIN = _t(
    "number-below-min", "refuse_row", "{file} {where}「{label}」不能小于 {extra},实际为「{value}」"
)
NUMBER_ABOVE_MAX = _t(
    "number-above-max", "refuse_row", "{file} {where}「{label}」不能大于 {extra},实际为「{value}」"
)
EMP_DUPLICATE = _t(
    "emp-duplicate",
    "refuse_row",
    "{file} {where}「员工编号」「{value}」在本次考核中重复,另见 {extra}",
)
FORMULA_NO_VALUE = _t(
    "formula-no-value",
    "refuse_row",
    "{file} {where}「{label}」是公式但没有计算结果(文件未经 Excel 保存),请在 Excel 中打开并保存后提交",
)
CELL_ERROR = _t(
    "cell-error", "refuse_row", "{file} {where}「{label}」是错误值「{value}」,请更正后提交"
)
TEXT_TOO_LONG = _t(
    "text-too-long", "refuse_row", "{file} {where}「{label}」文本超过 {extra} 个字符"
)
PERCENT_FORMAT = _t(
    "percent-format",
    "refuse_row",
    "{file} {where}「{label}」单元格为百分比格式({value}),{extra};"
    "请将单元格格式改为「常规」或「数值」后重新填写",
)
DATE_FORMAT = _t(
    "date-format",
    "refuse_row",
    "{file} {where}「{label}」单元格为{extra}格式(显示为{value}),应填数字;"
    "请将单元格格式改为「常规」或「数值」后重新填写",
)

# Notes: the value is used, the cell is marked for a look.
TEXT_NUMBER = _t(
    "text-number",
    "note",
    "{file} {where}「{label}」以文本形式填写「{value}」,已按数字 {extra} 读取",
)
HIDDEN_DATA = _t("hidden-data", "note", "{file} {where} 处于隐藏的{extra}中,已照常读取")
HEADER_MOVED = _t("header-moved", "note", "{file} {where} 表头不在第1行,已从第{extra}行读取")
IMPLAUSIBLE = _t(
    "implausible", "note", "{file} {where}「{label}」{value}:{extra},请核实(仅提示,不影响计分)"
)
EXTRA_COLUMN = _t(
    "extra-column", "note", "{file} {where} 列「{value}」不是模板中的列,已保留但不参与计分"
)

# File problems: the whole workbook is refused and listed in rejected.csv.
# Why a file cannot be read at all, one code per cause; every message is "<file> 无法读取:<why>".
FILE_UNREADABLE = _t("file-unreadable", "refuse_file", "{file} 无法读取:{extra}")  # damaged
FILE_ENCRYPTED = _t("file-encrypted", "refuse_file", "{file} 无法读取:{extra}")
FILE_FORMAT = _t("file-format", "refuse_file", "{file} 无法读取:{extra}")  # not an .xlsx
FILE_TOO_LARGE = _t("file-too-large", "refuse_file", "{file} 无法读取:{extra}")
FILE_UNSAFE = _t("file-unsafe", "refuse_file", "{file} 无法读取:{extra}")  # bomb, DTD
FILE_UNSUPPORTED = _t("file-unsupported", "refuse_file", "{file} 无法读取:{extra}")
FILE_NOT_READ = (
    FILE_UNREADABLE, FILE_ENCRYPTED, FILE_FORMAT, FILE_TOO_LARGE, FILE_UNSAFE, FILE_UNSUPPORTED
)  # fmt: skip
SHEET_MISSING = _t(
    "sheet-missing",
    "refuse_file",
    "{file} 缺少工作表{value},请使用标准模板(工作簿中的工作表:{extra})",
)
COLUMN_MISSING = _t("column-missing", "refuse_file", "{file} 考核数据 缺少必需的列「{label}」")
HEADER_DUPLICATE = _t(
    "header-duplicate",
    "refuse_file",
    "{file} {where} 列标题「{label}」重复出现(另见 {extra}),无法确定取哪一列",
)
HEADER_MERGED = _t(
    "header-merged",
    "refuse_file",
    "{file} {where} 列标题「{label}」是跨多列的合并单元格,其下被合并的列中也有数据,"
    "无法确定取哪一列;请取消合并,每列只写一个标题",
)
INFO_FORMULA_NO_VALUE = _t(
    "info-formula-no-value",
    "refuse_file",
    "{file} {where}「{label}」是公式但没有计算结果(文件未经 Excel 保存),请在 Excel 中打开并保存后提交",
)
INFO_CELL_ERROR = _t(
    "info-cell-error", "refuse_file", "{file} {where}「{label}」是错误值「{value}」,请更正后提交"
)
INFO_MISSING = _t("info-missing", "refuse_file", "{file} {where}「{label}」未填写")
BRANCH_CODE_INVALID = _t(
    "branch-code-invalid",
    "refuse_file",
    "{file} {where}「机构号」「{value}」格式不正确,只能包含字母、数字、- 和 _",
)
PERIOD_INVALID = _t(
    "period-invalid", "refuse_file", "{file} {where}「考核期」「{value}」格式不正确"
)
PERIOD_MISMATCH = _t(
    "period-mismatch",
    "refuse_file",
    "{file} {where}「考核期」「{value}」与本次考核期 {extra} 不一致",
)
BRANCH_DUPLICATE = _t(
    "branch-duplicate",
    "refuse_file",
    "{file} {where}「机构号」「{value}」已由 {extra} 提交,两个文件均不予计分",
)
NO_ROWS = _t("no-rows", "note", "{file} {where} 没有任何人员数据")
FILE_DUPLICATE = _t("file-duplicate", "note", "{file} 与 {extra} 内容完全相同,只计一次")


# Adjustments (申诉调整, appeal.py): a refused adjustment is listed with its reason, never applied;
# the person is scored on the branch's own figures. Every message names the adjustments workbook,
# its sheet and cell.
APPEAL_FILE = _t("appeal-file", "refuse_appeal", "{file} 无法作为申诉调整工作簿读取:{extra}")
APPEAL_COLUMN_MISSING = _t(
    "appeal-column-missing",
    "refuse_appeal",
    "{file} {where} 缺少必需的列「{label}」,整个文件未采用",
)
APPEAL_BLANK = _t("appeal-blank", "refuse_appeal", "{file} {where}「{label}」未填写,该调整未采用")
APPEAL_KIND = _t(
    "appeal-kind",
    "refuse_appeal",
    "{file} {where}「类型」「{value}」不正确(应为{extra}),该调整未采用",
)
APPEAL_FIELD = _t(
    "appeal-field",
    "refuse_appeal",
    "{file} {where}「字段」「{value}」不是本考核方案的数据项(可改正的数据项:{extra}),该调整未采用",
)
APPEAL_PERSON = _t(
    "appeal-person",
    "refuse_appeal",
    "{file} {where}「员工编号」「{value}」不是本次考核中的人员,该调整未采用",
)
APPEAL_NOT_SCORED = _t(
    "appeal-not-scored",
    "refuse_appeal",
    "{file} {where}「员工编号」「{value}」本次未计分({extra}),该调整未采用",
)
APPEAL_NAME = _t(
    "appeal-name",
    "refuse_appeal",
    "{file} {where}「姓名」「{value}」与报送数据中该员工的姓名「{extra}」不一致,该调整未采用",
)
APPEAL_OLD_VALUE = _t(
    "appeal-old-value",
    "refuse_appeal",
    "{file} {where}「原值」「{value}」与报送数据中的「{label}」{extra}不一致,该调整未采用",
)
APPEAL_VALUE = _t(
    "appeal-value", "refuse_appeal", "{file} {where}「新值」不能采用:{extra},该调整未采用"
)
APPEAL_OUTCOME = _t(
    "appeal-outcome",
    "refuse_appeal",
    "{file} {where}「新考核结论」「{value}」不是本考核方案的考核结论(应为{extra}),该调整未采用",
)
APPEAL_DATE = _t(
    "appeal-date",
    "refuse_appeal",
    "{file} {where}「审批日期」「{value}」不是日期(应如 2026-10-15),该调整未采用",
)
APPEAL_DUPLICATE = _t(
    "appeal-duplicate",
    "refuse_appeal",
    "{file} {where} 与 {extra} 调整同一员工的同一项,无法确定采用哪一条,两条均未采用",
)
APPEAL_APPLIED = _t("appeal-applied", "note", "{file} {where} {extra}")


def problem(
    kind: ProblemType,
    file: str,
    cell: str,
    column: str,
    value: Any,
    extra: Any = "",
    sheet: str = "考核数据",
) -> dict[str, Any]:
    """One row of the problem table; `value` is shown as the clerk would recognise it."""
    where = f"{sheet}!{cell}" if cell else sheet
    return {
        "file": file,
        "sheet": sheet,
        "cell": cell,
        "row": None,
        "column": column,
        "check": kind.code,
        "value": "" if value is None else show(value),
        "level": kind.level,
        "message": kind.message(
            file=file,
            where=where,
            label=column,
            value=show(value) if value is not None else "",
            extra=extra,
        ),
    }
