"""A Chinese command line: click's own messages, help pages, errors that say what to do, the
end-of-run summary, `template` that never overwrites silently, times in the local time zone."""

from __future__ import annotations

import ast
import csv
import datetime as dt
import re
import string
import time
from pathlib import Path

import click
import openpyxl
import pytest
from click.testing import CliRunner

from kpi_excel import cli_zh
from kpi_excel.cli import main
from kpi_excel.ledger import Ledger
from kpi_excel.rulebook import load_rulebook
from kpi_excel.write.summary import outcome_names
from scripts.cli_docs import COMMANDS
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person

# What click says in English; none of it may reach a clerk.
ENGLISH = (
    "Usage:", "Error:", "Missing argument", "Missing option", "No such command", "No such option",
    "Show this message", "Show the version", "Options:", "Commands:", "Try '", "for help",
    "Invalid value", "is not", "does not", "requires", "[OPTIONS]", "COMMAND", "[ARGS]",
    "PERIOD", "EMP_ID", "DIRECTORY", "FILE", "INTEGER", "RANGE", "default:", "required",
    "Aborted", "Got unexpected", "Did you mean",
)  # fmt: skip

# Latin words a Chinese help page or error may hold: option and command names, file kinds,
# folder names, the program's name, and what a clerk typed.
ALLOWED_WORDS = {
    "kpi", "excel", "python", "main", "run", "runs", "template", "history", "explain", "rules",
    "appeal",
    "list", "show", "check", "inbox", "output", "ledger", "jobs", "year", "help", "version",
    "roster", "outdir", "force", "loan", "eva", "mgmt", "monthly", "sqlite", "yaml", "xlsx",
    "csv", "cpu", "fy", "bogus", "abc", "nope", "extra", "compare", "diff", "scheme", "html",
    "approve", "reopen", "by", "note", "reason", "org", "branch", "sheets", "postgresql",
}  # fmt: skip


def _invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), prog_name="kpi-excel", terminal_width=80)


def _assert_chinese(text: str) -> None:
    found = [phrase for phrase in ENGLISH if phrase in text]
    assert not found, f"English click text {found} in:\n{text}"
    words = {w.lower() for w in re.findall(r"[A-Za-z]{2,}", text)} - ALLOWED_WORDS
    assert not words, f"English words {sorted(words)} in:\n{text}"


def _click_messages() -> tuple[set[str], dict[str, str]]:
    """Every message id in the installed click's source: `_("…")`, and `ngettext("…", "…", n)`
    as singular -> plural."""
    singles, plurals = {"required"}, {}  # `_(extra["required"])`: the id is a variable
    for path in Path(click.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            if node.func.id == "_":
                singles.add(first.value)
            elif node.func.id == "ngettext":
                plurals[first.value] = node.args[1].value  # type: ignore[attr-defined]
    return singles, plurals


def _fields(text: str) -> set[str]:
    named = {f[1] for f in string.Formatter().parse(text) if f[1] is not None}
    return named | set(re.findall(r"%\((\w+)\)s", text))


def test_every_click_message_has_a_chinese_translation() -> None:
    singles, plurals = _click_messages()
    assert len(singles) > 40 and len(plurals) >= 5  # the scan found click's messages
    assert not singles - cli_zh.CATALOG.keys(), "click messages without a translation"
    assert not plurals - cli_zh.PLURALS.keys(), "click plural messages without a translation"
    for msgid, text in cli_zh.CATALOG.items():
        assert _fields(text) == _fields(msgid), msgid  # click fills in the same placeholders
        assert not re.search(r"[A-Za-z]{3,}", re.sub(r"\{[^}]*\}|%\(\w+\)s", "", text)) or (
            msgid in ("Windows error: {error}", "{value!r} is not a valid UUID.") or "Bash" in msgid
        ), text
    for singular, text in cli_zh.PLURALS.items():  # click fills in the fields of both forms
        assert _fields(text) <= _fields(singular) | _fields(plurals[singular]), singular


def test_click_is_installed_in_chinese() -> None:
    """install() reached every module of click that looks messages up."""
    import click.core
    import click.exceptions
    import click.formatting
    import click.types

    for module in (click.core, click.exceptions, click.formatting, click.types):
        assert module._("Usage:") == "用法:"
    assert click.exceptions.ngettext("Did you mean {possibility}?", "", 1) == (
        "是不是要输入 {possibilities}?"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "用法: kpi-excel [选项] 命令 [参数]..."),
        (("run",), "错误: 缺少参数 '考核期'。"),
        (("explain", "2026Q3"), "错误: 缺少参数 '员工编号'。"),
        (("bogus",), "错误: 没有这个命令 'bogus'。"),
        (
            ("run", "2026Q3", "--jobs", "abc"),
            "错误: '--jobs' / '-j' 的值无效: 'abc' 不是有效的整数。",
        ),
        (("run", "2026Q3", "--jobs", "0"), "0 不在允许的范围 1<=x<=64 内。"),
        (("run", "2026Q3", "--year", "1999"), "1999 不在允许的范围 2000<=x<=2100 内。"),
        (("run", "2026Q3", "--nope"), "错误: 没有这个选项 '--nope'。"),
        (("template", "2026Q3", "--roster"), "错误: 选项 '--roster' 后面需要 1 个值。"),
        (("rules",), "用法: kpi-excel rules [选项] 命令 [参数]..."),
        (("rules", "show"), "错误: 缺少参数 '方案或文件'。"),
        (("runs", "extra"), "错误: 多余的参数(extra)"),
    ],
)
def test_usage_errors_are_chinese(args, expected) -> None:
    res = _invoke(*args)
    assert res.exit_code == 2, res.output
    assert expected in res.output
    _assert_chinese(res.output)


def test_a_usage_error_shows_the_usage_and_where_help_is() -> None:
    res = _invoke("run")
    assert res.output.splitlines()[:2] == [
        "用法: kpi-excel run [选项] 考核期",
        "查看帮助请运行 'kpi-excel run --help'。",
    ]


def test_a_file_where_a_folder_is_wanted(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("x", encoding="utf-8")
    res = _invoke("runs", "-o", str(tmp_path / "out.txt"))
    assert res.exit_code == 2
    assert "'--output' / '-o' 的值无效:" in res.output and "是文件,此处应为文件夹。" in res.output


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_of_every_command_is_chinese(command) -> None:
    res = _invoke(*command.split(), "--help")
    assert res.exit_code == 0, res.output
    text = res.output
    assert text.startswith(f"用法: kpi-excel {command}".rstrip() + " ")
    assert "选项:" in text and "-h, --help" in text and "显示本帮助并退出" in text
    _assert_chinese(text)


def test_help_fits_the_terminal_and_lines_up() -> None:
    """Width is measured in columns (a CJK character takes two): every line fits 80 columns and
    every option's description starts in the same column."""
    text = _invoke("run", "--help").output
    assert all(cli_zh.display_width(line) <= 78 for line in text.splitlines()), text
    options = text.split("选项:\n", 1)[1].splitlines()
    starts = set()
    for line in options:
        m = re.match(r"^  (-\S.*?)\s{2,}(\S)", line)
        if m:
            starts.add(cli_zh.display_width(line[: m.start(2)]))
    assert len(starts) == 1, text
    assert "--rules 方案或文件   考核方案" in text  # 方案或文件 counted as 10 columns


def test_wrap_breaks_between_chinese_characters_never_before_punctuation() -> None:
    text = "考核方案:随程序发布的方案编号(main、loan-eva、mgmt-monthly,见 kpi-excel rules list)。"
    lines = cli_zh.wrap(text, 20)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(cli_zh.display_width(line) <= 20 for line in lines)
    assert not any(line[0] in ",。、)" for line in lines)
    assert "loan-eva、" in "".join(lines) and not any(line.startswith("eva") for line in lines)
    assert cli_zh.display_width("考核A") == 5


def test_missing_inbox_says_to_use_the_inbox_option(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = _invoke("run", "2026Q3")
    assert res.exit_code == 2
    assert "错误: 收件夹不存在: inbox/2026Q3,请用 --inbox 指定" in res.output.replace("\\", "/")
    res = _invoke("run", "2026Q3", "--inbox", "别处")
    assert res.exit_code == 2 and "收件夹不存在: 别处,请检查 --inbox 后的文件夹路径" in res.output


def test_end_of_run_summary_names_the_refused_and_where_to_look(inbox) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR, person(GOOD_HEAD, deposit_avg="约1300")])
    (inbox.dir / "旧.xls").write_bytes(b"old")
    res = inbox.run()
    assert res.exit_code == 1
    period = inbox.out / "2026Q3"
    lines = res.output.splitlines()
    assert "未计分人员(共 1 人):" in lines
    assert (
        "  第一支行 李四(H001): b.xlsx 考核数据!E3「本期存款日均」应为数字,实际为「约1300」"
        in lines
    )
    assert f"报告: {period / 'report.html'}(未计分人员与拒收文件的全部原因)" in lines
    assert f"拒收的文件清单: {period / 'rejected.csv'}" in lines
    assert "考核结论: 正常 1 人, 预警 0 人, 降级 0 人, 解聘 0 人" in lines


def test_summary_lists_the_first_ten_refused_people(inbox) -> None:
    rows = [
        person(GOOD_SENIOR, emp_id=f"E{i:03}", name=f"员工{i}", npl_balance="x") for i in range(12)
    ]
    inbox.add("b.xlsx", rows)
    res = inbox.run()
    listed = [line for line in res.output.splitlines() if line.startswith("  第一支行 员工")]
    assert len(listed) == 10 and listed[0].startswith("  第一支行 员工0(E000): b.xlsx 考核数据!")
    assert "未计分人员(共 12 人,以下为前 10 人):" in res.output
    assert "  ……另有 2 人未计分,见报告 report.html" in res.output


def test_outcomes_in_the_rulebooks_order_mildest_first(inbox, tmp_path: Path) -> None:
    text = load_rulebook().text.replace("  none: 正常", "  none: 无异常")
    assert text != load_rulebook().text
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(text, encoding="utf-8")
    inbox.add("b.xlsx", [GOOD_SENIOR])
    res = inbox.run("--rules", str(renamed))
    assert res.exit_code == 0, res.output
    names = outcome_names(load_rulebook(renamed))
    assert names == ["无异常", "预警", "降级", "解聘"]
    assert "考核结论: 无异常 1 人, 预警 0 人, 降级 0 人, 解聘 0 人" in res.output


def test_a_rerun_says_where_the_earlier_outputs_went(inbox) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR])
    first = inbox.run()
    assert first.exit_code == 0 and "已移至" not in first.output
    with Ledger(inbox.out / "ledger.sqlite") as ledger:
        first_id = ledger.runs()[0].run_id
    res = inbox.run()
    kept = inbox.out / "2026Q3" / "previous" / first_id
    assert f"上次的输出(运行 {first_id})已移至 {kept}" in res.output
    assert (kept / "results.csv").is_file()


def test_template_never_overwrites_without_force(tmp_path: Path) -> None:
    target = tmp_path / "模板.xlsx"
    assert _invoke("template", "2026Q3", "-o", str(target)).exit_code == 0
    target.write_bytes(b"the clerk's own file")  # a file that is not ours to replace
    res = _invoke("template", "2026Q3", "-o", str(target))
    assert res.exit_code == 2
    assert f"错误: 文件 {target} 已存在,未覆盖;如需覆盖请加 --force" in res.output
    assert target.read_bytes() == b"the clerk's own file"
    res = _invoke("template", "2026Q3", "-o", str(target), "--force")
    assert res.exit_code == 0, res.output
    assert openpyxl.load_workbook(target).sheetnames == ["说明", "基本信息", "考核数据"]


def test_template_from_a_roster_never_overwrites_without_force(tmp_path: Path) -> None:
    roster = tmp_path / "花名册.csv"
    with roster.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(
            [["机构号", "机构名称", "员工编号", "姓名", "岗位"],
             ["B001", "城东支行", "1001", "张伟", "高级客户经理"],
             ["B002", "城西支行", "2001", "李娜", "中级客户经理"]]
        )  # fmt: skip
    out = tmp_path / "模板"
    args = ("template", "2026Q3", "--roster", str(roster), "--outdir", str(out))
    assert _invoke(*args).exit_code == 0
    second = out / "B002_城西支行_2026Q3.xlsx"
    second.write_bytes(b"edited")
    first_bytes = (out / "B001_城东支行_2026Q3.xlsx").read_bytes()
    res = _invoke(*args)
    assert res.exit_code == 2
    assert "以下模板文件已存在,均未生成:" in res.output and "如需覆盖请加 --force" in res.output
    assert second.read_bytes() == b"edited"
    assert (out / "B001_城东支行_2026Q3.xlsx").read_bytes() == first_bytes
    assert _invoke(*args, "--force").exit_code == 0
    assert openpyxl.load_workbook(second)["考核数据"].cell(2, 2).value == "李娜"


@pytest.fixture
def shanghai(monkeypatch):
    """The machine's time zone is Beijing time (UTC+8, no daylight saving)."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_are_shown_in_local_time_and_kept_in_utc(inbox, shanghai) -> None:
    inbox.add("b.xlsx", [GOOD_SENIOR])
    assert inbox.run().exit_code == 0
    with Ledger(inbox.out / "ledger.sqlite") as ledger:
        kept = ledger.runs()[0]
    assert kept.finished_at.endswith("+00:00") and kept.started_at.endswith("+00:00")
    utc = dt.datetime.fromisoformat(kept.finished_at)
    beijing = (utc + dt.timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S") + "+08:00"
    res = _invoke("runs", "--output", str(inbox.out))
    assert f"\t{beijing}\t" in res.output, res.output
    res = _invoke("history", "E001", "--output", str(inbox.out))
    assert res.output.splitlines()[1].endswith("\t完成时间")
    assert res.output.splitlines()[2].endswith(f"\t{beijing}"), res.output
    report = (inbox.out / "2026Q3" / "report.html").read_text(encoding="utf-8")
    assert f"<tr><th>结束时间</th><td>{beijing}</td></tr>" in report
