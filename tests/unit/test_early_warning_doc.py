"""docs/early-warning.md is generated from the rule definitions: it is in step with them, and it
names every rule with its version, severity, who may resolve and a source."""

from __future__ import annotations

from pathlib import Path

from domain.early_warning import RULES
from domain.early_warning_doc import early_warning_page

CHECKED_IN = Path(__file__).resolve().parents[2] / "docs" / "early-warning.md"


def test_the_checked_in_page_is_the_one_the_rules_generate() -> None:
    # regenerate with: carecircle rules > docs/early-warning.md
    assert CHECKED_IN.read_text() == early_warning_page()


def test_every_rule_has_a_row_with_its_version_severity_and_a_source() -> None:
    page = early_warning_page()
    for rule in RULES.values():
        row = next(line for line in page.splitlines() if line.startswith(f"| {rule.id} |"))
        assert f"| v{rule.version} |" in row
        assert rule.severity
        assert rule.severity in row
        assert rule.source
        assert rule.source in row
        assert rule.clears
    assert "## The flag lifecycle" in page
