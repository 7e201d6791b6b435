"""Appeals with a trail (issue 13, part 1): an adjustments workbook in inbox/<period>/调整/ corrects
one person's input and overrides another's outcome; both show in results.csv, the branch workbook,
the summary's 申诉调整, report.html and the ledger with reason and approver. Refused adjustments
are listed with their Chinese reasons and change nothing.

Hand computation (main rulebook, 2026FY): 李四 (支行行长) with 贷款余额 1000 and 不良贷款余额 120 has
不良率 12% > 10% (score_npl 0, A14-1-NPL) and total 40+0+20+10 = 70 <= 90 (A14-1-SCORE): 降级,
建议职级 降级聘用. Corrected to 0: 不良率 0, score_npl 30, total 100.00, 良好, no flag: 正常,
建议职级 支行行长. 赵六 (高级客户经理) with 不良贷款余额 120: total 40+0+20+10 = 70 <= 70
(A14-2-SCORE70, 解聘); the accepted appeal makes the outcome 正常 and the recommended level the
role's own, 高级客户经理; his flags and total stay as scored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from kpi_excel.cli import main
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person

PERIOD = "2026FY"
HEAD_NOTE = (
    "经申诉调整: 不良贷款余额由 120.00 改为 0.00(依据贷款已核销,审批人王行长,日期2026-10-15)"
)
SENIOR_NOTE = "经申诉调整: 考核结论由 解聘 改为 正常(依据申诉成立,审批人稽核办刘敏,日期2026-10-16)"
CORRECT = ["H001", "李四", "改正数据", "不良贷款余额", 120, 0, None, "贷款已核销", "王行长",
           dt.date(2026, 10, 15)]  # fmt: skip
OVERRIDE = ["E002", "赵六", "申诉改结论", None, None, None, "正常", "申诉成立", "稽核办刘敏",
            "2026-10-16"]  # fmt: skip


def _people() -> list[dict]:
    return [
        person(GOOD_HEAD, npl_balance="120"),
        GOOD_SENIOR,
        person(GOOD_SENIOR, emp_id="E002", name="赵六", npl_balance="120"),
    ]


def _appeal(inbox, rows: list[list]) -> Path:
    folder = inbox.dir / "调整"
    folder.mkdir(exist_ok=True)
    path = folder / "申诉调整_2026FY.xlsx"
    res = CliRunner().invoke(main, ["appeal", "template", PERIOD, "-o", str(path)])
    assert res.exit_code == 0, res.output
    wb = load_workbook(path)
    ws = wb["申诉调整"]
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_without_appeal_the_head_is_demoted_and_the_senior_dismissed(inbox) -> None:
    inbox.add("b.xlsx", _people(), period=PERIOD)
    res = inbox.run(period=PERIOD)
    assert res.exit_code == 0, res.output
    got = inbox.results(PERIOD)
    assert (got["H001"]["total"], got["H001"]["flags"]) == ("70.00", "A14-1-NPL;A14-1-SCORE")
    assert (got["H001"]["outcome"], got["H001"]["recommended_level"]) == ("降级", "降级聘用")
    assert (got["E002"]["total"], got["E002"]["outcome"]) == ("70.00", "解聘")


def test_an_appeal_corrects_one_input_and_overrides_another_outcome(inbox) -> None:
    inbox.add("b.xlsx", _people(), period=PERIOD)
    _appeal(inbox, [CORRECT, OVERRIDE])
    before = _hashes(inbox.dir)
    res = inbox.run(period=PERIOD)
    assert res.exit_code == 0, res.output
    assert "申诉调整: 采用 2 条, 未采用 0 条" in res.output
    assert HEAD_NOTE in res.output and SENIOR_NOTE in res.output
    assert _hashes(inbox.dir) == before  # the inputs are never modified

    # results.csv: the demotion is gone; the override changed the outcome and the level only
    got = inbox.results(PERIOD)
    head, senior = got["H001"], got["E002"]
    assert (head["npl_ratio"], head["score_npl"], head["total"]) == ("0", "30.00", "100.00")
    assert (head["grade"], head["flags"], head["outcome"]) == ("良好", "", "正常")
    assert head["recommended_level"] == "支行行长"
    assert (senior["total"], senior["flags"]) == ("70.00", "A14-2-SCORE70;A14-2-SCORE85")
    assert (senior["outcome"], senior["recommended_level"]) == ("正常", "高级客户经理")
    assert got["E001"]["outcome"] == "正常"

    # the branch workbook: the outcome with the note, and the corrected cell with its note
    out = inbox.out / PERIOD
    book = load_workbook(next((out / "branches").glob("*.xlsx")))
    ws = book["考核结果"]
    header = next(r for r in ws.iter_rows(values_only=True) if r and "员工编号" in r)
    rows = {r[0]: dict(zip(header, r, strict=False)) for r in ws.iter_rows(values_only=True)}
    assert rows["H001"]["考核结论"] == "正常" and rows["E002"]["考核结论"] == "正常"
    assert rows["E002"]["建议职级"] == "高级客户经理"
    assert SENIOR_NOTE in rows["E002"]["预警与处理(依据条款)"]
    assert HEAD_NOTE in rows["H001"]["预警与处理(依据条款)"]
    explained = [c.value for row in book["计分说明"].iter_rows() for c in row if c.value]
    assert any(HEAD_NOTE in str(v) for v in explained)
    raw = book["原始数据"]
    noted = [c for row in raw.iter_rows() for c in row if c.comment]
    assert [(c.value, HEAD_NOTE in c.comment.text) for c in noted] == [(0, True)]

    # the summary's 申诉调整 sheet
    sheet = load_workbook(out / "summary.xlsx")["申诉调整"]
    table = [r for r in sheet.iter_rows(min_row=3, values_only=True)]
    assert [r[:11] for r in table] == [
        ("已采用", "第一支行(B001)", "H001", "李四", "改正数据", "不良贷款余额", "120.00", "0.00",
         "贷款已核销", "王行长", "2026-10-15"),
        ("已采用", "第一支行(B001)", "E002", "赵六", "申诉改结论", "考核结论", "解聘", "正常",
         "申诉成立", "稽核办刘敏", "2026-10-16"),
    ]  # fmt: skip

    # report.html lists both
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "申诉调整(已采用 2 条,未采用 0 条)" in html
    assert "稽核办刘敏" in html and "贷款已核销" in html

    # the ledger keeps each adjustment with the run that applied it
    db = sqlite3.connect(inbox.out / "ledger.sqlite")
    run_id = db.execute("SELECT id FROM runs").fetchone()[0]
    rows_ = db.execute(
        "SELECT run, emp_id, kind, field, before, after, reason, approver, approved_on, status"
        " FROM adjustments ORDER BY rowid"
    ).fetchall()
    assert rows_ == [
        (run_id, "H001", "correct", "npl_balance", "120.00", "0.00", "贷款已核销", "王行长",
         "2026-10-15", "applied"),
        (run_id, "E002", "override", "outcome", "解聘", "正常", "申诉成立", "稽核办刘敏",
         "2026-10-16", "applied"),
    ]  # fmt: skip
    stored = db.execute("SELECT outcome FROM people WHERE emp_id='E002'").fetchone()[0]
    assert stored == "正常"

    # kpi-excel explain renders the adjustment from the ledger
    res = CliRunner().invoke(main, ["explain", PERIOD, "H001", "--output", str(inbox.out)])
    assert res.exit_code == 0, res.output
    assert f"申诉调整: {HEAD_NOTE}" in res.output


def test_refused_adjustments_are_listed_with_their_reasons_and_change_nothing(inbox) -> None:
    inbox.add("b.xlsx", _people(), period=PERIOD)
    _appeal(inbox, [
        ["X999", None, "改正数据", "不良贷款余额", None, 0, None, "r", "王行长", "2026-10-15"],
        ["H001", None, "改正数据", "存款", None, 0, None, "r", "王行长", "2026-10-15"],
        ["H001", None, "改正数据", "不良贷款余额", None, "八十", None, "r", "王行长", "2026-10-15"],
        ["E002", None, "改正数据", "不良贷款余额", 100, 0, None, "r", "王行长", "2026-10-15"],
        ["E002", "张三", "申诉改结论", None, None, None, "正常", "r", "王行长", "2026-10-15"],
        ["E001", None, "申诉改结论", None, None, None, "优秀", "", "王行长", "2026-10-15"],
        ["H001", None, "改正数据", "应收贷款本息", None, 5, None, "r", None, "昨天"],
        ["E001", None, "改正数据", "贷款余额", None, -5, None, "r", "王行长", "2026-10-15"],
    ])  # fmt: skip
    res = inbox.run(period=PERIOD)
    assert res.exit_code == 1, res.output  # a refused adjustment needs a look
    assert "申诉调整: 采用 0 条, 未采用 8 条" in res.output
    f = "调整/申诉调整_2026FY.xlsx 申诉调整!"
    expected = [
        f"{f}A2「员工编号」「X999」不是本次考核中的人员,该调整未采用",
        f"{f}D3「字段」「存款」不是本考核方案的数据项(可改正的数据项:",
        f"{f}F4「新值」不能采用:「不良贷款余额」应为数字,实际为「八十」,该调整未采用",
        f"{f}E5「原值」「100」与报送数据中的「不良贷款余额」120.00不一致,该调整未采用",
        f"{f}B6「姓名」「张三」与报送数据中该员工的姓名「赵六」不一致,该调整未采用",
        f"{f}G7「新考核结论」「优秀」不是本考核方案的考核结论(应为解聘、降级、预警、正常),"
        "该调整未采用",
        f"{f}H7「理由」未填写,该调整未采用",
        f"{f}I8「审批人」未填写,该调整未采用",
        f"{f}J8「审批日期」「昨天」不是日期(应如 2026-10-15),该调整未采用",
        f"{f}F9「新值」不能采用:「贷款余额」不能为负数,实际为「-5」;"
        "「不良贷款余额」0 大于「贷款余额」-5,该调整未采用",  # checked with the others too
    ]
    for text in expected:
        assert text in res.output
    got = inbox.results(PERIOD)
    assert (got["H001"]["outcome"], got["E002"]["outcome"]) == ("降级", "解聘")
    html = (inbox.out / PERIOD / "report.html").read_text(encoding="utf-8")
    assert "申诉调整(已采用 0 条,未采用 8 条)" in html
    assert "不是本次考核中的人员" in html
    db = sqlite3.connect(inbox.out / "ledger.sqlite")
    statuses = db.execute("SELECT status, COUNT(*) FROM adjustments GROUP BY status").fetchall()
    assert statuses == [("refused", 8)]


def test_the_adjustments_folder_is_not_a_submission(inbox) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR], period=PERIOD)
    _appeal(inbox, [])
    res = inbox.run(period=PERIOD)
    assert res.exit_code == 0, res.output
    assert "工作簿: 共 1 个" in res.output
    assert "已跳过" not in res.output and "申诉调整:" not in res.output


def test_an_adjustments_workbook_without_its_sheet_is_refused(inbox) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR], period=PERIOD)
    (inbox.dir / "调整").mkdir()
    (inbox.dir / "调整" / "notes.xls").write_bytes(b"not a workbook")
    res = inbox.run(period=PERIOD)
    assert res.exit_code == 1
    assert "调整/notes.xls 无法作为申诉调整工作簿读取:申诉调整工作簿应为 .xlsx 文件" in res.output


def test_appeal_template_has_guide_lists_and_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    res = CliRunner().invoke(main, ["appeal", "template", PERIOD, "-o", str(path)])
    assert res.exit_code == 0, res.output
    wb = load_workbook(path)
    assert wb.sheetnames[0] == "说明" and "申诉调整" in wb.sheetnames
    ws = wb["申诉调整"]
    assert [c.value for c in ws[1]] == [
        "员工编号", "姓名", "类型", "字段", "原值", "新值", "新考核结论", "理由", "审批人",
        "审批日期",
    ]  # fmt: skip
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
    assert lists["C2"] == '"改正数据,申诉改结论"'
    assert lists["G2"] == '"解聘,降级,预警,正常"'
    res = CliRunner().invoke(main, ["appeal", "template", PERIOD, "-o", str(path)])
    assert res.exit_code == 2 and "已存在,未覆盖" in res.output


@pytest.mark.parametrize("args", [["appeal", "--help"], ["appeal", "template", "--help"]])
def test_appeal_help_is_chinese(args: list[str]) -> None:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0 and "申诉调整" in res.output


def test_compare_rescores_the_adjusted_inputs_and_keeps_the_overrides(inbox) -> None:
    """The run's stored inputs hold the correction and its overrides apply under both
    rulebooks: re-scored under its own rulebook, nobody changes and every result matches."""
    from kpi_excel.comparison import compare

    inbox.add("b.xlsx", _people(), period=PERIOD)
    _appeal(inbox, [CORRECT, OVERRIDE])
    assert inbox.run(period=PERIOD).exit_code == 0
    result = compare(PERIOD, "main", ledger=inbox.out / "ledger.sqlite")
    assert result.mismatched == [] and len(result.people) == 0
    before = result.before.people.set_index("emp_id")
    assert before.loc["H001", "outcome"] == "正常" and before.loc["H001", "total"] == 100
    assert (before.loc["E002", "outcome"], before.loc["E002", "recommended_level"]) == (
        "正常",
        "高级客户经理",
    )
