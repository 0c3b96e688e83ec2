"""The legacy `tflite-runtime` 2.14 backend (old Pi images), in an environment of its own.

tflite-runtime's last release needs numpy < 2, so it cannot share the main environment; the test
builds a small venv with the runtime's base dependencies and runs the built-in int8 model there.
Skipped when the wheel cannot be installed (no registry access, or no wheel for this platform).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

PROBE = """
import json, sys, numpy as np
from edge.backends.tflite import load_interpreter_module
from edge.classifier import Classifier
from edge.preprocess import prepare_dataset
clf = Classifier('digits', fmt='tflite-int8')
with np.load(clf.bundle.root / 'eval_sample.npz') as d:
    x, y = d['x'], d['y']
acc = float((clf.probabilities(prepare_dataset(x, clf.bundle.manifest.preprocess)).argmax(1) == y).mean())
print(json.dumps({"runtime": load_interpreter_module()[0], "numpy": np.__version__, "accuracy": acc,
                  "tf": any(m.startswith("tensorflow") for m in sys.modules)}))
"""


def test_tflite_runtime_214_runs_the_int8_bundle(tmp_path: Path):
    env_dir = tmp_path / "legacy"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "tflite-runtime==2.14.0", "numpy<2", "opencv-python-headless<5",
         "pydantic>=2.6"], capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        pytest.skip(f"tflite-runtime 2.14 not installable here: {install.stderr.strip().splitlines()[-1:]}")
    env = {**os.environ, "PYTHONPATH": str(REPO), "EDGESIGHT_TFLITE_RUNTIME": "tflite_runtime"}
    out = subprocess.run([str(py), "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["runtime"] == "tflite_runtime.interpreter" and result["numpy"].startswith("1.")
    assert result["accuracy"] >= 0.97 and result["tf"] is False
    # and the main environment's runtime agrees on the same sample
    main = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert abs(json.loads(main.stdout.strip().splitlines()[-1])["accuracy"] - result["accuracy"]) <= 0.004
