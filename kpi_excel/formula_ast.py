"""The immutable syntax tree of a formula (see formula.py and docs/formula.md), and band tables.

Every node records `pos`, the 0-based index in the formula's text where it starts, and `kind`,
`NUMBER` or `BOOL`: the parser checks kinds as it builds the tree, so evaluation never meets a
boolean where a number belongs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

NUMBER = "number"
BOOL = "bool"


@dataclass(frozen=True)
class Node:
    pos: int
    # written in brackets: `(a - b) + c`; explanations keep the writer's grouping of arithmetic
    grouped: bool = field(default=False, kw_only=True, compare=False)

    @property
    def kind(self) -> str:
        return NUMBER

    def children(self) -> tuple[Node, ...]:
        return ()

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, parents first, left to right."""
        yield self
        for child in self.children():
            yield from child.walk()


@dataclass(frozen=True)
class Num(Node):
    """A decimal literal; `text` as written (normalised: `30%`, `0.5`), `value` exact."""

    value: Decimal
    text: str

    @property
    def percent(self) -> bool:
        return self.text.endswith("%")


@dataclass(frozen=True)
class Bool(Node):
    """TRUE / FALSE (是 / 否)."""

    value: bool

    @property
    def kind(self) -> str:
        return BOOL


@dataclass(frozen=True)
class Name(Node):
    """A figure, field or parameter: `key` canonical, `written` as the formula spells it."""

    key: str
    written: str
    type: str

    @property
    def kind(self) -> str:
        return self.type


@dataclass(frozen=True)
class Unary(Node):
    """`-x` (op '-') or `NOT x` (op 'NOT')."""

    op: str
    operand: Node

    @property
    def kind(self) -> str:
        return BOOL if self.op == "NOT" else NUMBER

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Binary(Node):
    """Arithmetic: op one of + - * /."""

    op: str
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Compare(Node):
    """op one of < <= > >= = <>; both sides numbers, or both booleans with = and <>."""

    op: str
    left: Node
    right: Node

    @property
    def kind(self) -> str:
        return BOOL

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Logic(Node):
    """AND / OR of two booleans (three-valued: a blank side decides nothing)."""

    op: str
    left: Node
    right: Node

    @property
    def kind(self) -> str:
        return BOOL

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Call(Node):
    """A whitelisted function: MIN MAX ABS IF CLIP ROUND FLOOR CEIL COALESCE ISBLANK.

    `digits` holds ROUND's (and FLOOR's, CEIL's) literal number of decimals; `args` the rest.
    """

    func: str
    args: tuple[Node, ...]
    digits: int | None = None

    @property
    def kind(self) -> str:
        if self.func == "ISBLANK":
            return BOOL
        if self.func == "IF":
            return self.args[1].kind
        if self.func == "COALESCE":
            return self.args[0].kind
        return NUMBER

    def children(self) -> tuple[Node, ...]:
        return self.args


@dataclass(frozen=True)
class BandOf(Node):
    """BAND(x, table): the value of the first row of the band table whose edge holds x."""

    arg: Node
    table: str

    def children(self) -> tuple[Node, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class Aggregate(Node):
    """AVG(x BY k…), SUM(x BY k…), COUNT(BY k…): over the member rows sharing the keys."""

    func: str
    arg: Node | None
    by: tuple[str, ...]

    def children(self) -> tuple[Node, ...]:
        return () if self.arg is None else (self.arg,)


def _decimal(value: object) -> Decimal:
    """A number from a rulebook as the decimal it is written as (a float's shortest text)."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Band:
    """A band table: rows of (upper edge, inclusive, value), edges rising, and the value for
    what lies above every row (`otherwise`). x falls in the first row with x <= edge
    (inclusive) or x < edge (not inclusive). `percent` shows the edges as percentages in
    explanations."""

    rows: tuple[tuple[Decimal, bool, Decimal], ...]
    otherwise: Decimal
    percent: bool = False

    def __post_init__(self) -> None:
        for (before, inc_before, _), (edge, inclusive, _) in zip(
            self.rows, self.rows[1:], strict=False
        ):
            if edge < before or (edge == before and (inc_before or not inclusive)):
                raise ValueError(f"band edges must rise: {before} then {edge}")

    @classmethod
    def of(
        cls,
        rows: Iterable[tuple[object, bool, object]],
        otherwise: object,
        percent: bool = False,
    ) -> Band:
        """A table from numbers as a rulebook holds them (int, float, str or Decimal)."""
        return cls(
            tuple((_decimal(e), bool(i), _decimal(v)) for e, i, v in rows),
            _decimal(otherwise),
            percent,
        )
