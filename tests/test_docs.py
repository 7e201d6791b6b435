"""The CLI reference in docs/ is generated from --help and must be current."""

from __future__ import annotations

from scripts.cli_docs import DOC, render


def test_cli_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run: python scripts/cli_docs.py"


def test_readme_test_command_matches_ci() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    ci = (root / ".ci" / "run").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "python -m pytest" in ci and "pip install -e '.[test]' && python -m pytest" in readme


def test_clerks_guide_explains_every_kind_of_problem() -> None:
    """docs/使用说明.md has a line for each problem code a clerk can meet in report.html."""
    from pathlib import Path

    from kpi_excel import problems

    guide = (Path(__file__).resolve().parent.parent / "docs" / "使用说明.md").read_text("utf-8")
    codes = [v.code for v in vars(problems).values() if isinstance(v, problems.ProblemType)]
    assert len(codes) >= 30
    assert [c for c in codes if f"`{c}`" not in guide] == []


def test_readme_points_clerks_to_the_chinese_guide_first() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    assert "docs/使用说明.md" in "\n".join(readme.splitlines()[:6])


def test_clerks_guide_shows_every_rendered_picture() -> None:
    """The LibreOffice renders of the outputs (scripts/render_pictures.py) are in the guide."""
    from pathlib import Path

    docs = Path(__file__).resolve().parent.parent / "docs"
    guide = (docs / "使用说明.md").read_text("utf-8")
    pictures = sorted(p.name for p in (docs / "images").glob("*.png"))
    assert len(pictures) >= 9
    assert [p for p in pictures if f"(images/{p})" not in guide] == []
