"""What every EdgeSight CLI shares: one-line errors, exit codes, human or JSON-lines output."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable

from edge.errors import EdgeSightError

EXIT_OK, EXIT_ERROR, EXIT_GATE = 0, 1, 3  # 2 is argparse's own, for usage errors


def emit_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def answer(result: dict, as_json: bool, text: str) -> int:
    """A command's ending: one JSON object for scripts, or the sentence for people; exit code 0."""
    if as_json:
        emit_json(result)
    else:
        print(text)
    return 0


def emit_result(result: dict, as_json: bool) -> None:
    """One JSON object, or `key: value` lines for people."""
    if as_json:
        emit_json(result)
    else:
        print("\n".join(f"{k}: {v}" for k, v in result.items()))


def error(prog: str, message: str) -> None:
    """One line on stderr; the message is flattened so logs and CI show it whole."""
    flat = " ".join(str(message).split())
    sys.stderr.write(f"{prog}: error: {flat}\n")


def run_cli(prog: str, body: Callable[[], int]) -> int:
    """Turn any failure into one line and an exit code; EDGESIGHT_DEBUG=1 shows the traceback."""
    logging.basicConfig(level=os.environ.get("EDGESIGHT_LOG", "WARNING"), format=f"{prog}: %(message)s")
    try:
        return body()
    except EdgeSightError as exc:
        if os.environ.get("EDGESIGHT_DEBUG"):
            raise
        error(prog, str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        error(prog, "interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the contract is "never a traceback"
        if os.environ.get("EDGESIGHT_DEBUG"):
            raise
        error(prog, f"{type(exc).__name__}: {exc} (set EDGESIGHT_DEBUG=1 for a traceback)")
        return EXIT_ERROR


def quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up chatter is noise in a CLI; keep real warnings from Python."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
