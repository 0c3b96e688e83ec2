"""The edge-bench subcommands' shared ending: the result as files under --out, then JSON or Markdown on stdout."""

from __future__ import annotations

import json
from pathlib import Path

from edge.cli.common import emit_json


def deliver(result: dict, markdown: str, stem: str, out: Path | None, as_json: bool) -> int:
    """The subcommands' shared ending: files under --out, then JSON or Markdown on stdout."""
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / f"{stem}.md").write_text(markdown)
    if as_json:
        emit_json(result)
    else:
        print(markdown, end="")
    return 0
