"""`kpi-excel rules diff A B`: what changed between two rulebooks, in Chinese, one line each."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kpi_excel.cli import main
from kpi_excel.rulebook import default_rulebook_path, load_rulebook
from kpi_excel.rules_diff import diff_rules

HEADER = "类别\t项目\t原值\t新值\t依据条款"


def edited(path: Path, *edits: tuple[str, str]) -> Path:
    """A copy of the main rulebook with each (old, new) text replaced once."""
    text = default_rulebook_path().read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def diff(a: str | Path, b: str | Path):
    return CliRunner().invoke(main, ["rules", "diff", str(a), str(b)])


def test_identical_rulebooks_have_no_difference(tmp_path: Path) -> None:
    commented = edited(
        tmp_path / "same.yaml",
        ("rulebook_version: 1\n", "# 注释不同,规则相同\nrulebook_version: 1\n"),
        ('op: ">", value: 0.10}', 'op: ">", value: 0.100}'),  # the same number written otherwise
    )
    for other in ("main", commented):
        result = diff("main", other)
        assert result.exit_code == 0 and result.output == "无差异\n"


def test_grade_edge_and_flag_threshold(tmp_path: Path) -> None:
    other = edited(
        tmp_path / "new.yaml",
        (
            "- {grade: 合格, min: 85, inclusive: false}",
            "- {grade: 合格, min: 88, inclusive: false}",
        ),
        (
            'condition: {field: collection_rate, op: "<", value: 0.99}',
            'condition: {field: collection_rate, op: "<", value: 0.995}',
        ),
    )
    result = diff("main", other)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        HEADER,
        "等级界限\t客户经理「合格」的下限(分)\t85分\t88分\t第十四条",
        "阈值\tA14-2-COLLECTION「收贷收息率未达标」的阈值\t99%\t99.5%\t第十四条第(二)款第2项",
    ]
    back = diff(other, "main").output.splitlines()
    assert back[1] == "等级界限\t客户经理「合格」的下限(分)\t88分\t85分\t第十四条"


def test_each_kind_of_change_named_by_its_meaning(tmp_path: Path) -> None:
    other = edited(
        tmp_path / "new.yaml",
        ("        target: 30\n", "        target: 35\n"),  # the anchored rule of three roles
        ("- {max: 0.01, inclusive: true, points: 20}", "- {max: 0.02, inclusive: true, points: 20}"),
        (
            "    - {grade: 基本合格, min: 70, inclusive: false}\n",
            "    - {grade: 称职, min: 78}\n    - {grade: 基本合格, min: 70, inclusive: false}\n",
        ),
        ("        - {field: deposit_growth, op: \"<=\", value: 0.30, times: 0.9}",
         "        - {field: deposit_growth, op: \"<=\", value: 0.30, times: 0.8}"),
        ("    label: 行为规范扣分过多\n    article: 第十四条第(三)款\n    groups: [heads, managers]\n"
         "    condition: {field: conduct_deduction, op: \">=\", value: 15}\n    action: dismiss",
         "    label: 行为规范扣分过多\n    article: 第十四条第(三)款\n    groups: [heads, managers]\n"
         "    condition: {field: conduct_deduction, op: \">=\", value: 15}\n    action: demote"),
        ("  mid_income: {label: 本期中间业务收入(万元), type: amount}",
         "  mid_income: {label: 本期中间业务收入(万元), type: amount, decimals: 2}"),
        ("    months: 3\n", "    months: 2\n"),
    )  # fmt: skip
    rows = [line.split("\t") for line in diff("main", other).output.splitlines()[1:]]
    assert rows == [
        ["字段", "字段「本期中间业务收入(万元)」的小数位数", "(无)", "2", ""],
        ["参数", "计分项目「存款」(支行行长、营业部总经理、高级客户经理、中级客户经理)的目标值",
         "30", "35", "第十三条(扣分标准1)"],
        ["分档", "计分项目「不良率」(支行行长、营业部总经理、高级客户经理、中级客户经理、初级客户经理)"
         "第2档的上限", "1%", "2%", "第十三条(扣分标准4)"],
        ["等级", "客户经理的等级「称职」", "(无)", "称职:78分(含)以上", "第十四条"],
        ["阈值", "A14-1-KEY「存款或收贷收息率未完成」的新增存款日均增幅的目标的倍数", "0.9", "0.8",
         "第十四条第(一)款第1项"],
        ["阈值", "A14-2-DEPOSIT3M「存款日均连续低于基数」的连续月数", "3", "2", "第十四条第(二)款第1项"],
        ["预警", "A14-3-CONDUCT「行为规范扣分过多」的处理", "解聘", "降级", "第十四条第(三)款"],
    ]  # fmt: skip


def test_one_change_per_role_for_people(tmp_path: Path) -> None:
    """Unmerged, each role's rule change is its own (the compare's reasons pick a role's)."""
    other = load_rulebook(
        edited(tmp_path / "new.yaml", ("        target: 30\n", "        target: 35\n"))
    )
    changes = diff_rules(load_rulebook(), other, merge_roles=False)
    assert [c.path for c in changes] == [
        ("items", "score_deposit", "by_role", role, "target")
        for role in ("branch_head", "senior", "mid")
    ]
    assert {c.short for c in changes} == {"目标值由30改为35"}


def test_a_rulebook_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    result = diff("main", tmp_path / "missing.yaml")
    assert result.exit_code == 2 and "无法读取规则文件" in result.output
    result = diff("main", "loan-eva")  # another scheme: every difference listed
    assert result.exit_code == 0 and "其他\t方案编号\tmain\tloan-eva\t" in result.output
