"""Generate docs/cli.md from the commands' --help (a test checks it is up to date).

python scripts/cli_docs.py          # rewrite docs/cli.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kpi_excel.cli import main  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
COMMANDS = [
    "run", "template", "appeal", "appeal template", "history", "explain", "runs", "approve", "reopen", "compare", "rules", "rules list", "rules show",
    "rules check", "rules diff",
]  # fmt: skip


def render() -> str:
    runner = CliRunner()
    parts = [
        "# Command reference",
        "",
        "Generated from `--help` by `python scripts/cli_docs.py`; `tests/test_docs.py` fails when it is stale.",
        "",
        "## kpi-excel",
        "",
        "```",
        runner.invoke(main, ["--help"], prog_name="kpi-excel", terminal_width=100).output.rstrip(),
        "```",
    ]
    for name in COMMANDS:
        text = runner.invoke(
            main, [*name.split(), "--help"], prog_name="kpi-excel", terminal_width=100
        ).output.rstrip()
        parts += ["", f"## kpi-excel {name}", "", "```", text, "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
