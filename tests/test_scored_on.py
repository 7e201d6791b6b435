"""考核结果 shows what each item was scored on, per role, as the rulebook's `sheet` declares it:
the junior's 存款完成率 beside the others' 增幅, a column blank where the role does not use it."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import yaml

import kpi_excel
from kpi_excel.errors import RulebookError
from kpi_excel.rulebook import default_rulebook_path, load_rulebook, shipped_rulebooks
from kpi_excel.scored_on import figure_roles
from kpi_excel.write.rows import prepare, result_columns
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person

pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")

GROWTH, COMPLETION = "新增存款日均增幅", "新增存款日均完成率(目标100万元)"
# 1087.6 - 1000 = 87.6万元 of a 100万元 target: 87.60% -> 40 + 2 x (87.6 - 100) = 15.20
JUNIOR = person(GOOD_SENIOR, emp_id="J001", name="钱七", role="初级客户经理", deposit_avg="1087.6",
                new_accounts="5")  # fmt: skip
# (1300 - 1000) / 1000 = 30.00% -> 40.00; (1121.1 - 1000) / 1000 = 12.11% -> 4.22
SENIOR = GOOD_SENIOR
MID = person(GOOD_SENIOR, emp_id="M001", name="孙八", role="中级客户经理", deposit_avg="1121.1",
             new_accounts="7")  # fmt: skip
HEAD = GOOD_HEAD  # 中间业务收入 (120 - 100) / 100 = 20.00%


def _sheet(path: Path) -> dict[str, dict]:
    ws = openpyxl.load_workbook(path)["考核结果"]
    header = [c.value for c in ws[3]]
    out = {}
    for row in ws.iter_rows(min_row=4):
        if row[0].value:
            out[row[0].value] = {
                h: (c.value, c.number_format) for h, c in zip(header, row, strict=True)
            }
    return out


def test_junior_row_shows_its_completion_and_a_manager_row_is_blank_there(inbox) -> None:
    inbox.add("b.xlsx", [HEAD, SENIOR, MID, JUNIOR])
    assert inbox.run().exit_code == 0
    (branch,) = (inbox.out / "2026Q3" / "branches").glob("*.xlsx")
    rows = _sheet(branch)
    junior, mid, senior, head = rows["J001"], rows["M001"], rows["E001"], rows["H001"]
    assert junior[COMPLETION] == (0.876, "0.00%") and junior["存款得分"][0] == 15.2
    assert junior[GROWTH][0] is None  # not what a junior is scored on
    assert mid[GROWTH] == (0.1211, "0.00%") and mid["存款得分"][0] == 4.22
    assert mid[COMPLETION][0] is None and senior[COMPLETION][0] is None
    assert senior[GROWTH][0] == 0.3 and head[GROWTH][0] == 0.3
    # the other items' figures, blank for a role without the item
    assert head["中间业务收入增幅"][0] == 0.2 and junior["中间业务收入增幅"][0] is None
    assert junior["新开对公基本账户"] == (5, "0") and head["新开对公基本账户"][0] is None
    assert junior["不良率"][0] == 0 and head["收贷收息率"][0] == 0.995
    results = inbox.results()
    assert (
        results["J001"]["score_deposit"] == "15.20" and results["M001"]["score_deposit"] == "4.22"
    )


def test_library_cells_render_the_scorers_figures() -> None:
    import pandas as pd

    rules = load_rulebook()
    people = kpi_excel.score(
        pd.DataFrame([SENIOR, JUNIOR]), "2026Q3", branch_code="B001", branch_name="一支行"
    ).people
    people["refused"] = False
    rows, _ = prepare(people, rules, None)
    keys = {header: key for key, header, _, _ in result_columns(rules)}
    by_emp = {e: i for i, e in enumerate(rows.cells["emp_id"])}
    growth, completion = rows.cells[keys[GROWTH]], rows.cells[keys[COMPLETION]]
    assert completion[by_emp["J001"]] == 0.876 and growth[by_emp["E001"]] == 0.3
    assert growth[by_emp["J001"]] != growth[by_emp["J001"]]  # NaN: blank
    assert completion[by_emp["E001"]] != completion[by_emp["E001"]]
    # the figure is the one the explanation states (score_deposit:shown, in %)
    junior = people[people["emp_id"] == "J001"].iloc[0]
    assert junior["score_deposit:shown"] == 87.6


def _rules_with(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(default_rulebook_path().read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_columns_and_headers_come_from_the_rulebook(tmp_path: Path) -> None:
    def change(d):
        d["items"][0]["by_role"]["junior"]["input_label"] = "存款任务完成率"
        d["sheet"] = ["deposit_growth", "score_deposit:input", "new_accounts", "total"]

    rules = load_rulebook(_rules_with(tmp_path, change))
    assert [(h, kind) for _, h, kind, _ in result_columns(rules)][4:-1] == [
        (GROWTH, "pct"), (GROWTH, "pct"), ("存款任务完成率", "pct"), ("新开对公基本账户", "int"),
        ("综合得分", "score"),
    ]  # fmt: skip


def test_a_figure_named_by_key_is_blank_for_a_role_that_does_not_use_it(tmp_path: Path) -> None:
    import pandas as pd

    rules = load_rulebook(
        _rules_with(tmp_path, lambda d: d.update(sheet=["deposit_growth", "new_accounts"]))
    )
    readers = figure_roles(rules)
    assert readers["deposit_growth"] == {"branch_head", "senior", "mid"}  # items, A14-1-KEY
    assert readers["new_deposit"] == {"branch_head", "senior", "mid", "junior"}
    assert readers["new_accounts"] == {"senior", "mid", "junior"}
    assert readers["conduct_deduction"] == set(rules.roles)  # the total's deduction
    people = kpi_excel.score(
        pd.DataFrame([HEAD, SENIOR, JUNIOR]), "2026Q3", rules, branch_code="B001",
        branch_name="一支行",
    ).people  # fmt: skip
    people["refused"] = False
    rows, _ = prepare(people, rules, None)
    cells = {
        e: (g, a)
        for e, g, a in zip(
            rows.cells["emp_id"],
            rows.cells["deposit_growth"],
            rows.cells["new_accounts"],
            strict=True,
        )
    }
    assert cells["E001"] == (0.3, 10)
    growth, accounts = cells["J001"]
    assert growth != growth and accounts == 5  # the junior's growth (8.76%) is not shown
    growth, accounts = cells["H001"]
    assert growth == 0.3 and accounts != accounts


def test_an_item_scored_by_a_formula_has_no_single_input(tmp_path: Path) -> None:
    text = shipped_rulebooks()["mgmt-monthly"].read_text(encoding="utf-8")
    text = text.replace("sheet: [submitted,", 'sheet: ["m_archive:input", submitted,')
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulebookError) as err:
        load_rulebook(path)
    assert str(err.value) == (
        "规则文件 rules.yaml 的键 sheet[0] 计分项目「档案完整性」按公式计分,没有单一的计分依据,"
        "请列出公式所用的字段或派生指标"
    )


def test_every_shipped_scheme_declares_what_its_items_are_scored_on() -> None:
    headers = {
        scheme: [h for _, h, _, _ in result_columns(load_rulebook(scheme))]
        for scheme in shipped_rulebooks()
    }
    assert headers["main"][4:10] == [
        GROWTH, COMPLETION, "不良率", "收贷收息率", "中间业务收入增幅", "新开对公基本账户",
    ]  # fmt: skip
    assert headers["mgmt-monthly"][4:12] == [
        "授信报批笔数", "退回笔数", "档案缺漏项数", "走访缺少次数", "走访记录缺少次数",
        "重大信息加分", "逾期垫款笔数", "形态下降笔数",
    ]  # fmt: skip
    assert headers["loan-eva"][4:8] == [
        "日均存贷比",
        "日均存贷比系数",
        "综合回报率",
        "综合回报率系数",
    ]
