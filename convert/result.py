"""What a conversion returns: the bundle it wrote, its report, and the gates that failed (empty: all passed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class ConvertResult:
    bundle: Path
    report: dict
    failures: list[str]
