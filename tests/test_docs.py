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
