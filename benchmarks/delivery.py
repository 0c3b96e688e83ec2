"""What edge-bench's subcommands share: their parser's frame, and their ending (files under --out, then JSON
or text on stdout)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from edge.cli.common import emit_json


def bench_parser(name: str, description: str, epilog: str) -> argparse.ArgumentParser:
    """`edge-bench NAME`'s parser, its examples printed as written."""
    return argparse.ArgumentParser(prog=f"edge-bench {name}", description=description, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def deliver(result: dict, text: str, stem: str, out: Path | None, as_json: bool,
            write: Callable[[dict, Path], dict[str, Path]] | None = None) -> int:
    """Files under --out (`stem`.json and .md, or what `write` makes, said on stderr), then JSON or `text`."""
    if out and write is not None:
        paths = write(result, out)
        print(f"edge-bench: wrote {', '.join(str(p) for p in paths.values())}", file=sys.stderr)
    elif out:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / f"{stem}.md").write_text(text)
    if as_json:
        emit_json(result)
    else:
        print(text, end="")
    return 0
