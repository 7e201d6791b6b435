"""click in Simplified Chinese: every message it prints, and help laid out by display width.

click ships no translations of its own: each of its modules does `from gettext import gettext
as _` (and `ngettext`), i.e. it asks Python's process-wide default gettext domain, whose
language comes from the LANGUAGE/LC_*/LANG environment variables. Installing a catalog in that
global domain would change other programs' messages and still depend on the clerk's locale, so
`install()` instead rebinds `_` and `ngettext` in click's own modules to lookups in CATALOG and
PLURALS below. That uses click's internals (those module globals and its exact English message
ids): pyproject.toml pins click to the versions tested, and tests/test_cli_chinese.py checks
that every message id in the installed click's source has a translation here. A message missing
from the catalog stays English rather than failing.

What gettext does not reach is set by the classes below: the usage line's `[OPTIONS]` and
`COMMAND [ARGS]...` (Command/Group), and a help formatter that measures text by its display
width (a CJK character takes two columns), so that columns line up and lines fit the terminal.
"""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import click

# click's message ids (English, exactly as in its source) -> Simplified Chinese. Placeholders
# ({name}, %(prog)s …) are kept as they are: click fills them in after the lookup.
CATALOG: dict[str, str] = {
    # usage errors and their frame
    "Usage:": "用法:",
    "Error: {message}": "错误: {message}",
    "Try '{command} {option}' for help.": "查看帮助请运行 '{command} {option}'。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数: {param_name}",
    "Missing command.": "缺少命令。",
    "No such command {name!r}.": "没有这个命令 {name!r}。",
    "No such option {name!r}.": "没有这个选项 {name!r}。",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效: {message}",
    "Invalid value: {message}": "值无效: {message}",
    "Option {name!r} does not take a value.": "选项 {name!r} 后面不能带值。",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Invalid start character for option ({option})": "选项的开头字符无效({option})",
    "unknown error": "未知错误",
    "Aborted!": "已中止!",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}: {message}",
    # help pages
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "参数",
    "Show this message and exit.": "显示本帮助并退出",
    "Show the version and exit.": "显示版本并退出",
    "%(prog)s, version %(version)s": "%(prog)s,版本 %(version)s",
    "default: {default}": "默认: {default}",
    "env var: {var}": "环境变量: {var}",
    "required": "必填",
    "(dynamic)": "(动态)",
    "deprecated": "已停用",
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}": (
        "注意: 命令 {name!r} 已停用。{extra_message}"
    ),
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}": (
        "注意: {param_type} {name!r} 已停用。{extra_message}"
    ),
    # parameter types and their complaints
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a file.": "{filename!r} 是文件,此处应为{name}。",
    "{name} {filename!r} is a directory.": "{filename!r} 是文件夹,此处应为{name}。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 无法读取。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 无法写入。",
    "{name} {filename!r} is not executable.": "{name} {filename!r} 无法执行。",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在允许的范围 {range} 内。",
    "{value!r} is not a valid boolean. Recognized values: {states}": (
        "{value!r} 不是有效的是/否值,可用的值: {states}"
    ),
    "{value!r} is not a valid UUID.": "{value!r} 不是有效的 UUID。",
    "Choose from:\n\t{choices}": "可选的值:\n\t{choices}",
    "Choice({choices})": "可选值({choices})",
    "Value must be an iterable.": "值必须是一组值。",
    # prompts and terminal
    "Do you want to continue?": "是否继续?",
    "Confirm the action without prompting.": "不再询问,直接确认。",
    "Repeat for confirmation": "请再输入一次以确认",
    "Error: The two entered values do not match.": "错误: 两次输入的值不一致。",
    "Error: invalid input": "错误: 输入无效",
    "Press any key to continue...": "按任意键继续……",
    "d": "天",
    "{editor}: Editing failed": "{editor}: 编辑失败",
    "{editor}: Editing failed: {e}": "{editor}: 编辑失败: {e}",
    "Windows error: {error}": "Windows 错误: {error}",
    "Unknown color {colour!r}": "未知的颜色 {colour!r}",
    "Unknown standard stream '{name}'": "未知的标准流 '{name}'",
    "Shell completion is not supported for Bash versions older than 4.4.": (
        "Bash 4.4 以前的版本不支持命令补全。"
    ),
    "Couldn't detect Bash version, shell completion is not supported.": (
        "无法确定 Bash 的版本,不支持命令补全。"
    ),
    # mistakes in a program's own declarations (a developer's, never a clerk's)
    "Could not determine name for option with declarations {decls!r}": (
        "无法确定选项 {decls!r} 的名称"
    ),
    "No options defined but a name was passed ({name}). Did you mean to declare an argument "
    "instead? Did you mean to pass '--{name}'?": (
        "没有定义选项却给出了名称({name})。是要定义参数,还是要写 '--{name}'?"
    ),
    "Arguments take exactly one parameter declaration, got {length}: {decls}.": (
        "参数只能有一个名称,实际有 {length} 个: {decls}。"
    ),
    "Name '{name}' defined twice": "名称 '{name}' 重复定义",
    "Boolean option {decl!r} cannot use the same flag for true/false.": (
        "是/否选项 {decl!r} 的“是”和“否”不能用同一个写法。"
    ),
}

# ngettext's message ids, by the singular: Chinese has one form for every count.
PLURALS: dict[str, str] = {
    "Got unexpected extra argument ({args})": "多余的参数({args})",
    "Takes {nargs} values but 1 was given.": "需要 {nargs} 个值,实际为 {len} 个。",
    "Did you mean {possibility}?": "是不是要输入 {possibilities}?",
    "Option {name!r} requires an argument.": "选项 {name!r} 后面需要 {nargs} 个值。",
    "{value!r} is not {choice}.": "{value!r} 不是可选的值({choices})。",
    "{value!r} does not match the format {format}.": "{value!r} 不符合格式 {formats}。",
    "{len_type} values are required, but {len_value} was given.": (
        "需要 {len_type} 个值,实际为 {len_value} 个。"
    ),
}

# click's modules that look messages up (shell completion and the terminal helpers are imported
# by click only when needed; _winconsole only on Windows).
CLICK_MODULES = (
    "core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils",
    "shell_completion", "_termui_impl", *(["_winconsole"] if sys.platform == "win32" else []),
)  # fmt: skip


def gettext(message: str) -> str:
    return CATALOG.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return PLURALS.get(singular) or (singular if n == 1 else plural)


def install() -> None:
    """Make click speak Chinese in this process (idempotent). Call it before declaring commands:
    click names some things when they are declared (a path option's 文件/文件夹)."""
    for name in CLICK_MODULES:
        try:
            module = importlib.import_module(f"click.{name}")
        except Exception:  # a helper click cannot load here: nothing to translate
            continue
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]


# -- display width -----------------------------------------------------------------------------

# Punctuation that never starts a line, and that never ends one (kept with what follows).
NO_LINE_START = set(",.;:!?)]}%、。,;:!?)】」』》〉’”…")
NO_LINE_END = set("([{「『《〈【(‘“")


def display_width(text: str) -> int:
    """Terminal columns `text` takes: two for a wide (CJK) character, none for a combining mark."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return width


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def _tokens(text: str) -> list[str]:
    """Units a line may break between: runs of spaces, words of narrow characters (`2026Q3`,
    `--inbox`, `kpi-excel`), single wide characters; punctuation stays with its neighbour."""
    out: list[str] = []
    for ch in text:
        prev = out[-1] if out else ""
        if ch.isspace():
            if prev and prev.isspace():
                out[-1] += ch
            else:
                out.append(ch)
        elif (
            prev
            and not prev.isspace()
            and (
                ch in NO_LINE_START or prev[-1] in NO_LINE_END or not (_wide(ch) or _wide(prev[-1]))
            )
        ):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _split_long(token: str, width: int) -> list[str]:
    """A token wider than a line, cut into pieces that fit."""
    pieces, piece = [], ""
    for ch in token:
        if piece and display_width(piece + ch) > width:
            pieces.append(piece)
            piece = ""
        piece += ch
    return [*pieces, piece] if piece else pieces


def wrap(text: str, width: int) -> list[str]:
    """`text` (one paragraph; line breaks count as spaces) in lines at most `width` columns."""
    width = max(width, 2)
    lines: list[str] = []
    line, used = "", 0
    for token in _tokens(" ".join(text.split("\n"))):
        w = display_width(token)
        if token.isspace():
            if line:
                line, used = line + token, used + w
            continue
        if used + w > width and line:
            lines.append(line.rstrip())
            line, used = "", 0
        if w > width:
            *full, token = _split_long(token, width)
            lines += full
            w = display_width(token)
        line, used = line + token, used + w
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _paragraphs(text: str) -> list[tuple[bool, str]]:
    """(kept as written, text) of each paragraph; click's `\\b` marks one not to re-wrap."""
    out = []
    for para in text.strip("\n").split("\n\n"):
        if para.startswith("\b"):
            out.append((True, para[1:].strip("\n")))
        elif para.strip():
            out.append((False, para.strip()))
    return out


def wrap_paragraphs(text: str, width: int) -> list[str]:
    """Each paragraph wrapped to `width`, a blank line between paragraphs."""
    lines: list[str] = []
    for kept, para in _paragraphs(text):
        if lines:
            lines.append("")
        lines += para.splitlines() if kept else wrap(para, width)
    return lines


class HelpFormatter(click.HelpFormatter):
    """click's help layout, measured in display columns rather than characters."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        if prefix is None:
            prefix = f"{gettext('Usage:')} "
        head = f"{prefix:>{self.current_indent}}{prog}"
        if not args:
            self.write(f"{head}\n")
            return
        head += " "
        room = self.width - self.current_indent
        if room - display_width(head) >= 20:
            lines = wrap(args, room - display_width(head))
            indent = " " * display_width(head)
            self.write(head + f"\n{indent}".join(lines) + "\n")
        else:  # the program's name is long: the arguments on the lines below
            indent = " " * (max(self.current_indent, display_width(prefix)) + 4)
            lines = wrap(args, room - len(indent))
            self.write(f"{head.rstrip()}\n" + "".join(f"{indent}{line}\n" for line in lines))

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        lines = wrap_paragraphs(text, self.width - self.current_indent)
        self.write("".join(f"{indent}{line}".rstrip() + "\n" for line in lines))

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = list(rows)
        if not rows:
            return
        first_col = min(max(display_width(a) for a, _b in rows), col_max) + col_spacing
        indent = " " * self.current_indent
        text_width = max(self.width - self.current_indent - first_col, 10)
        for first, second in rows:
            self.write(f"{indent}{first}")
            if not second:
                self.write("\n")
                continue
            w = display_width(first)
            if w <= first_col - col_spacing:
                self.write(" " * (first_col - w))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            lines = wrap_paragraphs(second, text_width) or [""]
            pad = " " * (first_col + self.current_indent)
            self.write(
                lines[0] + "\n" + "".join(f"{pad}{line}".rstrip() + "\n" for line in lines[1:])
            )


class Context(click.Context):
    formatter_class = HelpFormatter


def _missing(ctx: click.Context, exc: click.MissingParameter) -> click.UsageError:
    """`缺少参数 '考核期'。`: click's own wording ends a Chinese sentence with an English full
    stop, and adds a type's note after it."""
    param = exc.param
    if param is None:
        return exc
    kind = gettext("Missing argument" if isinstance(param, click.Argument) else "Missing option")
    note = f" {exc.message}" if exc.message else ""
    return click.UsageError(f"{kind} {param.get_error_hint(ctx)}。{note}", ctx)


class Command(click.Command):
    context_class = Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", "[选项]")
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.MissingParameter as exc:
            raise _missing(ctx, exc) from None


class Group(click.Group):
    """A group whose commands and subgroups speak Chinese, and that keeps the command line it
    was started with (`command_line`), for the run report."""

    context_class = Context
    command_class = Command
    group_class = type  # subgroups of the same class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", "[选项]")
        kwargs.setdefault("subcommand_metavar", "命令 [参数]...")
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.MissingParameter as exc:
            raise _missing(ctx, exc) from None

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        argv = [info_name or "", *args]
        ctx = super().make_context(info_name, args, parent, **extra)
        if parent is None:
            ctx.meta[ARGV_KEY] = argv
        return ctx


ARGV_KEY = "kpi_excel.argv"


def command_line(ctx: click.Context) -> str | None:
    """The command line the program was started with, quoted as the platform's shell would
    take it (`kpi-excel run 2026Q3 --inbox '收件 夹'`); None when not started by `Group.main`."""
    argv: Sequence[str] | None = ctx.meta.get(ARGV_KEY)
    if not argv:
        return None
    if os.name == "nt":
        return subprocess.list2cmdline(list(argv))
    return shlex.join(argv)


class Integer(click.IntRange):
    """A whole number in a range, named 整数 in help (metavar) and in its complaints."""

    name = "整数"
