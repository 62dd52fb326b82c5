"""README's convention table is fastloss's own output, not a hand-written copy (SEMANTICS §7 as fastloss computes it)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from fastloss import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def _first_block_under(heading: str, text: str) -> str:
    section = re.search(rf"^## {re.escape(heading)}[ \t]*\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert section, f"README.md has no '## {heading}' section"
    block = re.search(r"^```[^\n]*\n(.*?)^```", section.group(1), flags=re.M | re.S)
    assert block, f"README.md: no fenced block under '## {heading}'"
    return block.group(1)


def test_readme_convention_table_is_what_fastloss_explain_prints():
    block = _first_block_under("What fastloss explain prints", README.read_text(encoding="utf-8"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["explain"]) in (0, None)
    # The README shows the totals and the table; the command also prints an introduction above them.
    assert block.strip() in printed.getvalue(), "README's table differs from `fastloss explain`; paste its output"
    assert "S / V = 25 / 6" in block and "S * E / (V * E0) = 25 * 4 / (6 * 3)" in block
