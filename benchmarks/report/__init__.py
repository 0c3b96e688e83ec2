"""Writing a report: JSON (schema-versioned), CSV, Markdown and a self-contained HTML page."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.report.html import to_html
from benchmarks.report.tables import to_csv, to_markdown, to_terminal

SCHEMA_PATH = Path(__file__).parent / "report.schema.json"


def write_formats(data: dict, out: Path, stem: str, renderers: dict) -> dict[str, Path]:
    """`stem`.json plus one file per renderer (extension -> function of `data`), in `out`; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{stem}.json"}
    paths["json"].write_text(json.dumps(data, indent=2) + "\n")
    for ext, render in renderers.items():
        paths[ext] = out / f"{stem}.{ext}"
        paths[ext].write_text(render(data))
    return paths


def write_all(report: dict, out: Path) -> dict[str, Path]:
    return write_formats(report, out, "report", {"csv": to_csv, "md": to_markdown, "html": to_html})


def validate(report: dict) -> None:
    """Raises jsonschema.ValidationError when the report does not match its schema."""
    import jsonschema

    jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))


__all__ = ["SCHEMA_PATH", "to_csv", "to_html", "to_markdown", "to_terminal", "validate", "write_all"]
