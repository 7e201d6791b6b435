"""Values that are numbers but hardly real (不良贷款余额 below 1 万元 beside loans above 10,000
万元; 本期存款日均 a hundred times its base) are noted in yellow with the reason, never refused,
and scored exactly as without the note. The checks are the rulebook's `plausibility` section:
conditions in the formula language, loaded strictly, linted by `rules check`, shown by `rules
show`."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import kpi_excel
from kpi_excel.cli import main
from kpi_excel.rulebook import default_rulebook_path, load_rulebook
from kpi_excel.rules_doc import write_rules_doc
from kpi_excel.rules_lint import check_rules
from tests.conftest import GOOD_SENIOR, person

NPL_NOTE = (
    "第一支行.xlsx 考核数据!G3「不良贷款余额」0.5:不足1万元,而「贷款余额」为20000万元"
    "(超过10000万元),可能按百分比或其他单位填写,请核实(仅提示,不影响计分)"
)
DEPOSIT_NOTE = (
    "第一支行.xlsx 考核数据!E4「本期存款日均」1300:达到「基数存款日均」13万元的100倍以上,"
    "可能按元填写,或基数少填了位数,请核实(仅提示,不影响计分)"
)
ROWS = [
    GOOD_SENIOR,
    person(GOOD_SENIOR, emp_id="E002", loan_balance="20000", npl_balance="0.5"),
    person(GOOD_SENIOR, emp_id="E003", deposit_base="13", deposit_avg="1300"),
    # just inside every limit: nothing to note
    person(GOOD_SENIOR, emp_id="E004", loan_balance="20000", npl_balance="1"),
    person(GOOD_SENIOR, emp_id="E005", loan_balance="10000", npl_balance="0.5"),
    person(GOOD_SENIOR, emp_id="E006", loan_balance="20000", npl_balance="0"),
    person(GOOD_SENIOR, emp_id="E007", deposit_base="13.01", deposit_avg="1300"),
]


def _without_checks(tmp_path: Path) -> Path:
    """The shipped rulebook without its plausibility section (the file's last)."""
    text = default_rulebook_path().read_text(encoding="utf-8")
    head, found, _ = text.partition("\nplausibility:\n")
    assert found
    path = tmp_path / "rules.yaml"
    path.write_text(head, encoding="utf-8")
    return path


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_implausible_values_are_noted_and_scored_as_without_the_checks(inbox, tmp_path) -> None:
    inbox.add("第一支行.xlsx", ROWS)
    assert inbox.run().exit_code == 0
    out = inbox.out / "2026Q3"
    noted = _csv(out / "results.csv")
    assert all(r["status"] == "scored" and r["errors"] == "" for r in noted)

    plain = tmp_path / "plain"
    res = CliRunner().invoke(
        main, ["run", "2026Q3", "--inbox", str(inbox.dir), "--output", str(plain),
               "--rules", str(_without_checks(tmp_path))],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert _csv(plain / "2026Q3" / "results.csv") == noted

    report = (out / "report.html").read_text(encoding="utf-8")
    assert NPL_NOTE in report and DEPOSIT_NOTE in report
    assert "不足1万元" not in (plain / "2026Q3" / "report.html").read_text(encoding="utf-8")

    (book,) = (out / "branches").glob("*.xlsx")
    raw = openpyxl.load_workbook(book)["原始数据"]
    marked = {c.value: c for row in raw.iter_rows() for c in row if c.comment}
    assert set(marked) == {0.5, 1300}  # the two cells, nothing else
    assert {c.fill.fgColor.rgb for c in marked.values()} == {"FFFFEB9C"}  # yellow: a note
    assert marked[0.5].comment.text == NPL_NOTE
    assert marked[1300].comment.text == DEPOSIT_NOTE


def test_a_refused_row_keeps_its_reason_and_gets_the_note_too(inbox) -> None:
    inbox.add("第一支行.xlsx", [GOOD_SENIOR, person(ROWS[1], name=None)])
    inbox.run()
    got = inbox.results()["E002"]
    assert got["status"] == "rejected"
    assert got["errors"] == "第一支行.xlsx 考核数据!B3「姓名」为必填项,不能为空"  # notes stay out
    assert NPL_NOTE in (inbox.out / "2026Q3" / "report.html").read_text(encoding="utf-8")


def test_the_library_notes_them_in_its_problems_and_scores_them_the_same(tmp_path) -> None:
    frame = pd.DataFrame(ROWS).astype({"loan_balance": float, "npl_balance": float})
    branch = {"branch_code": "B001", "branch_name": "第一支行"}
    scored = kpi_excel.score(frame, "2026Q3", **branch)
    notes = scored.problems[scored.problems["check"] == "implausible"]
    assert notes[["cell", "row", "level", "value"]].values.tolist() == [
        ["G3", 1, "note", "0.5"],
        ["E4", 2, "note", "1300"],
    ]
    assert notes["message"].tolist() == [
        NPL_NOTE.replace("第一支行.xlsx", "<DataFrame>"),
        DEPOSIT_NOTE.replace("第一支行.xlsx", "<DataFrame>"),
    ]
    assert not scored.people["refused"].any()
    plain = kpi_excel.score(frame, "2026Q3", _without_checks(tmp_path), **branch)
    assert scored.results.equals(plain.results)


def test_a_check_reads_defaults_parameters_and_peer_averages(tmp_path: Path) -> None:
    """A blank optional cell counts as its default; the check's own and the rulebook's
    parameters and the peer aggregates of the formula language all work in `when`."""
    text = _without_checks(tmp_path).read_text(encoding="utf-8") + (
        "\nparameters:\n  big: {value: 50, label: 大额, article: 示例}\n"
        "plausibility:\n"
        "  - label: 损失为空\n    field: incident_loss\n"
        '    when: "incident_loss = 0 AND 重大安全责任事故"\n'
        "    message: 发生重大安全责任事故却无损失\n"
        "  - label: 远高于同机构平均\n    field: deposit_avg\n"
        '    when: "deposit_avg > times * AVG(deposit_avg BY 机构号) AND deposit_avg > big"\n'
        "    parameters: {times: 2}\n"
        "    message: 超过同机构平均的{times}倍且超过{big}万元\n"
    )
    (tmp_path / "rules.yaml").write_text(text, encoding="utf-8")
    rows = [
        person(GOOD_SENIOR, major_accident="是", incident_loss=None),
        person(GOOD_SENIOR, emp_id="E002", deposit_avg="9000"),
        *(person(GOOD_SENIOR, emp_id=f"E00{i}") for i in range(3, 6)),
    ]
    scored = kpi_excel.score(
        pd.DataFrame(rows), "2026Q3", tmp_path / "rules.yaml", branch_code="B1", branch_name="一"
    )
    notes = scored.problems[scored.problems["check"] == "implausible"]
    assert notes["message"].tolist() == [
        "<DataFrame> 考核数据!L2「案件事故损失及罚款」:发生重大安全责任事故却无损失,"
        "请核实(仅提示,不影响计分)",
        "<DataFrame> 考核数据!E3「本期存款日均」9000:超过同机构平均的2倍且超过50万元,"
        "请核实(仅提示,不影响计分)",
    ]


# --- the rulebook: loaded strictly, linted, shown -------------------------------------------


def _rules_with(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        _without_checks(tmp_path).read_text(encoding="utf-8") + "\nplausibility:\n" + section,
        encoding="utf-8",
    )
    return path


CHECK = '  - label: 检查\n    field: {field}\n    when: "{when}"\n    message: {message}\n'


@pytest.mark.parametrize(
    ("field", "when", "message", "problem"),
    [
        ("npl_balance", "npl_balanse > 0", "过小", "plausibility[0].when 公式「npl_balanse > 0」"
         "第1个字符处: 未知的名称「npl_balanse」(是否应为「npl_balance」?)"),
        ("npl_balance", "npl_balance + 1", "过小", "plausibility[0].when 公式「npl_balance + 1」"
         "第1个字符处: 公式应算出是/否值(如比较),却算出数值"),
        ("npl_balance", "new_deposit > 0", "过小", "plausibility[0].when 公式「new_deposit > 0」"
         "第1个字符处: 未知的名称「new_deposit」"),
        ("remarks", "npl_balance > 0", "过小", "plausibility[0].field 引用的字段「remarks」不是数值字段"),
        ("npl_balanse", "npl_balance > 0", "过小", "plausibility[0].field 引用了未定义的字段"
         "「npl_balanse」(是否应为 npl_balance?)"),
        ("npl_balance", "npl_balance > 0", "为{npl_balanse}万元", "plausibility[0].message 中的"
         "「{npl_balanse}」不是本检查的参数、规则参数或数值字段(是否应为 npl_balance?)"),
    ],
)  # fmt: skip
def test_a_broken_check_is_refused_naming_its_key(tmp_path, field, when, message, problem) -> None:
    path = _rules_with(tmp_path, CHECK.format(field=field, when=when, message=message))
    with pytest.raises(kpi_excel.RulebookError) as err:
        load_rulebook(path)
    assert len(err.value.lines) == 1
    assert err.value.lines[0].startswith(f"规则文件 rules.yaml 的键 {problem}")


def test_the_shape_of_a_check_is_checked_by_the_schema(tmp_path: Path) -> None:
    path = _rules_with(
        tmp_path,
        '  - label: 检查\n    field: npl_balance\n    when: "npl_balance > 0"\n'
        "    parameters: {npl_balance: 1, 2x: 3, limit: 很多}\n    mesage: 过小\n",
    )
    with pytest.raises(kpi_excel.RulebookError) as err:
        load_rulebook(path)
    assert [line.removeprefix("规则文件 rules.yaml 的键 ") for line in err.value.lines] == [
        "plausibility[0].mesage 未知(是否应为 message?)",
        "plausibility[0].message 缺失",
        "plausibility[0].parameters.2x 名称应由字母、数字和下划线组成,且不以数字开头",
        "plausibility[0].parameters.limit 应为数字(实际为「很多」)",
    ]
    path = _rules_with(
        tmp_path,
        '  - label: 检查\n    field: npl_balance\n    when: "npl_balance > 0"\n'
        "    parameters: {npl_balance: 1}\n    message: 过小\n",
    )
    with pytest.raises(kpi_excel.RulebookError) as err:
        load_rulebook(path)
    assert err.value.lines == [
        "规则文件 rules.yaml 的键 plausibility[0].parameters.npl_balance 与输入字段、参数或派生指标同名"
    ]


def test_rules_check_finds_checks_that_cannot_mean_what_was_meant(tmp_path: Path) -> None:
    path = _rules_with(
        tmp_path,
        '  - label: 未用的参数\n    field: npl_balance\n    when: "npl_balance > 2"\n'
        "    parameters: {floor: 1}\n    message: 过小\n"
        '  - label: 标错了列\n    field: deposit_avg\n    when: "loan_balance > 10000"\n'
        "    message: 过大\n"
        "  - label: 永不成立\n    field: npl_balance\n"
        '    when: "loan_balance > 0 AND npl_balance < floor AND 0 > npl_balance"\n'
        "    parameters: {floor: 0}\n    message: 过小\n",
    )
    rules = load_rulebook(path)
    assert [line.removeprefix("规则文件 rules.yaml 的键 ") for line in check_rules(rules)] == [
        "plausibility[0].parameters.floor 未被条件(when)或提示(message)使用",
        "plausibility[1].field 「本期存款日均」不在条件(when)中,提示会标在与条件无关的单元格上",
        "plausibility[2].when 中的「0 > 不良贷款余额」永远不会成立,该提示永远不会出现:"
        "不良贷款余额不低于0万元",
        "plausibility[2].when 中的「不良贷款余额 < 0」永远不会成立,该提示永远不会出现:"
        "不良贷款余额不低于0万元",
    ]
    res = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert res.exit_code != 0 and "plausibility[0].parameters.floor" in res.output + res.stderr


def test_a_field_only_a_check_reads_still_counts_as_unused(tmp_path: Path) -> None:
    text = (
        _without_checks(tmp_path)
        .read_text(encoding="utf-8")
        .replace(
            "  remarks: {label: 备注, type: text}",
            "  spare: {label: 备用指标, type: number}\n  remarks: {label: 备注, type: text}",
        )
        + '\nplausibility:\n  - label: 备用\n    field: spare\n    when: "spare > 1"\n    message: 大\n'
    )
    (tmp_path / "rules.yaml").write_text(text, encoding="utf-8")
    assert check_rules(load_rulebook(tmp_path / "rules.yaml")) == [
        "规则文件 rules.yaml 的键 fields.spare 未被任何计分规则、标志或必填要求使用"
        "(该列填写与否都不影响结果)"
    ]


def test_rules_show_lists_the_checks_of_a_scheme_that_has_them(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(write_rules_doc(tmp_path / "eva.xlsx", load_rulebook("loan-eva")))
    rows = [
        tuple(v or "" for v in r) for r in wb["数值核对"].iter_rows(min_row=4, values_only=True)
    ]
    assert rows[0] == (
        "1", "日均存贷比基数过大", "日均存贷比基数", "日均存贷比基数 > 10",
        "大于10,日均存贷比基数应填小数(85%填0.85,或将单元格设为百分比格式后填85%),"
        "请核实(仅提示,不影响计分)",
    )  # fmt: skip
    fields = {r[2]: r for r in wb["输入字段"].iter_rows(min_row=4, values_only=True)}
    assert fields["dl_base"][3] == "比率(可用百分比格式)"
    assert fields["deposit_avg"][3] == "金额"
    monthly = write_rules_doc(tmp_path / "m.xlsx", load_rulebook("mgmt-monthly"))
    assert "数值核对" not in openpyxl.load_workbook(monthly).sheetnames  # it has none
