"""The rulebook: every rule constant is data; a broken rulebook is refused naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kpi_excel.cli import main
from kpi_excel.errors import RulebookError, UsageError
from kpi_excel.periods import Calendar, Period, parse_period, previous_period
from kpi_excel.rulebook import default_rulebook_path, load_rulebook
from kpi_excel.rulebook_schema import _MESSAGES, STRUCTURAL_KEYWORDS, schema
from kpi_excel.template import guide_lines
from tests.conftest import GOOD_SENIOR

CORPUS = Path(__file__).parent / "data" / "bad_rulebooks"


def _edit(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(default_rulebook_path().read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_rulebook_loads_with_articles() -> None:
    rules = load_rulebook()
    assert rules.roles["branch_head"].labels == ["支行行长", "营业部总经理"]
    assert {f.code for f in rules.flags} >= {"A14-1-SCORE", "A14-2-DEPOSIT3M", "A14-3-CONDUCT"}
    assert all(f.article for f in rules.flags) and all(i.article for i in rules.items)
    assert len(rules.sha256) == 64


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (
            lambda d: d["items"][0]["by_role"]["junior"].pop("target"),
            "items[0].by_role.junior.target 缺失",
        ),
        (lambda d: d["grades"]["heads"][0].update(min="很多"), "grades.heads[0].min 应为数字"),
        (lambda d: d["flags"][0].update(action="fire"), "flags[0].action"),
        (lambda d: d.pop("roles"), "roles 缺失"),
    ],
)
def test_broken_rulebook_names_file_and_key(tmp_path: Path, change, key) -> None:
    with pytest.raises(RulebookError) as err:
        load_rulebook(_edit(tmp_path, change))
    assert "rules.yaml" in str(err.value) and key in str(err.value)


def test_a_bank_changes_a_rule_by_editing_the_rulebook(inbox, tmp_path: Path) -> None:
    def change(d):
        d["items"][0]["by_role"]["senior"]["target"] = 20  # deposit growth target 20% for seniors
        d["flags"][11]["condition"]["value"] = 10  # conduct dismissal from 10 points

    rules = _edit(tmp_path, change)
    inbox.add("b.xlsx", [dict(GOOD_SENIOR, conduct_deduction="10")])
    inbox.run("--rules", str(rules))
    r = inbox.results()["E001"]
    # growth 30% against target 20%: 40 + 2 x 10 = 60; 60 + 30 + 20 + 10 - 10 = 110
    assert (r["score_deposit"], r["total"], r["flags"], r["outcome"]) == (
        "60.00",
        "110.00",
        "A14-3-CONDUCT",
        "解聘",
    )


def _shipped_text() -> str:
    return default_rulebook_path().read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "rules.yaml"
    path.write_bytes(text.encode(encoding))
    return path


def _case(case: Path, tmp_path: Path) -> tuple[Path, str]:
    """The broken rulebook of a corpus case, written as rules.yaml, and its expected message."""
    spec = yaml.safe_load(case.read_text(encoding="utf-8"))
    text = spec["whole"] if "whole" in spec else _shipped_text()
    for edit in spec.get("edits") or []:
        assert text.count(edit["find"]) == 1, f"{case.name}: {edit['find']!r} not found once"
        text = text.replace(edit["find"], edit["put"])
    return _write(tmp_path, text, spec.get("encoding", "utf-8")), spec["expect"].rstrip("\n")


CASES = sorted(CORPUS.glob("*.yaml"))


def test_the_corpus_of_broken_rulebooks_is_large() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_broken_rulebook_is_refused_with_its_exact_message(case: Path, tmp_path: Path) -> None:
    path, expected = _case(case, tmp_path)
    with pytest.raises(RulebookError) as err:
        load_rulebook(path)
    assert str(err.value) == expected
    assert err.value.lines == expected.split("\n")


def test_every_problem_is_reported_sorted_by_key_path(tmp_path: Path) -> None:
    text = (
        _shipped_text()
        .replace('{field: conduct_deduction, op: ">=", value: 15}', '{field: conduct, op: ">=", value: 15}')
        .replace('{field: npl_ratio, op: ">", value: 0.10}', '{field: npl_ratio, op: "=>", value: 0.10}')
        .replace("    labels: [高级客户经理]\n", "    labels: [高级客户经理]\n    lables: []\n")
        .replace("  decimals: 2\n", "  decimals: -1\n")
    )  # fmt: skip
    with pytest.raises(RulebookError) as err:
        load_rulebook(_write(tmp_path, text))
    # schema problems first (all of them); references are resolved once the shape is right
    assert err.value.lines == [
        "规则文件 rules.yaml 的键 flags[1].condition.op 应为 <、<=、>、>=、== 之一(实际为「=>」)",
        "规则文件 rules.yaml 的键 roles.senior.lables 未知(是否应为 labels?)",
        "规则文件 rules.yaml 的键 rounding.decimals 应不小于 0(实际为 -1)",
    ]
    text = text.replace('op: "=>"', 'op: ">"').replace("    lables: []\n", "")
    text = text.replace("  decimals: -1\n", "  decimals: 2\n")
    text = text.replace('{field: total, op: "<=", value: 90}', '{field: totl, op: "<=", value: 90}')
    with pytest.raises(RulebookError) as err:
        load_rulebook(_write(tmp_path, text))
    assert err.value.lines == [  # flags[0] before flags[11]: indices sort as numbers
        "规则文件 rules.yaml 的键 flags[0].condition.field 引用了未定义的字段「totl」(是否应为 total?)",
        "规则文件 rules.yaml 的键 flags[11].condition.field 引用了未定义的字段「conduct」",
    ]


def _keywords(node, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            if key in ("properties", "$defs", "dependentRequired"):
                for sub in value.values():
                    _keywords(sub, found)
            else:
                _keywords(value, found)
    elif isinstance(node, list):
        for item in node:
            _keywords(item, found)
    return found


def test_the_shipped_schema_is_a_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    Draft202012Validator.check_schema(schema())  # raises SchemaError when it is not
    with pytest.raises(SchemaError):
        Draft202012Validator.check_schema({**schema(), "type": "mapping"})


def test_every_schema_keyword_has_a_chinese_message() -> None:
    used = _keywords(schema(), set())
    assert used - STRUCTURAL_KEYWORDS - set(_MESSAGES) == set()


def test_shipped_rulebook_declares_groups_calendar_and_articles() -> None:
    rules = load_rulebook()
    assert rules.required_by_group == {
        "heads": ["mid_income_base", "mid_income"],
        "managers": ["new_accounts"],
    }
    assert rules.calendar.annual == "FY" and rules.calendar.sub_annual == ["Q1", "Q2", "Q3", "Q4"]
    assert rules.months["Q3"] == [7, 8, 9] and len(rules.months["FY"]) == 12
    assert (rules.grades_article, rules.income_article) == (
        "第十四条",
        "第十三条(管理指标)",
    )
    assert [d.key for d in rules.derived].index("new_deposit") < [
        d.key for d in rules.derived
    ].index("deposit_growth")


def test_shipped_calendar_parses_and_steps_back() -> None:
    cal = load_rulebook().calendar
    q1 = parse_period("2026-q1", cal)
    assert q1 == Period(2026, "Q1", False) and not q1.is_annual
    assert previous_period(q1, cal) == Period(2025, "Q4", False)
    assert previous_period(parse_period("2026Q3", cal), cal).code == "2026Q2"
    fy = parse_period("２０２６ＦＹ", cal)
    assert fy.is_annual and previous_period(fy, cal) == Period(2025, "FY", True)
    assert [cal.kind_of_month(m) for m in (1, 6, 7, 12)] == ["Q1", "Q2", "Q3", "Q4"]
    with pytest.raises(UsageError) as err:
        parse_period("2026H1", cal)
    assert str(err.value) == (
        "考核期「2026H1」格式不正确,应为 2026Q1、2026-Q1、Q1 或 2026FY(考核期代码为 Q1、Q2、Q3、Q4、FY 之一)"
    )


def test_a_rulebook_with_half_years_has_its_own_periods(tmp_path: Path) -> None:
    text = _shipped_text().replace(
        "    Q1: [1, 2, 3]\n    Q2: [4, 5, 6]\n    Q3: [7, 8, 9]\n    Q4: [10, 11, 12]\n"
        "    FY: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\n",
        "    Y: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\n    H2: [7, 8, 9, 10, 11, 12]\n"
        "    H1: [1, 2, 3, 4, 5, 6]\n",
    )
    cal = load_rulebook(_write(tmp_path, text)).calendar
    assert cal.annual == "Y" and cal.sub_annual == ["H1", "H2"]
    h1 = parse_period("2026H1", cal)
    assert previous_period(h1, cal) == Period(2025, "H2", False)
    assert parse_period("2026Y", cal).is_annual and cal.kind_of_month(9) == "H2"
    with pytest.raises(UsageError, match="考核期代码为 Y、H2、H1 之一"):
        parse_period("2026Q3", cal)


def test_what_a_group_must_fill_in_comes_from_the_rulebook(inbox, tmp_path: Path) -> None:
    text = _shipped_text().replace(
        "required_fields: [new_accounts]", "required_fields: [new_accounts, conduct_deduction]"
    )
    rules = _write(tmp_path, text)
    inbox.add("b.xlsx", [GOOD_SENIOR])
    res = inbox.run("--rules", str(rules))
    assert res.exit_code == 1
    row = inbox.results()["E001"]
    assert row["status"] == "rejected" and "「行为规范扣分」为必填项,不能为空" in row["errors"]
    guide = [
        text
        for _, text in guide_lines(
            parse_period("2026Q3", load_rulebook(rules).calendar), load_rulebook(rules)
        )
    ]
    assert any(
        "高级客户经理、中级客户经理、初级客户经理另须填写:新开对公基本账户(个)、行为规范扣分"
        in line
        for line in guide
    )


def test_rulebook_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + default_rulebook_path().read_bytes())
    assert load_rulebook(path).calendar.annual == "FY"


def test_missing_rulebook_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="无法读取规则文件 .*nope.yaml"):
        load_rulebook(tmp_path / "nope.yaml")


@pytest.mark.parametrize("command", ["run", "template"])
def test_cli_refuses_a_broken_rulebook_with_exit_2(command: str, tmp_path: Path) -> None:
    path, expected = _case(CORPUS / "unknown_key_in_grade_row.yaml", tmp_path)
    args = [command, "2026Q3", "--rules", str(path)]
    if command == "run":
        args += ["--inbox", str(tmp_path), "--output", str(tmp_path / "out")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert res.output == f"错误: {expected}\n"
    assert "rules.yaml" in res.output and "grades.heads[2].inclusve" in res.output
    assert "Traceback" not in res.output


def test_cli_prints_one_line_per_problem(tmp_path: Path) -> None:
    path, expected = _case(CORPUS / "unknown_key_in_item_rule.yaml", tmp_path)
    res = CliRunner().invoke(main, ["template", "2026Q3", "--rules", str(path)])
    assert res.exit_code == 2
    assert res.output.splitlines() == [f"错误: {line}" for line in expected.split("\n")]


@pytest.mark.parametrize(
    "text", ["2026M07", "2026M7", "2026-07", "2026/7", "2026年7月", "２０２６年７月", "M07", "M7"]
)
def test_a_calendar_of_months_reads_every_spelling_of_a_month(text: str) -> None:
    cal = Calendar({f"M{m:02d}": (m,) for m in range(1, 13)} | {"FY": tuple(range(1, 13))}, "FY")
    period = parse_period(text, cal, default_year=2026)
    assert (period.code, period.is_annual) == ("2026M07", False)
    assert previous_period(period, cal).code == "2026M06"
    assert previous_period(parse_period("2026-01", cal), cal).code == "2025M12"
    with pytest.raises(UsageError, match="应为 2026M01、2026-01、2026年1月 或 2026FY"):
        parse_period("2026Q3", cal)
