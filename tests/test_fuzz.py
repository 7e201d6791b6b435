"""Fuzz: mutants of a valid workbook, each run through the real CLI next to a good workbook.

Whatever the mutant (bytes flipped or cut, zip parts dropped, replaced or spliced, a DTD or a far
cell added, cell values and types changed, headers changed, sheets renamed or removed), the run
finishes without a traceback, scores the good workbook, accounts for the mutant (scored, refused
with a reason, or skipped), leaves the inbox byte-identical and writes nothing outside the output
folder. A second property checks the streaming sheet scan against a plain XML parse, whatever
the chunk boundaries.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tempfile
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from kpi_excel.cli import main
from kpi_excel.guard import DEFAULT_LIMITS
from kpi_excel.sheetxml import SheetScan, SheetScanner, col_letters
from tests.conftest import GOOD_HEAD, GOOD_SENIOR, person
from tests.support import hostile as H
from tests.support.workbooks import write_branch_workbook

FUZZ = settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


MUTANTS_PER_RUN = 3


@cache
def base(i: int) -> bytes:
    """The workbook mutant i starts from: branch B80i, three people, messy layout."""
    rows = [
        person(GOOD_SENIOR, emp_id=f"M{i}01", remarks="备注"),
        person(GOOD_HEAD, emp_id=f"M{i}02", deposit_m7="1200"),
        person(GOOD_SENIOR, emp_id=f"M{i}03", role="中级客户经理", deposit_avg="1,100"),
    ]
    with tempfile.TemporaryDirectory() as d:
        path = write_branch_workbook(
            Path(d) / "m.xlsx", branch_code=f"B80{i}", branch_name="变异支行", period="2026Q3",
            rows=rows, style="messy", seed=i,
        )  # fmt: skip
        return path.read_bytes()


@cache
def good() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = write_branch_workbook(
            Path(d) / "g.xlsx", branch_code="B001", branch_name="第一支行", period="2026Q3",
            rows=[person(GOOD_SENIOR, emp_id="G001")],
        )  # fmt: skip
        return path.read_bytes()


# --- mutations --------------------------------------------------------------------------------


# Positions are drawn from a seeded Random: Hypothesis's own integers favour small values, which
# would put every flip in the zip's first bytes.


@st.composite
def flipped(draw, i: int) -> bytes:
    rnd = draw(st.randoms(use_true_random=False))
    data = bytearray(base(i))
    for _ in range(rnd.randint(1, 12)):
        data[rnd.randrange(len(data))] ^= rnd.randint(1, 255)
    return bytes(data)


@st.composite
def truncated(draw, i: int) -> bytes:
    rnd = draw(st.randoms(use_true_random=False))
    return base(i)[: rnd.randrange(len(base(i)))]


FAR_REFS = ["XFD1048576", "A1048576", "ZZZ1", "A0", "AAAA1", "1A", "B2", "$C$3", "ALM1", "A100001"]
SNIPPETS = [
    b"", b"<", b"&lol;", b"<c r='A1'><f>1</f></c>", b"<row/>", b"</sheetData>", b"\x00\xff",
    b'<c t="e"><v>#N/A</v></c>', b'<?xml version="1.0" encoding="UTF-16"?>', H.BILLION_LAUGHS,
    b'<row r="3" hidden="1">', b"<mergeCell ref='A1:C1'/>", b"<v></v>", b'<c r="B2"><v>',
]  # fmt: skip
PART_OPS = ["flip", "splice", "splice", "far", "refs", "dtd", "drop", "replace", "empty"]


@st.composite
def part_edited(draw, i: int) -> bytes:
    """One zip part changed, the zip rebuilt (so CRCs are right and the parsers see the change);
    sheets are picked more often than other parts."""
    rnd = draw(st.randoms(use_true_random=False))
    parts = H.members(base(i))
    names = sorted(parts)
    sheets = [n for n in names if n.startswith("xl/worksheets/")]
    name = rnd.choice(sheets if rnd.random() < 0.6 else names)
    body = parts[name]
    op = draw(st.sampled_from(PART_OPS))
    if op == "drop":
        del parts[name]
    elif op == "replace":
        parts[name] = draw(st.binary(max_size=300))
    elif op == "empty":
        parts[name] = b""
    elif op == "flip":
        data = bytearray(body)
        for _ in range(rnd.randint(1, 6)):
            data[rnd.randrange(len(data))] ^= rnd.choice([1, 2, 4, 8, 16, 32, 64, 128, 255])
        parts[name] = bytes(data)
    elif op == "splice":
        start = rnd.randrange(len(body) + 1)
        new = draw(st.one_of(st.sampled_from(SNIPPETS), st.binary(max_size=60)))
        parts[name] = body[:start] + new + body[start + rnd.randint(0, 80) :]
    elif op == "dtd":
        parts[name] = H.BILLION_LAUGHS + re.sub(rb"^<\?xml[^>]*\?>", b"", body)
    elif op == "far":
        parts[name] = H.add_cells(body, H.cell_xml(rnd.choice(FAR_REFS)))
    else:  # every r="…" of the part rewritten, some far away
        parts[name] = re.sub(
            rb'\br="[^"]*"', lambda m: f'r="{rnd.choice(FAR_REFS + ["A1", "C5"])}"'.encode(), body
        )
    return H.build_zip(parts)


CELL_VALUES = st.one_of(
    st.none(),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)),
    st.sampled_from(
        [
            "=A2*2",
            "=1/0",
            "#N/A",
            "#DIV/0!",
            "1,234.5",
            "１２３",
            " 12 ",
            "是",
            "否",
            "-5",
            "员工编号",
            "姓名",
            "岗位",
            "贷款余额(万元)",
            "高级客户经理",
            "支行行长",
            "2026Q2",
        ]
    ),  # fmt: skip
)
SHEET_OPS = [
    "none",
    "none",
    "hide",
    "extra",
    "rename-data",
    "rename-info",
    "remove-data",
    "remove-info",
]


@st.composite
def cells_edited(draw, i: int) -> bytes:
    """Cells of both sheets (headers included) set to other values and types, and sheets renamed,
    removed, added or given hidden rows and columns; saved by openpyxl."""
    rnd = draw(st.randoms(use_true_random=False))
    wb = load_workbook(io.BytesIO(base(i)))
    for _ in range(rnd.randint(1, 8)):
        sheet = rnd.choice(["考核数据", "考核数据", "基本信息"])
        row, col = rnd.randint(1, 6), rnd.randint(1, 26 if sheet == "考核数据" else 3)
        value = draw(CELL_VALUES)
        if sheet == "基本信息" and value in ("B001", "G001"):
            continue  # a clash with the good workbook's 机构号 refuses both, by design
        wb[sheet].cell(row=row, column=col, value=value)
    op = draw(st.sampled_from(SHEET_OPS))
    if op == "rename-data":
        wb["考核数据"].title = rnd.choice(["考核 数据", "Sheet1", "考核数据 ", "数据"])
    elif op == "rename-info":
        wb["基本信息"].title = "信息"
    elif op in ("remove-data", "remove-info"):
        wb.remove(wb["考核数据" if op == "remove-data" else "基本信息"])
    elif op == "extra":
        wb.create_sheet("说明", 0)["A1"] = "=NOW()"
    elif op == "hide":
        wb["考核数据"].row_dimensions[rnd.randint(1, 6)].hidden = True
        wb["考核数据"].column_dimensions[col_letters(rnd.randint(1, 26))].hidden = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def mutant(i: int) -> st.SearchStrategy[bytes]:
    return st.one_of(
        cells_edited(i), part_edited(i), cells_edited(i), part_edited(i), flipped(i), truncated(i)
    )


NAMES = st.sampled_from(
    ["m{}.xlsx", "变异{}.xlsm", "m{}.xlsx", "变异 {}.xlsx", "m{}.xlsx", "~$m{}.xlsx"]
)
MUTANTS = st.tuples(*[st.tuples(mutant(i), NAMES) for i in range(MUTANTS_PER_RUN)])


# --- the invariants ---------------------------------------------------------------------------


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@FUZZ
@given(mutants=MUTANTS)
def test_every_mutant_keeps_the_run_invariants(mutants: tuple[tuple[bytes, str], ...]) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        inbox, out = root / "inbox", root / "out"
        inbox.mkdir()
        names = []
        for i, (data, pattern) in enumerate(mutants):
            names.append(pattern.format(i))
            (inbox / names[-1]).write_bytes(data)
        (inbox / "good.xlsx").write_bytes(good())
        before = H.snapshot(root)
        res = CliRunner().invoke(
            main, ["run", "2026Q3", "--inbox", str(inbox), "--output", str(out), "--jobs", "1"]
        )
        assert res.exit_code in (0, 1), res.output
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        assert "Traceback" not in res.output and "意外错误" not in res.output, res.output
        assert H.snapshot(root, skip=out) == before  # inputs untouched, nothing written beside
        period = out / "2026Q3"
        people = {r["emp_id"]: r for r in _csv(period / "results.csv")}
        assert people["G001"]["status"] == "scored", people["G001"]["errors"]
        refused = {r["file"]: r["reason"] for r in _csv(period / "rejected.csv")}
        assert "good.xlsx" not in refused
        manifest = period / "manifest.json"
        inputs = json.loads(manifest.read_text("utf-8"))["inputs"] if manifest.exists() else []
        status = {i["name"]: i["status"] for i in inputs}
        for name in names:
            if name.startswith("~$"):
                assert name not in refused and name not in status and "已跳过" in res.output
                continue
            if name in refused:
                assert refused[name].startswith(name + " "), refused[name]
            if manifest.exists():
                assert status[name] in ("scored", "refused", "duplicate")
                assert (status[name] == "refused") == (name in refused)
                if status[name] == "duplicate":  # the same bytes as another file: counted once
                    assert f"  相同副本 {name} 与 " in res.output


# --- the sheet scan against a plain parse -----------------------------------------------------


@st.composite
def sheet_xml(draw) -> tuple[bytes, dict]:
    rows = draw(st.lists(st.tuples(st.integers(1, 40), st.booleans(), st.lists(st.tuples(
        st.integers(1, 30), st.sampled_from(["n", "f", "fv", "e", "s", "str"])), max_size=6)),
        max_size=12))  # fmt: skip
    with_r = draw(st.booleans())
    parts, expected = (
        [],
        {"formulas": set(), "errors": {}, "hidden": set(), "max_row": 0, "max_col": 0},
    )
    for n, (r, hidden, cells) in enumerate(rows):
        r = r + 40 * n  # increasing row numbers
        cells = sorted({c: k for c, k in cells}.items())
        xml = []
        for i, (c, kind) in enumerate(cells):
            col = c if with_r else i + 1
            attr = f' r="{col_letters(col)}{r}"' if with_r else ""
            body = {
                "n": '><v>1</v></c>', "f": "><f>A1</f></c>", "fv": "><f>A1</f><v>2</v></c>",
                "e": ' t="e"><v>#REF!</v></c>', "s": "/>", "str": ' t="str"><f>B1</f><v></v></c>',
            }[kind]  # fmt: skip
            xml.append(f"<c{attr}{body}")
            if kind not in ("f", "s"):  # only a cell with a value counts towards the limits
                expected["max_row"] = max(expected["max_row"], r)
                expected["max_col"] = max(expected["max_col"], col)
            if kind == "f":
                expected["formulas"].add((r, col))
            if kind == "e":
                expected["errors"][(r, col)] = "#REF!"
        hid = ' hidden="1"' if hidden else ""
        parts.append(f'<row r="{r}"{hid}>{"".join(xml)}</row>')
        if hidden:
            expected["hidden"].add(r)
    xml = H.SHEET_NS + b'<cols><col min="3" max="4" hidden="1"/></cols><sheetData>'
    xml += (
        "".join(parts).encode()
        + b'</sheetData><mergeCells><mergeCell ref="A1:B1"/></mergeCells></worksheet>'
    )
    ET.fromstring(xml)  # well-formed
    return xml, expected


@settings(derandomize=True, max_examples=150, deadline=None, database=None)
@given(case=sheet_xml(), cuts=st.lists(st.integers(1, 4000), max_size=8))
def test_sheet_scan_is_the_same_whatever_the_chunks(case, cuts) -> None:
    xml, want = case
    scan = SheetScan("xl/worksheets/sheet1.xml", "S")
    scanner = SheetScanner(scan, DEFAULT_LIMITS)
    at = 0
    for size in cuts:
        scanner.feed(xml[at : at + size])
        at += size
    scanner.feed(xml[at:])
    scanner.close()
    assert (scan.max_row, scan.max_col) == (want["max_row"], want["max_col"])
    assert scan.formulas == want["formulas"] and scan.errors == want["errors"]
    assert scan.hidden_rows == want["hidden"] and scan.hidden_cols == [(3, 4)]
    assert scan.merged == ["A1:B1"]
