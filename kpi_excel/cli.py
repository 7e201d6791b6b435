"""Thin click commands: the only place that talks to the terminal.

The library raises domain exceptions (errors.py); only this module turns them into messages and
exit codes: 0 everything scored, 1 something refused (or not found), 2 usage or rulebook error, or
an inbox refused as a whole (empty, or nobody scored where the current run scored people).
No Python traceback reaches a clerk: unexpected errors are logged and summarised in one line.
Output piped into a reader that stops early (`| head -1`) ends quietly with status 141, as a
program killed by SIGPIPE does.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__, cli_zh
from .errors import (
    InboxRefused,
    KpiExcelError,
    NotFound,
    OutputExists,
    RulebookError,
    RunLocked,
    UsageError,
)
from .ledger import DEFAULT_SCHEME
from .ledger_db import ENV_VAR as LEDGER_ENV
from .ledger_db import is_url
from .periods import parse_period, split_period
from .rulebook import load_rulebook
from .timefmt import local_time

cli_zh.install()  # click's own messages in Chinese; before any option is declared

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for `cmd | head -1`


class Exit(click.ClickException):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code

    def show(self, file: Any = None) -> None:
        # a bad rulebook has a line per problem; indented lines are details of the one above
        for line in self.message.splitlines() or [""]:
            click.echo(line if line.startswith("  ") else f"错误: {line}", err=True)


class _LazyFileHandler(logging.FileHandler):
    """A log file made (with its folder) at the first message: a run that writes nothing, such
    as one refused for an empty inbox, leaves no trace in the output folder."""

    def _open(self):  # noqa: ANN202 - logging's own signature
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        """A log that cannot be written is left out; the clerk never sees logging's traceback."""


def _log_to(path: Path) -> Path | None:
    try:
        handler = _LazyFileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("kpi_excel")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return path


def handle_errors(func: Callable) -> Callable:
    """Turn domain errors into Chinese one-liners with the right exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            _quiet_stdout()
            sys.exit(EXIT_PIPE_CLOSED)
        except InboxRefused as exc:
            lines = [exc.message, *(f"  {r}" for r in exc.reasons)]
            raise Exit("\n".join(lines), EXIT_USAGE) from None
        except (UsageError, RulebookError) as exc:
            raise Exit(str(exc), EXIT_USAGE) from None
        except (NotFound, RunLocked) as exc:
            raise Exit(str(exc), EXIT_REFUSED) from None
        except KpiExcelError as exc:
            raise Exit(str(exc), EXIT_REFUSED) from None
        except KeyboardInterrupt:
            raise Exit("已中断,之前的输出保持不变", 130) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception:
            log = logging.getLogger("kpi_excel")
            files = [h for h in log.handlers if isinstance(h, logging.FileHandler)]
            if not files and isinstance(kwargs.get("output"), Path):
                _log_to(kwargs["output"] / "kpi-excel.log")  # commands other than run
            log.error("unexpected error\n%s", traceback.format_exc())
            raise Exit(
                "发生意外错误,详情已记录到输出文件夹中的 kpi-excel.log,请联系管理员", EXIT_REFUSED
            ) from None

    return wrapper


def _quiet_stdout() -> None:
    """The reader of stdout has gone: send what is still buffered to the null device, so that
    Python's flush at exit does not complain on stderr."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):  # no real file (tests): nothing to do
        pass


def rules_option(func: Callable) -> Callable:
    return click.option(
        "--rules",
        "rules_path",
        type=str,
        default=None,
        metavar="方案或文件",
        help="考核方案:随程序发布的方案编号(main、loan-eva、mgmt-monthly,见 kpi-excel rules list)"
        "或规则文件(YAML)路径;默认 main(《银行客户经理考核管理办法》)",
    )(func)


def ledger_option(func: Callable) -> Callable:
    return click.option(
        "--ledger",
        "ledger_path",
        type=str,
        metavar="台账",
        default=None,
        envvar=LEDGER_ENV,
        callback=_ledger_location,
        help="台账:SQLite 文件,或多人共用的 PostgreSQL 数据库,如 postgresql://用户@主机/库名;"
        "也可用环境变量 KPI_EXCEL_LEDGER 指定;默认为 <输出文件夹>/ledger.sqlite",
    )(func)


def _ledger_location(_ctx: click.Context, _param: click.Parameter, value: str | None):
    """The --ledger value: a PostgreSQL URL as it is, a file as a Path."""
    if value is None or value == "":
        return None
    return value if is_url(value) else Path(value)


def year_option(func: Callable) -> Callable:
    return click.option(
        "--year",
        type=cli_zh.Integer(2000, 2100),
        default=None,
        help="只写 Q3 时所用的年份,默认当年",
    )(func)


def output_option(func: Callable) -> Callable:
    return click.option(
        "--output",
        "-o",
        "output",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("output"),
        show_default=True,
        help="输出文件夹",
    )(func)


def out_file_options(what: str, default: str) -> Callable[[Callable], Callable]:
    """`-o FILE` (the file written, `default` when not given) and `--force` (overwrite it), as
    `template`, `appeal template` and `rules show` take them."""

    def decorate(func: Callable) -> Callable:
        func = click.option("--force", is_flag=True, help=f"{what}已存在时覆盖它(默认不覆盖)")(func)
        return click.option(
            "-o",
            "out_file",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help=f"{what}名,默认 {default}",
        )(func)

    return decorate


def refuse_overwrite(target: Path, force: bool) -> None:
    """An existing file is replaced only with --force."""
    if target.exists() and not force:
        raise UsageError(
            f"文件 {target} 已存在,未覆盖;如需覆盖请加 --force,或用 -o 指定另一个文件名"
        )


@click.group(cls=cli_zh.Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, prog_name="kpi-excel", message="%(prog)s %(version)s", help="显示版本并退出"
)
def main() -> None:
    """kpi-excel:按《银行客户经理考核管理办法》批量计算客户经理与支行行长的考核结果。

    各命令的用法见 kpi-excel 命令 --help,如 kpi-excel run --help。"""
    from .guard import assert_defused

    try:
        assert_defused()  # openpyxl must refuse XML bombs; never run without it
    except KpiExcelError as exc:
        raise Exit(str(exc), EXIT_USAGE) from None


@main.command()
@click.argument("period", metavar="考核期")
@click.option(
    "--inbox",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="各支行工作簿所在文件夹,默认 inbox/<考核期>/",
)
@output_option
@ledger_option
@rules_option
@click.option(
    "--jobs", "-j", type=cli_zh.Integer(1, 64), default=None, help="并行读取的进程数,默认为CPU核数"
)
@year_option
@click.option(
    "--org",
    "org_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="文件",
    help="按对照表文件(CSV或xlsx)中的机构号与上级机构对全行汇总分组,对照表优先于工作簿中所填的上级机构",
)
@click.option(
    "--branch-sheets",
    type=cli_zh.Integer(0, 100000),
    default=None,
    metavar="N",
    help="全行汇总工作簿最多包含的机构明细工作表数,默认按规则文件(300);超过时按上级机构各另存一份汇总工作簿",
)
@handle_errors
def run(
    period: str,
    inbox: Path | None,
    output: Path,
    ledger_path: Path | str | None,
    rules_path: str | None,
    jobs: int | None,
    year: int | None,
    org_path: Path | None,
    branch_sheets: int | None,
) -> None:
    """计算一个考核期(如 2026Q3、2026-Q3、Q3、2026FY)的全部工作簿。"""
    from .organisation import read_org
    from .pipeline import run as run_pipeline

    rules = load_rulebook(rules_path)
    p = parse_period(period, rules.calendar, default_year=year)
    if inbox is None:
        inbox, hint = Path("inbox") / p.code, "请用 --inbox 指定各支行工作簿所在的文件夹"
    else:
        hint = "请检查 --inbox 后的文件夹路径"
    if not inbox.is_dir():
        raise UsageError(f"收件夹不存在: {inbox},{hint}")
    org = read_org(org_path) if org_path is not None else None
    log_path = _log_to(output / "kpi-excel.log")
    bar = _progress_bar()
    try:
        result = run_pipeline(
            p,
            inbox,
            output,
            rules,
            jobs=jobs,
            progress=bar.update if bar else None,
            ledger_path=ledger_path,
            command_line=cli_zh.command_line(click.get_current_context()),
            org=org,
            branch_sheets=branch_sheets,
        )
    finally:
        if bar:
            bar.finish()
    _summary(result, log_path)
    sys.exit(EXIT_OK if result.clean else EXIT_REFUSED)


class _Bar:
    def __init__(self) -> None:
        self.bar: Any = None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="读取工作簿", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _progress_bar() -> _Bar | None:
    return _Bar() if sys.stderr.isatty() else None


MAX_PEOPLE_LISTED = 10  # refused people the end-of-run summary names, with their reasons


def _summary(result: Any, log_path: Path | None) -> None:
    echo = click.echo
    echo(f"考核期 {result.period.code}(运行 {result.run_id})")
    refused = len(result.files_refused)
    copies = f", 相同副本 {len(result.files_duplicate)} 个" if result.files_duplicate else ""
    echo(
        f"工作簿: 共 {result.files_total} 个, 已计分 {result.files_accepted} 个, 拒收 {refused} 个"
        + copies
    )
    echo(f"人员: 计分 {result.scored} 人, 未计分 {result.refused_people} 人")
    counts = result.outcome_counts()
    names = list(result.outcome_order)  # the rulebook's, mildest first: 正常, 预警, 降级, 解聘
    if names and result.scored:  # a scheme without Article 14-like rules has no outcomes
        names += [k for k in counts if k and k not in names]
        echo("考核结论: " + ", ".join(f"{k} {counts.get(k, 0)} 人" for k in names))
    if result.files_skipped:
        echo(f"已跳过(非提交文件): {', '.join(result.files_skipped)}")
    for _file, reason in result.files_refused:
        echo(f"  拒收 {reason}")
    for copy, original in result.files_duplicate:
        echo(f"  相同副本 {copy} 与 {original} 内容完全相同,只计一次")
    _refused_people(result)
    _adjustments(result)
    if result.missing_branches:
        echo(
            f"注意: 以下机构在上次的运行(运行 {result.replaces})中有计分人员,本次一人也没有计分;"
            f"本次结果成为当前结果后,这些人员在 {result.period.code} 没有考核结果,"
            "上次的输出保存在 previous 文件夹中:"
        )
        for m in result.missing_branches:
            name = f" {m.name}" if m.name else ""
            echo(f"  缺少机构 {m.code}{name}(上次计分 {m.scored_before} 人):{m.reason}")
    for wanted, written in result.moved_aside:
        echo(f"  注意: {wanted.name} 被其他程序占用,结果已另存为 {written.name}")
    if result.previous_dir is not None:
        echo(
            f"上次的输出(运行 {result.replaces or result.previous_dir.name})已移至 {result.previous_dir}"
        )
    echo(f"输出: {result.out_dir}")
    report = result.out_dir / "report.html"
    if result.refused_people or result.files_refused:
        echo(f"报告: {report}(未计分人员与拒收文件的全部原因)")
    else:
        echo(f"报告: {report}")
    if result.files_refused:
        echo(f"拒收的文件清单: {result.out_dir / 'rejected.csv'}")
    if log_path and log_path.exists():
        echo(f"日志: {log_path}")


def _adjustments(result: Any) -> None:
    """The adjustments (申诉调整) applied, and every one refused with its reason."""
    adjustments = getattr(result, "adjustments", None)
    if adjustments is None or not (adjustments.items or adjustments.refused_files):
        return
    applied, reasons = adjustments.applied, adjustments.reasons()
    click.echo(f"申诉调整: 采用 {len(applied)} 条, 未采用 {len(reasons)} 条")
    for a in applied:
        click.echo(f"  {a.emp_id} {a.note()}")
    for reason in reasons:
        click.echo(f"  未采用 {reason}")


def _refused_people(result: Any) -> None:
    """The first refused people, each with where and why (the reasons name file, sheet, cell)."""
    from .write.fastsheet import text_of

    n = result.refused_people
    if not n:
        return
    people = result.people
    refused = people[people["refused"].astype(bool)].head(MAX_PEOPLE_LISTED)
    first = f",以下为前 {MAX_PEOPLE_LISTED} 人" if n > MAX_PEOPLE_LISTED else ""
    click.echo(f"未计分人员(共 {n} 人{first}):")
    for _i, row in refused.iterrows():
        branch, emp, name = (text_of(row.get(k)) for k in ("branch_name", "emp_id", "name"))
        who = f"{name}({emp})" if emp and name else emp or name
        if not who:
            who = f"{text_of(row.get('_file'))} 第{text_of(row.get('_row'))}行"
        click.echo(f"  {' '.join(x for x in (branch, who) if x)}: {text_of(row.get('errors'))}")
    if n > MAX_PEOPLE_LISTED:
        click.echo(f"  ……另有 {n - MAX_PEOPLE_LISTED} 人未计分,见报告 report.html")


@main.command()
@click.argument("period", metavar="考核期")
@out_file_options("模板文件", "考核模板_<考核期>.xlsx")
@click.option(
    "--roster",
    type=click.Path(path_type=Path, dir_okay=False, exists=False),
    default=None,
    help="花名册(CSV 或 xlsx:机构号、机构名称、员工编号、姓名、岗位),每个机构生成一份预填模板",
)
@click.option(
    "--outdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="与 --roster 一起使用:预填模板的输出文件夹",
)
@rules_option
@year_option
@handle_errors
def template(
    period: str,
    out_file: Path | None,
    roster: Path | None,
    outdir: Path | None,
    force: bool,
    rules_path: str | None,
    year: int | None,
) -> None:
    """生成某考核期的标准填报模板(可按花名册为每个机构预填)。"""
    from .template import build_template, build_templates_from_roster

    rules = load_rulebook(rules_path)
    p = parse_period(period, rules.calendar, default_year=year)
    if roster and out_file:
        raise UsageError("-o 与 --roster 不能同时使用;使用花名册时用 --outdir 指定输出文件夹")
    if roster:
        if not roster.is_file():
            raise UsageError(f"找不到花名册文件 {roster},请检查 --roster 后的文件路径")
        try:
            paths = build_templates_from_roster(
                roster, outdir or Path("."), p, rules, overwrite=force
            )
        except OutputExists as exc:
            names = "、".join(str(x) for x in exc.paths)
            raise UsageError(
                f"以下模板文件已存在,均未生成: {names};如需覆盖请加 --force,"
                "或用 --outdir 指定另一个文件夹"
            ) from None
    else:
        target = out_file or Path(f"考核模板_{p.code}.xlsx")
        refuse_overwrite(target, force)
        paths = [build_template(target, p, rules)]
    for path in paths:
        click.echo(f"已生成 {path}")


def _open_ledger(output: Path, ledger_path: Path | str | None):
    from .ledger import Ledger, exists, location

    path = location(ledger_path, output)
    if not exists(path):
        raise NotFound(f"找不到台账 {path},请先运行 kpi-excel run,或用 --ledger 指定台账文件")
    return Ledger(path)


@main.command()
@click.argument("emp_id", metavar="员工编号")
@output_option
@ledger_option
@handle_errors
def history(emp_id: str, output: Path, ledger_path: Path | str | None) -> None:
    """列出某员工在各考核期的当前结果(综合得分、等级、结论、预警)。"""
    from .history import flags_in_words, run_rulebook

    with _open_ledger(output, ledger_path) as ledger:
        rows = ledger.history(emp_id)
        runs = {r["run"]: run_rulebook(ledger, r["run"]) for r in rows if r["flags"]}
        events = {(r["scheme"], r["period"]): ledger.events(r["period"], r["scheme"]) for r in rows}
    if not rows:
        raise NotFound(f"台账中没有员工编号「{emp_id}」的考核记录")
    click.echo(f"员工 {emp_id} {rows[-1]['name']}")
    reviewed = any(events.values())  # a column only once a period was approved
    click.echo(
        "考核期\t机构号\t状态\t综合得分\t等级\t考核结论\t预警与处理\t完成时间"
        + ("\t审核" if reviewed else "")
    )
    for r in rows:
        status = "已计分" if r["status"] == "scored" else "未计分"
        flags = flags_in_words(r["flags"], runs.get(r["run"]))
        review = _review_state(events[(r["scheme"], r["period"])])
        click.echo(
            f"{r['period']}\t{r['branch_code']}\t{status}\t{r['total']}\t{r['grade']}\t{r['outcome']}\t{flags}"
            f"\t{local_time(r['finished_at'])}" + (f"\t{review}" if reviewed else "")
        )
    _event_lines([e for (_s, _p), es in events.items() for e in es])


EVENT_KINDS = {"approve": "审核", "reopen": "重开"}


def _review_state(events: list) -> str:
    """A period's review state from its events: the latest one, in words."""
    if not events:
        return ""
    e = events[-1]
    word = "已审核" if e.kind == "approve" else "已重开"
    return f"{word}({e.by} {local_time(e.at)})"


def _event_lines(events: list) -> None:
    """Approvals and reopenings, one line each, after a table (nothing when there are none)."""
    if not events:
        return
    click.echo("")
    click.echo("审核与重开记录:")
    click.echo("时间\t考核期\t事项\t经办人\t运行编号\t备注或原因")
    for e in sorted(events, key=lambda e: e.id):
        period = e.period if e.scheme == DEFAULT_SCHEME else f"{e.period}({e.scheme})"
        note = " ".join(e.note.split())
        click.echo(
            f"{local_time(e.at)}\t{period}\t{EVENT_KINDS.get(e.kind, e.kind)}\t{e.by}\t{e.run_id}\t{note}"
        )


@main.command()
@click.argument("period", metavar="考核期")
@click.argument("emp_id", metavar="员工编号")
@output_option
@ledger_option
@rules_option
@year_option
@handle_errors
def explain(
    period: str,
    emp_id: str,
    output: Path,
    ledger_path: Path | str | None,
    rules_path: str | None,
    year: int | None,
) -> None:
    """逐项说明某员工某考核期的得分是如何算出的(--rules 指定方案,默认 main)。"""
    from .explain import explain_person
    from .history import flags_in_words, run_rulebook

    # The run's own rulebook says which periods exist; until it is found, the period is
    # only split into year and code to look the run up.
    year_, kind = split_period(period, default_year=year)
    code = f"{year_}{kind}"
    scheme = load_rulebook(rules_path).id if rules_path else DEFAULT_SCHEME
    with _open_ledger(output, ledger_path) as ledger:
        current = ledger.current_run(code, scheme)
        if current is None:
            where = "" if scheme == DEFAULT_SCHEME else f"方案 {scheme} "
            raise NotFound(f"台账中没有{where}考核期 {code} 的运行记录")
        person = ledger.people_of(current.id, [emp_id]).get(emp_id)
        if person is None:
            raise NotFound(f"考核期 {code} 中没有员工编号「{emp_id}」")
        rules = run_rulebook(ledger, current.id)  # the rulebook of that run, not today's
    row = {**person["inputs"], **person["results"]}
    click.echo(
        f"{code} {row.get('branch_name', '')} {emp_id} {row.get('name', '')}(运行 {current.run_id})"
    )
    if person["status"] != "scored":
        click.echo(f"未计分:{row.get('errors', '')}")
        return
    if rules is None or "grade_row" not in row:
        # An earlier kpi-excel kept no item-by-item account: say what the run decided.
        click.echo(
            "说明: 该运行由较早版本的 kpi-excel 完成,台账中没有逐项计分说明,以下为当时的结果"
        )
        row["flags"] = flags_in_words(str(row.get("flags") or ""), rules)
        for label, key in (("综合得分", "total"), ("考核等级", "grade"), ("预警与处理", "flags"),
                           ("考核结论", "outcome"), ("建议职级", "recommended_level")):  # fmt: skip
            click.echo(f"{label}: {row.get(key, '')}")
        return
    p = parse_period(code, rules.calendar)
    for label, sentence in explain_person(row, rules, p):
        click.echo(f"{label}: {sentence}")


@main.command()
@output_option
@ledger_option
@handle_errors
def runs(output: Path, ledger_path: Path | str | None) -> None:
    """列出台账中的全部运行(考核期、时间、人数)。"""
    with _open_ledger(output, ledger_path) as ledger:
        records = ledger.runs()
        current = {(r.scheme, r.period): ledger.current_run(r.period, r.scheme) for r in records}
        events = ledger.events()
    if not records:
        raise NotFound("台账中还没有任何运行记录")
    schemes = len({r.scheme for r in records}) > 1  # a column only when there is a choice
    reviewed = bool(events)  # a column only once a period was approved
    click.echo(
        "运行编号\t考核期\t完成时间\t工作簿\t拒收\t计分\t未计分\t当前"
        + ("\t审核" if reviewed else "")
        + ("\t方案" if schemes else "")
    )
    for r in records:
        now = current[(r.scheme, r.period)]
        mark = "是" if now and now.id == r.id else ""
        review = _review_state([e for e in events if e.run == r.id])
        click.echo(
            f"{r.run_id}\t{r.period}\t{local_time(r.finished_at)}\t{r.files_total}\t{r.files_refused}\t"
            f"{r.people_scored}\t{r.people_refused}\t{mark}"
            + (f"\t{review}" if reviewed else "")
            + (f"\t{r.scheme}" if schemes else "")
        )
    _event_lines(events)


@main.command()
@click.argument("period", metavar="考核期")
@click.option("--by", "by", required=True, metavar="姓名", help="审核人姓名(必填)")
@click.option("--note", default="", metavar="备注", help="审核备注,记入台账并标注在输出中")
@output_option
@ledger_option
@rules_option
@year_option
@handle_errors
def approve(
    period: str,
    by: str,
    note: str,
    output: Path,
    ledger_path: Path | str | None,
    rules_path: str | None,
    year: int | None,
) -> None:
    """审核某考核期的当前运行:在各机构工作簿、汇总表和报告上标注“已审核”及审核人、时间,
    并在台账中记录审核人、时间、运行编号和每个输出文件的校验值。审核后该考核期
    不能重新运行,除非先用 kpi-excel reopen 重开。"""
    from .approval import approve as approve_period

    event = approve_period(
        period, by, note=note, rules=rules_path, output=output, ledger=ledger_path, year=year
    )
    click.echo(
        f"考核期 {event.period} 已审核:审核人 {event.by},时间 {local_time(event.at)},"
        f"运行 {event.run_id}"
    )
    click.echo(
        f"已将 {len(event.outputs)} 个输出文件的校验值(SHA-256)记入台账;工作簿与报告已标注“已审核”"
    )


@main.command()
@click.argument("period", metavar="考核期")
@click.option("--by", "by", required=True, metavar="姓名", help="重开人姓名(必填)")
@click.option("--reason", required=True, metavar="原因", help="重开原因(必填),记入台账")
@output_option
@ledger_option
@rules_option
@year_option
@handle_errors
def reopen(
    period: str,
    by: str,
    reason: str,
    output: Path,
    ledger_path: Path | str | None,
    rules_path: str | None,
    year: int | None,
) -> None:
    """重开已审核的考核期:在台账中记录重开人、时间和原因,此后可重新运行该考核期。"""
    from .approval import reopen as reopen_period

    event = reopen_period(
        period, by, reason, rules=rules_path, output=output, ledger=ledger_path, year=year
    )
    click.echo(
        f"考核期 {event.period} 已重开:重开人 {event.by},时间 {local_time(event.at)},"
        f"原因 {event.note};原审核的运行为 {event.run_id}。现在可以重新运行 kpi-excel run {event.period}"
    )


@main.command(
    short_help="按另一份规则重算某考核期,列出结果会变化的人员及原因。",
    help="按另一份规则重算某考核期当前运行的数据,列出综合得分、等级、考核结论或预警会变化的人员,"
    "变化前后的结果及原因(哪条规则变了、本人的数据),以及各机构和全行的变化人数。不读工作簿:"
    "按台账中该运行保存的数据和当时的跨期数据重算。在该考核期的输出文件夹中写出"
    " compare_<名称>.xlsx 与 compare_<名称>.html(名称取自规则文件名)。",
)
@click.argument("period", metavar="考核期")
@click.option(
    "--rules",
    "rules_path",
    required=True,
    metavar="方案或文件",
    help="用来重算的另一份规则:规则文件(YAML)路径或随程序发布的方案编号;须与该运行的方案"
    "输入字段相同",
)
@click.option(
    "--scheme",
    default=None,
    metavar="方案编号",
    help="比较哪个方案的运行,默认为 --rules 所指规则文件的方案编号;该考核期没有其运行时为 main",
)
@output_option
@ledger_option
@year_option
@handle_errors
def compare(
    period: str,
    rules_path: str,
    scheme: str | None,
    output: Path,
    ledger_path: Path | str | None,
    year: int | None,
) -> None:
    from .compare_report import print_summary, write_comparison
    from .comparison import compare as compare_rules
    from .write.compare_book import compare_name

    other = load_rulebook(rules_path)
    with _open_ledger(output, ledger_path) as ledger:
        result = compare_rules(period, other, ledger=ledger, scheme=scheme, year=year)
    paths = write_comparison(result, output, compare_name(rules_path))
    print_summary(result, paths, click.echo)


@main.group("appeal")
def appeal_group() -> None:
    """申诉调整:生成调整表;填好后放入 inbox/<考核期>/调整/,运行时采用。"""


@appeal_group.command(
    "template",
    short_help="生成某考核期的申诉调整表。",
    help="生成某考核期的申诉调整表(.xlsx):每行一条经批准的调整,改正某人的一项数据"
    "(改正数据)或改变其考核结论(申诉改结论),写明理由、审批人和审批日期。填好后放入"
    " inbox/<考核期>/调整/ 文件夹,再运行 kpi-excel run;每条调整按与报送数据相同的要求检查,"
    "有问题的不予采用并列出原因。",
)
@click.argument("period", metavar="考核期")
@out_file_options("调整表文件", "申诉调整_<考核期>.xlsx")
@rules_option
@year_option
@handle_errors
def appeal_template(
    period: str, out_file: Path | None, force: bool, rules_path: str | None, year: int | None
) -> None:
    from .appeal import build_template

    rules = load_rulebook(rules_path)
    p = parse_period(period, rules.calendar, default_year=year)
    target = out_file or Path(f"申诉调整_{p.code}.xlsx")
    refuse_overwrite(target, force)
    click.echo(f"已生成 {build_template(target, p, rules)}")
    click.echo(f"填好后放入 inbox/{p.code}/调整/ 文件夹,再运行 kpi-excel run {p.code}")


@main.group("rules")
def rules_group() -> None:
    """考核方案的规则文件:列出随程序发布的方案、生成规则说明、检查规则文件、比较两个规则文件。"""


@rules_group.command("list")
@handle_errors
def rules_list() -> None:
    """列出随程序发布的考核方案(方案编号、名称、规则文件),--rules 可用其编号选用。"""
    from .rulebook import shipped_rulebooks

    click.echo("方案编号\t名称\t规则文件")
    for scheme, path in shipped_rulebooks().items():
        try:
            name = load_rulebook(path).name
        except RulebookError:
            name = f"(规则文件有误,请运行 kpi-excel rules check {scheme})"
        click.echo(f"{scheme}\t{name}\t{path}")


@rules_group.command(
    "show",
    short_help="生成规则说明(xlsx,可打印),供审定考核方案使用。",
    help="生成规则说明(xlsx,可打印,A4横向):每个输入字段,每个派生指标和计分项目的文字说明"
    "(含分档),等级、预警与处理及参数,各附依据条款,供审定考核方案使用。"
    "方案或文件:随程序发布的方案编号(见 kpi-excel rules list)或规则文件(YAML)路径。",
)
@click.argument("scheme", metavar="方案或文件")
@out_file_options("输出文件", "当前文件夹中的 规则说明_<方案编号>.xlsx")
@handle_errors
def rules_show(scheme: str, out_file: Path | None, force: bool) -> None:
    from .rules_doc import default_name, write_rules_doc

    rules = load_rulebook(scheme)
    target = out_file or Path(default_name(rules))
    refuse_overwrite(target, force)
    click.echo(f"已生成 {write_rules_doc(target, rules)}")


@rules_group.command(
    "check",
    short_help="检查规则文件,每个问题一行。",
    help="检查规则文件:格式与引用(未知的键或名称、循环引用等),以及未使用的字段和派生指标、"
    "分母可能为0而没有规定、永远用不到的分档、得分恒定的项目、没有计分项目的岗位、"
    "达不到的等级、永远不会成立或对所有人都成立的预警条件。每个问题一行;"
    "没有问题时退出码为0,有问题时为2。",
)
@click.argument("scheme", metavar="方案或文件")
@handle_errors
def rules_check(scheme: str) -> None:
    from .rules_lint import check_file

    rules, problems = check_file(scheme)
    if problems or rules is None:
        raise Exit("\n".join(problems), EXIT_USAGE)
    click.echo(f"规则文件 {rules.path.name} 检查通过(方案 {rules.id}:{rules.name})")


@rules_group.command(
    "diff",
    short_help="列出两个规则文件之间的差异。",
    help="列出两个规则文件之间的差异:每项变化一行(类别、项目、原值、新值、依据条款),"
    "项目以规则文件中的中文名称(字段名、岗位、计分项目、等级、预警代码与名称)表示;"
    "没有差异时输出“无差异”。退出码为0。方案或文件:随程序发布的方案编号或规则文件(YAML)路径。",
)
@click.argument("old", metavar="原方案或文件")
@click.argument("new", metavar="新方案或文件")
@handle_errors
def rules_diff(old: str, new: str) -> None:
    from .rules_diff import DIFF_COLUMNS, diff_rules

    changes = diff_rules(load_rulebook(old), load_rulebook(new))
    if not changes:
        click.echo("无差异")
        return
    click.echo("\t".join(DIFF_COLUMNS.values()))
    for c in changes:
        click.echo("\t".join(" ".join(str(getattr(c, k)).split()) for k in DIFF_COLUMNS))
