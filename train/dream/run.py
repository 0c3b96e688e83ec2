"""One input, several layer sets: a dream each, their loss curves, and a comparison sheet."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from train.dream.core import DreamConfig, dream, to_model_range, to_uint8
from train.dream.models import DreamModel, resolve_layers
from train.dream.outputs import plot_losses, sheet, write_image, write_losses

DEFAULT_SETS = {"inception_v3": ["mixed0-2"], "inception_resnet_v2": ["block35"], "mobilenet_v2": ["mobilenet-high"],
                "facemask_mobilenet_v2": ["mobilenet-high"]}


def default_layer_sets(dm: DreamModel) -> list[str]:
    if dm.name in DEFAULT_SETS:
        return DEFAULT_SETS[dm.name]
    import keras

    convs = [layer.name for layer in dm.model.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise ValueError(f"{dm.name}: no Conv2D layer; name the layers with --layer-sets (see --list-layers)")
    return [convs[-1]]


def load_input(path: str | None, size: int, channels: int) -> np.ndarray:
    """uint8 (size, size, C) RGB or gray: the given image, a face from the kiosk clip, or soft noise."""
    if path:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"{path}: not a readable image")
    else:
        from edge.sources import SAMPLE_CLIP

        cap = cv2.VideoCapture(str(SAMPLE_CLIP))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 30)  # the first visitor, standing at the door
        ok, image = cap.read()
        cap.release()
        if not ok:
            rng = np.random.default_rng(0)
            image = cv2.GaussianBlur(rng.integers(90, 166, (size, size, 3), dtype=np.uint8), (0, 0), 2)
        else:
            image = image[100:340, 190:430]
    h, w = image.shape[:2]
    side = min(h, w)
    image = image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None]
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def run_dreams(dm: DreamModel, layer_sets: list[str] | None, input_path: str | None, size: int | None, out: Path,
               layer_weights: list[float], progress: bool = True, **options: object) -> dict:
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shape = dm.model.input_shape
    channels = shape[-1]
    size = size or (shape[1] if shape[1] else 224)
    if not dm.flexible and size != shape[1]:
        raise ValueError(f"{dm.name} takes {shape[1]}x{shape[2]} images only; drop --size")
    image_u8 = load_input(input_path, size, channels)
    start = to_model_range(image_u8, dm.value_range)
    tiles = {"input": image_u8}
    curves, dreams = {}, []
    for spec in layer_sets or default_layer_sets(dm):
        layers = resolve_layers(dm, [s for s in spec.split(",") if s])
        cfg = DreamConfig(layers=layers, layer_weights=layer_weights, **options)
        total = cfg.steps * (cfg.octaves if dm.flexible else 1)
        with tqdm(total=total, desc=spec, unit="step", disable=not progress) as bar:
            def tick(_n: int, loss: float, bar=bar) -> None:
                bar.update()
                bar.set_postfix(loss=f"{loss:.3f}")

            result = dream(dm, start, cfg, progress=tick)
        stem = spec.replace(",", "+").replace("/", "_")
        picture = to_uint8(result.image, dm.value_range)
        write_image(out / f"{stem}.png", picture)
        write_losses(out / f"{stem}_loss.csv", result.losses)
        values = [v for _, _, v in result.losses]
        k = min(10, max(1, len(values) // 2))
        dreams.append({"layers": layers, "set": spec, "image": str(out / f"{stem}.png"),
                       "losses": str(out / f"{stem}_loss.csv"), "steps": len(values),
                       "loss_first10": float(np.mean(values[:k])), "loss_last10": float(np.mean(values[-k:])),
                       "mean_abs_change": float(np.abs(result.image - start).mean())})
        tiles[spec] = picture
        curves[spec] = result.losses
    plot_losses(out / "loss.png", curves, f"{dm.name}: DeepDream loss per step")
    sheet(out / "sheet.png", tiles)
    write_image(out / "input.png", image_u8)
    return {"model": dm.name, "size": size, "value_range": list(dm.value_range), "octaves_used": dm.flexible,
            "dreams": dreams, "sheet": str(out / "sheet.png"), "loss_plot": str(out / "loss.png")}
