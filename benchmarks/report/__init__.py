"""Writing a report: JSON (schema-versioned), CSV, Markdown and a self-contained HTML page."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.report.html import to_html
from benchmarks.report.tables import to_csv, to_markdown, to_terminal

SCHEMA_PATH = Path(__file__).parent / "report.schema.json"


def write_all(report: dict, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "csv": out / "report.csv", "md": out / "report.md",
             "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["csv"].write_text(to_csv(report))
    paths["md"].write_text(to_markdown(report))
    paths["html"].write_text(to_html(report))
    return paths


def validate(report: dict) -> None:
    """Raises jsonschema.ValidationError when the report does not match its schema."""
    import jsonschema

    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))


__all__ = ["SCHEMA_PATH", "to_csv", "to_html", "to_markdown", "to_terminal", "validate", "write_all"]
