"""A user's own model file and data into a bundle, so `edge-convert` treats it like one of ours.

`edge-convert MODEL --data FOLDER --out B`: the model is a Keras 3 `.keras` file, a legacy `.h5` Keras can
load, or a SavedModel folder (ONNX files: convert/onnx_source.py). Everything the bundle needs is read from
the model and the data, or said by the user:
  - input size and channels from the model's input; labels from the folder's class names (or --labels);
  - preprocessing: when the model carries its own (a Rescaling or Normalization layer at its input, as
    `keras.applications` models with `include_preprocessing` do), the runtime feeds raw pixels; otherwise a
    preset named after what users know (`--preprocess 0-1 | -1..1 | imagenet-torch | imagenet-caffe | raw`)
    or explicit mean/std/scale and colour order; the choice is written into the manifest, and calibration,
    parity and the runtime all use it;
  - data: edge.datasets reads the folder as training does; the bundle gets an evaluation sample and a
    calibration sample from it, like a bundle `edge-train` wrote.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convert.data import ConvertData, from_path
from edge.bundle import (
    Calibration,
    Evaluation,
    InputSpec,
    Manifest,
    Preprocess,
    Provenance,
    describe_file,
    write_manifest,
)
from edge.datasets import stratified_sample
from edge.errors import EdgeSightError
from edge.preprocess import PRESETS
from edge.versions import installed_versions

CARRIED = "raw"  # the preset when the model normalises inside: pixels as they are
EVAL_SAMPLE, CALIBRATION_SAMPLE = 400, 300
SAMPLE_BUDGET_BYTES = 3_000_000


@dataclass(frozen=True)
class PreprocessChoice:
    """What the user said about preprocessing (all None: detect it from the model, else ask)."""

    preset: str | None = None
    scale: float | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    color: str | None = None


def load_user_keras(path: Path):
    """A .keras / .h5 file as a Keras model; one-line errors for what Keras refuses."""
    from convert.keras_io import load_keras

    try:
        return load_keras(path)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for files it cannot read
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise EdgeSightError(f"{path}: Keras cannot load it ({first}); a Keras 2 .h5 may need to be re-saved as "
                             ".keras with the Keras that made it") from None


def saved_model_to_onnx(path: Path, out: Path) -> Path:
    """A SavedModel folder as an ONNX file (tf2onnx), so it converts through the ONNX path: Keras 3 can only wrap a
    SavedModel in a TFSMLayer, which no .keras file can hold on its own."""
    import subprocess
    import sys

    if not (path / "saved_model.pb").is_file():
        raise EdgeSightError(f"{path}: a folder must be a SavedModel (saved_model.pb inside)")
    proc = subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(path), "--output", str(out),
                           "--opset", "17"], capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise EdgeSightError(f"{path}: tf2onnx could not convert the SavedModel ({tail})")
    return out


def carried_preprocessing(model) -> str | None:
    """The name of the layer that normalises the input inside the model (Rescaling, Normalization), if any."""
    import keras

    for layer in model.layers[:6]:
        if isinstance(layer, keras.layers.Rescaling | keras.layers.Normalization):
            return layer.name
        if isinstance(layer, keras.Model):  # a keras.applications base nested inside the user's model
            inner = carried_preprocessing(layer)
            if inner:
                return f"{layer.name}/{inner}"
    return None


def choose_preprocess(model, size: tuple[int, int], channels: int, said: PreprocessChoice) -> tuple[Preprocess, str]:
    """The manifest's Preprocess and a sentence saying where it came from: the user's word, else the model's own
    normalisation layer."""
    carried = carried_preprocessing(model)
    explicit = any(v is not None for v in (said.scale, said.mean, said.std))
    if said.preset is None and not explicit and carried is not None:
        pre, _ = choose_preset_only(size, channels, PreprocessChoice(preset=CARRIED, color=said.color), "")
        return pre, f"carried by the model ({carried}): raw pixels in"
    return choose_preset_only(size, channels, said, "the model has no Rescaling or Normalization layer")


def choose_preset_only(size: tuple[int, int], channels: int, said: PreprocessChoice,
                       why_unknown: str) -> tuple[Preprocess, str]:
    """The Preprocess the user named (a preset, or explicit scale/mean/std); an error saying how when neither."""
    explicit = any(v is not None for v in (said.scale, said.mean, said.std))
    if said.preset is None and not explicit:
        raise EdgeSightError(f"{why_unknown}, so the input normalisation is unknown: give --preprocess "
                             f"({', '.join(PRESETS)}) or --scale/--mean/--std")
    if said.preset is not None and said.preset not in PRESETS:
        raise EdgeSightError(f"--preprocess {said.preset!r}: choose one of {', '.join(PRESETS)}")
    base = PRESETS[said.preset] if said.preset else PRESETS[CARRIED]
    color = "gray" if channels == 1 else (said.color or base.color)
    mean, std = list(said.mean or base.mean), list(said.std or base.std)
    if channels == 1:
        mean, std = mean[:1], std[:1]
    pre = Preprocess(resize=list(size), color=color, scale=said.scale or base.scale, mean=mean, std=std)
    return pre, f"preset {said.preset}: {base.about}" if said.preset else "given on the command line"


def model_io(model, path: Path) -> tuple[tuple[int, int, int], int]:
    """((H, W, C), number of scores of the first output) of a one-input image model."""
    if len(model.inputs) != 1:
        raise EdgeSightError(f"{path}: the model takes {len(model.inputs)} inputs; a bundle takes one image (wrap "
                             "the model so it does)")
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or None in shape:
        raise EdgeSightError(f"{path}: input shape {shape}: expected a fixed (height, width, channels) image")
    return shape, int(model.outputs[0].shape[-1])


def is_tensor_model(model) -> bool:
    """A model with several outputs (a detector's boxes and scores, a multi-head model): converted as a
    tensors bundle, its parity measured per output (convert/tensor_parity.py)."""
    return len(model.outputs) > 1


def output_names(model) -> list[str]:
    """The model's outputs, named as Keras names them, in its output order."""
    names = list(getattr(model, "output_names", None) or [])
    return names if len(names) == len(model.outputs) else [f"output_{i}" for i in range(len(model.outputs))]


def predict_outputs(model, x: np.ndarray) -> list[np.ndarray]:
    """model.predict as a list in the model's output order (Keras may give a dict for named outputs)."""
    out = model.predict(x, batch_size=256, verbose=0)
    if isinstance(out, dict):
        out = [out[name] for name in output_names(model)]
    return [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]


def write_samples(out: Path, data: ConvertData, seed: int) -> tuple[Evaluation | None, Calibration]:
    """The bundle's evaluation sample (labelled data only) and calibration sample, as training writes them."""
    per_image = int(np.prod(data.x_calibration.shape[1:]))
    cap = max(SAMPLE_BUDGET_BYTES // per_image, 16)
    rng = np.random.default_rng(seed)
    cal = data.x_calibration[rng.permutation(len(data.x_calibration))[:min(CALIBRATION_SAMPLE, cap)]]
    np.savez_compressed(out / "calibration_sample.npz", x=cal)
    calibration = Calibration(sample_file="calibration_sample.npz", n_samples=len(cal),
                              split=f"{len(cal)} training images of {data.source} at random (seed {seed})")
    if data.y_eval is None:
        return None, calibration
    idx = stratified_sample(data.y_eval, min(EVAL_SAMPLE, cap), seed)
    np.savez_compressed(out / "eval_sample.npz", x=data.x_eval[idx], y=data.y_eval[idx])
    return Evaluation(dataset=data.source, split=f"held-out: {data.split}", n_samples=len(data.y_eval),
                      sample_file="eval_sample.npz"), calibration


def bundle_from_keras(model_path: Path, data_path: Path, out: Path, labels: list[str] | None = None,
                      said: PreprocessChoice = PreprocessChoice(), seed: int = 42, name: str | None = None) -> Path:
    """Write a bundle (model.keras, manifest, samples) from a user's Keras model and data; returns its folder."""
    model = load_user_keras(Path(model_path))
    (h, w, c), n_out = model_io(model, model_path)
    preprocess, how = choose_preprocess(model, (h, w), c, said)
    data = from_path(data_path, (h, w), preprocess.color, labels, seed)
    if is_tensor_model(model):
        return _tensors_bundle(model, model_path, data, out, preprocess, how, seed, name)
    labels = labels or data.labels
    if labels is None:
        raise EdgeSightError(f"--data {data_path}: unlabelled images; give --labels for the model's {n_out} outputs")
    if len(labels) != n_out:
        raise EdgeSightError(f"the model gives {n_out} scores but the data has {len(labels)} classes ({labels}); "
                             "give the matching folder or --labels")
    out = new_bundle_folder(out)
    _save_keras(model, model_path, out)
    evaluation, calibration = write_samples(out, data, seed)
    manifest = Manifest(
        schema=1, name=name or Path(model_path).stem, task="classify", pipeline="image", labels=list(labels),
        input=InputSpec(shape=[h, w, c]), preprocess=preprocess,
        files=[describe_file(out, "model.keras", "keras")], evaluation=evaluation, calibration=calibration,
        provenance=imported_provenance(model_path, data, seed, f"trained elsewhere; preprocessing {how}"),
    )
    write_manifest(out, manifest)
    return out


def new_bundle_folder(out: Path) -> Path:
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise EdgeSightError(f"{out}: exists and is not empty; choose a new folder for the bundle")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _save_keras(model, model_path: Path, out: Path) -> None:
    if Path(model_path).suffix == ".keras":
        shutil.copy2(model_path, out / "model.keras")
    else:
        model.save(out / "model.keras")


KERAS_LIBRARIES = ("edgesight", "keras", "tensorflow", "tensorflow-cpu", "numpy")


def imported_provenance(model_path: Path, data: ConvertData, seed: int, notes: str,
                        libraries: tuple[str, ...] = KERAS_LIBRARIES) -> Provenance:
    """Where an imported model's bundle came from: the user's file, the data it was measured on, the versions."""
    return Provenance(dataset=data.source, split=data.split, seed=seed, recipe=f"imported from {Path(model_path).name}",
                      library_versions=installed_versions(libraries),
                      created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(), notes=notes)


def _tensors_bundle(model, model_path: Path, data: ConvertData, out: Path, preprocess: Preprocess, how: str,
                    seed: int, name: str | None) -> Path:
    """A model of several outputs: no labels, its outputs described from its answers on the calibration images,
    a calibration sample and (without labels to score) no evaluation sample: `edge-convert --data` measures it."""
    from convert.tensor_parity import describe_outputs
    from edge.preprocess import prepare_dataset

    out = new_bundle_folder(out)
    _save_keras(model, model_path, out)
    _, calibration = write_samples(out, ConvertData(data.x_calibration, data.x_eval, None, None, None, data.source,
                                                    data.split), seed)
    probe = prepare_dataset(data.x_calibration[:16], preprocess)
    outputs = describe_outputs(predict_outputs(model, probe), output_names(model))
    h, w, c = (int(v) for v in model.inputs[0].shape[1:])
    write_manifest(out, Manifest(
        schema=1, name=name or Path(model_path).stem, task="tensors", pipeline="tensors", outputs=outputs,
        input=InputSpec(shape=[h, w, c]), preprocess=preprocess, files=[describe_file(out, "model.keras", "keras")],
        calibration=calibration,
        provenance=imported_provenance(model_path, data, seed,
                                       f"trained elsewhere, {len(outputs)} outputs; preprocessing {how}")))
    return out
