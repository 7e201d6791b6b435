"""Read a rulebook's YAML and check it against its declared schema (templates/rulebook.schema.yaml).

Every problem becomes one Chinese line naming the file, the key path and what is wrong
(`规则文件 rules.yaml 的键 grades.heads[2].inclusve 未知(是否应为 inclusive?)`); all of them
are reported at once, sorted by key path. The references between parts of the rulebook are
resolved afterwards, in rulebook.py, with the same `Problems` collector.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import RulebookError

Path_ = tuple[str | int, ...]  # a key path: mapping keys and list indices

_TYPE_NAMES = {
    "string": "文本",
    "number": "数字",
    "integer": "整数",
    "boolean": "true 或 false",
    "object": "映射(键: 值)",
    "array": "列表",
    "null": "空值",
}
_MERGE_TAG = "tag:yaml.org,2002:merge"


def dotted(path: Iterable[str | int]) -> str:
    """`items[0].by_role.junior.target` for ("items", 0, "by_role", "junior", "target")."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(根)"


def actual(value: Any) -> str:
    """`(实际为「很多」)`: the offending value as a clerk would recognise it from the YAML."""
    if isinstance(value, bool):
        shown = " true" if value else " false"
    elif value is None:
        shown = "空值"
    elif isinstance(value, dict):
        shown = "映射"
    elif isinstance(value, list):
        shown = "列表"
    elif isinstance(value, int | float):
        shown = f" {value}"
    else:
        text = str(value)
        shown = f"「{text[:40]}…」" if len(text) > 40 else f"「{text}」"
    return f"(实际为{shown})"


def suggest(wrong: object, known: Iterable[str]) -> str:
    """`(是否应为 inclusive?)` when a known name is close to the wrong one, else ''."""
    close = difflib.get_close_matches(str(wrong), [str(k) for k in known], n=1, cutoff=0.75)
    return f"(是否应为 {close[0]}?)" if close else ""


class Problems:
    """The problems of one rulebook file, each a key path and what is wrong there."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[tuple[Path_, str]] = []

    def add(self, path: Iterable[str | int], what: str) -> None:
        self.found.append((tuple(path), what))

    def lines(self) -> list[str]:
        """One line per problem, sorted by key path (list indices in numeric order)."""

        def order(item: tuple[Path_, str]) -> tuple:
            path, what = item
            return (tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path), what)

        seen: dict[str, None] = {}
        for path, what in sorted(self.found, key=order):
            seen[f"规则文件 {self.file} 的键 {dotted(path)} {what}"] = None
        return list(seen)

    def raise_if_any(self) -> None:
        if self.found:
            raise RulebookError(self.lines())


# --- YAML ---------------------------------------------------------------------------------

# libyaml's loader when PyYAML was built with it (the wheels are): the same nodes, marks and
# errors as the pure-Python loader, about ten times faster. Every run loads the rulebook.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(data: bytes, file: str) -> tuple[Any, str]:
    """(data, text) of a rulebook's bytes; refuses bad UTF-8, bad YAML and repeated keys.

    Anchors, aliases and merge keys (`<<: *accounts`) work as YAML defines them; a key written
    twice in one mapping (the later one would silently win) is refused.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulebookError(
            f"规则文件 {file} 不是 UTF-8 编码的文本(第{exc.start + 1}个字节无法解码),"
            "请以 UTF-8 编码保存"
        ) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, text
        problems = Problems(file)
        _repeated_keys(node, (), problems, set())
        problems.raise_if_any()
        return loader.construct_document(node), text
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"第{mark.line + 1}行第{mark.column + 1}列附近" if mark else ""
        raise RulebookError(f"规则文件 {file} 不是有效的 YAML:{where}有语法错误") from None
    finally:
        loader.dispose()


def _repeated_keys(node: yaml.Node, path: Path_, problems: Problems, seen: set[int]) -> None:
    if id(node) in seen:  # an alias: its node was walked where the anchor is
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            ident = (key_node.tag, key)
            line = key_node.start_mark.line + 1
            if ident in keys and isinstance(key_node, yaml.ScalarNode):
                problems.add((*path, key), f"重复出现(第{keys[ident]}行和第{line}行)")
            keys.setdefault(ident, line)
            _repeated_keys(value_node, (*path, key), problems, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _repeated_keys(item, (*path, i), problems, seen)


# --- schema -------------------------------------------------------------------------------


@functools.cache
def schema() -> dict[str, Any]:
    """The rulebook's JSON Schema, shipped beside the rulebook."""
    source = resources.files("kpi_excel.templates").joinpath("rulebook.schema.yaml")
    return yaml.load(source.read_text(encoding="utf-8"), Loader=_Loader)


@functools.cache
def _validator() -> Draft202012Validator:
    # The shipped schema is checked against the JSON Schema meta-schema by the tests
    # (test_rulebook.py), not at every run: that check costs more than the rulebook's own.
    return Draft202012Validator(schema())


def check_schema(raw: Any, problems: Problems) -> None:
    """Add one problem per way `raw` breaks the schema."""
    if not isinstance(raw, dict):
        raise RulebookError(f"规则文件 {problems.file} 的顶层应为映射(键: 值){actual(raw)}")
    for error in _validator().iter_errors(raw):
        for path, what in _explain(error):
            problems.add(path, what)
    for path, value in _floats(raw, (), set()):  # JSON Schema has no word for .nan and .inf
        if not math.isfinite(value):
            problems.add(path, f"应为有限的数字(实际为 {value})")


def _floats(node: Any, path: Path_, seen: set[int]) -> Iterator[tuple[Path_, float]]:
    if isinstance(node, float):
        yield path, node
    elif isinstance(node, dict | list) and id(node) not in seen:
        seen.add(id(node))  # a mapping shared through an anchor is walked once
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in pairs:
            yield from _floats(value, (*path, key), seen)


def _types(names: str | list[str]) -> str:
    if isinstance(names, str):
        return _TYPE_NAMES[names]
    parts = [_TYPE_NAMES[n].replace("true 或 false", "true/false") for n in names]
    return "".join(
        ("或" if i else "") + (" " if i and p[0].isascii() else "") + p for i, p in enumerate(parts)
    )


def _listed(values: list[Any]) -> str:
    return "、".join(str(v) for v in values)


def _explain(e: ValidationError) -> Iterator[tuple[Path_, str]]:
    """(key path, Chinese text) for one jsonschema error; one error may name several keys."""
    path: Path_ = tuple(e.absolute_path)
    key, value, inst = e.validator, e.validator_value, e.instance
    if "propertyNames" in e.relative_schema_path:  # instance is the key's name
        expect = e.schema.get("x-expect") if isinstance(e.schema, dict) else None
        yield (*path, inst), "名称" + (expect or f"应为{_types(value)}")
        return
    expect = e.schema.get("x-expect") if isinstance(e.schema, dict) else None
    if expect and key in ("pattern", "const", "type"):
        yield path, expect + actual(inst)
        return
    handler = _MESSAGES.get(str(key))
    if handler is None:  # a keyword added to the schema without a message: say so plainly
        yield path, f"不符合规则文件格式({key}){actual(inst)}"
        return
    yield from handler(path, value, inst, e.schema)


def _required(path: Path_, value: Any, inst: Any, _s: Any) -> Iterator[tuple[Path_, str]]:
    for name in value:
        if name not in inst:
            yield (*path, name), "缺失"


def _additional(path: Path_, value: Any, inst: Any, s: Any) -> Iterator[tuple[Path_, str]]:
    known = list(s.get("properties", {}))
    for name in inst:
        if name not in known:
            yield (*path, name), "未知" + suggest(name, known)


def _type(path: Path_, value: Any, inst: Any, _s: Any) -> Iterator[tuple[Path_, str]]:
    names = _types(value)
    yield path, f"应为{' ' if names[0].isascii() else ''}{names}{actual(inst)}"


def _enum(path: Path_, value: Any, inst: Any, _s: Any) -> Iterator[tuple[Path_, str]]:
    hint = suggest(inst, value) if isinstance(inst, str) else ""
    if len(value) == 1:
        yield path, f"应为 {value[0]}{actual(inst)}{hint}"
    else:
        yield path, f"应为 {_listed(value)} 之一{actual(inst)}{hint}"


def _const(path: Path_, value: Any, inst: Any, _s: Any) -> Iterator[tuple[Path_, str]]:
    yield path, f"应为 {value}{actual(inst)}"


def _bound(words: str) -> Any:
    def handler(path: Path_, value: Any, inst: Any, _s: Any) -> Iterator[tuple[Path_, str]]:
        yield path, f"应{words} {value}{actual(inst)}"

    return handler


def _not_empty(path: Path_, value: Any, inst: Any, _s: Any) -> Iterator[tuple[Path_, str]]:
    yield path, "不能为空" if value == 1 else f"至少应有 {value} 项"


def _unique(path: Path_, value: Any, inst: Any, _s: Any) -> Iterator[tuple[Path_, str]]:
    for j, item in enumerate(inst):
        first = next(i for i, x in enumerate(inst) if x == item and type(x) is type(item))
        if first < j:
            yield (*path, j), f"与第 {first + 1} 项重复{actual(item)}"


def _dependent(path: Path_, value: Any, inst: Any, _s: Any) -> Iterator[tuple[Path_, str]]:
    for name, needs in value.items():
        if name in inst:
            for need in needs:
                if need not in inst:
                    yield (*path, name), f"须与 {need} 一起使用"


def _pattern(path: Path_, value: Any, inst: Any, _s: Any) -> Iterator[tuple[Path_, str]]:
    yield path, f"格式不正确{actual(inst)}"


# Every validation keyword the schema uses, with its Chinese message. Keywords that only
# combine or point at other schemas (properties, items, allOf, if/then/else, $ref, …) never
# fail by themselves: jsonschema reports the failing keyword inside them.
_MESSAGES = {
    "required": _required,
    "additionalProperties": _additional,
    "type": _type,
    "enum": _enum,
    "const": _const,
    "minimum": _bound("不小于"),
    "maximum": _bound("不大于"),
    "exclusiveMinimum": _bound("大于"),
    "minItems": _not_empty,
    "minProperties": _not_empty,
    "minLength": lambda path, value, inst, s: iter([(path, "不能为空")]),
    "uniqueItems": _unique,
    "dependentRequired": _dependent,
    "pattern": _pattern,
}
STRUCTURAL_KEYWORDS = {
    "$schema", "$defs", "$ref", "properties", "items", "propertyNames", "allOf",
    "if", "then", "else", "not", "x-expect",
}  # fmt: skip
