"""The rulebook: every rule constant is data; a broken rulebook is refused naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kpi_excel.errors import RulebookError
from kpi_excel.rulebook import default_rulebook_path, load_rulebook
from tests.conftest import GOOD_SENIOR


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
