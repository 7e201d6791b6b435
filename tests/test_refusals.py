"""Every refusal of a row or a workbook, each with a Chinese reason naming file, sheet and cell."""

from __future__ import annotations

import pytest

from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"deposit_avg": "约100"},
            "第一支行.xlsx 考核数据!E2「本期存款日均」应为数字,实际为「约100」",
        ),
        ({"loan_balance": "-5"}, "第一支行.xlsx 考核数据!F2「贷款余额」不能为负数,实际为「-5」"),
        (
            {"new_accounts": "2.5"},
            "第一支行.xlsx 考核数据!J2「新开对公基本账户」应为整数,实际为「2.5」",
        ),
        ({"collected_amount": None}, "第一支行.xlsx 考核数据!I2「实收贷款本息」为必填项,不能为空"),
        ({"new_accounts": None}, "第一支行.xlsx 考核数据!J2「新开对公基本账户」为必填项,不能为空"),
        (
            {"role": "业务代办员"},
            "第一支行.xlsx 考核数据!C2「岗位」「业务代办员」不是本办法考核的岗位",
        ),
        (
            {"deposit_base": "0"},
            "第一支行.xlsx 考核数据!D2「基数存款日均」为0,无法计算新增存款日均增幅",
        ),
        (
            {"npl_balance": "1001"},
            "第一支行.xlsx 考核数据!G2「不良贷款余额」1001 大于「贷款余额」1000",
        ),
        ({"major_violation": "可能"}, "「重大违规违纪」应填 是 或 否,实际为「可能」"),
    ],
)
def test_row_refusal_names_file_sheet_and_cell(inbox, changes, reason) -> None:
    inbox.add("第一支行.xlsx", [person(GOOD_SENIOR, **changes), person(GOOD_SENIOR, emp_id="E002")])
    res = inbox.run()
    assert res.exit_code == 1
    rows = inbox.results()
    assert rows["E001"]["status"] == "rejected"
    assert reason in rows["E001"]["errors"]
    assert rows["E001"]["total"] == ""
    assert rows["E002"]["status"] == "scored" and rows["E002"]["total"] == "100.00"


def test_head_without_income_base_is_refused(inbox) -> None:
    inbox.add("b.xlsx", [person(GOOD_HEAD, mid_income_base="0")])
    inbox.run()
    assert "「上年同期中间业务收入」为0" in inbox.results()["H001"]["errors"]


def test_junior_with_zero_base_is_scored_without_growth(inbox) -> None:
    inbox.add(
        "b.xlsx",
        [
            person(
                GOOD_SENIOR,
                role="初级客户经理",
                deposit_base="0",
                deposit_avg="100",
                new_accounts="5",
            )
        ],
    )
    assert inbox.run().exit_code == 0
    r = inbox.results()["E001"]
    assert (r["status"], r["deposit_growth"], r["score_deposit"], r["score_accounts"]) == (
        "scored",
        "",
        "40.00",
        "10.00",
    )


def test_duplicate_emp_id_across_branches_refuses_both_naming_the_other(inbox) -> None:
    inbox.add("一.xlsx", [GOOD_SENIOR], code="B001", name="一")
    inbox.add("二.xlsx", [person(GOOD_SENIOR, name="王五")], code="B002", name="二")
    assert inbox.run().exit_code == 1
    with (inbox.out / "2026Q3" / "results.csv").open(encoding="utf-8-sig") as fh:
        text = fh.read()
    assert (
        "一.xlsx 考核数据!A2「员工编号」「E001」在本次考核中重复,另见 二.xlsx 考核数据!A2" in text
    )
    assert (
        "二.xlsx 考核数据!A2「员工编号」「E001」在本次考核中重复,另见 一.xlsx 考核数据!A2" in text
    )


def test_text_numbers_are_read_and_noted(inbox) -> None:
    inbox.add(
        "b.xlsx",
        [person(GOOD_SENIOR, deposit_base="1,000", deposit_avg=" 1300 ", loan_balance="１０００")],
    )
    assert inbox.run().exit_code == 0
    assert inbox.results()["E001"]["total"] == "100.00"


@pytest.mark.parametrize(
    ("info", "reason"),
    [
        ({"period": "2026Q2"}, "b.xlsx 基本信息!B3「考核期」「2026Q2」与本次考核期 2026Q3 不一致"),
        ({"branch_code": "B 01/x"}, "「机构号」「B 01/x」格式不正确"),
        ({"branch_code": None}, "b.xlsx 基本信息「机构号」未填写"),
    ],
)
def test_workbook_refusal_for_bad_branch_info(inbox, info, reason) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR], extra_info=info)
    inbox.add("ok.xlsx", [person(GOOD_SENIOR, emp_id="E009")], code="B009")
    assert inbox.run().exit_code == 1
    rejected = inbox.rejected()
    assert [r["file"] for r in rejected] == ["b.xlsx"]
    assert reason in rejected[0]["reason"]
    assert list(inbox.results()) == ["E009"]  # a refused workbook contributes no rows


def test_missing_sheet_and_missing_column_refuse_the_workbook(inbox) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Sheet1"
    wb.save(inbox.dir / "空白.xlsx")
    path = inbox.add("缺列.xlsx", [GOOD_SENIOR], code="B002")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    wb["考核数据"].delete_cols(4)  # 基数存款日均
    wb.save(path)
    assert inbox.run().exit_code == 1
    reasons = {r["file"]: r["reason"] for r in inbox.rejected()}
    assert reasons["空白.xlsx"] == (
        "空白.xlsx 缺少工作表「基本信息」、「考核数据」,请使用标准模板(工作簿中的工作表:「Sheet1」)"
    )
    assert reasons["缺列.xlsx"] == "缺列.xlsx 考核数据 缺少必需的列「基数存款日均(万元)」"


def test_duplicate_branch_code_refuses_both_files(inbox) -> None:
    inbox.add("a.xlsx", [GOOD_SENIOR], code="B001")
    inbox.add("b.xlsx", [person(GOOD_SENIOR, emp_id="E002")], code="B001")
    assert inbox.run().exit_code == 1
    reasons = {r["file"]: r["reason"] for r in inbox.rejected()}
    assert (
        reasons["a.xlsx"]
        == "a.xlsx 基本信息!B1「机构号」「B001」已由 b.xlsx 提交,两个文件均不予计分"
    )
    assert "已由 a.xlsx 提交" in reasons["b.xlsx"]


def test_unreadable_file_is_refused_and_the_run_goes_on(inbox) -> None:
    (inbox.dir / "坏.xlsx").write_bytes(b"this is not a workbook")
    (inbox.dir / "空.xlsx").write_bytes(b"")
    inbox.add("好.xlsx", [GOOD_SENIOR])
    assert inbox.run().exit_code == 1
    reasons = {r["file"]: r["reason"] for r in inbox.rejected()}
    assert "文件不完整或已损坏,请重新保存后提交" in reasons["坏.xlsx"]
    assert "文件为空" in reasons["空.xlsx"]
    assert inbox.results()["E001"]["status"] == "scored"
