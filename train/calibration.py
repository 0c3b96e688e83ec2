"""Calibration (and mixed-precision selection) samples for a bundle that was trained before bundles carried them.

Recipes write these at training time (train.bundle_writer.write_calibration_sample); this is the same call
for an existing bundle and the dataset it was trained on, so the converter can work from the bundle alone.
"""

from __future__ import annotations

from pathlib import Path

from edge.bundle import load_bundle, write_manifest
from edge.datasets import stratified_split
from train import bundle_writer
from train.datasets import load_dataset


def add_calibration_sample(bundle_ref: str | Path, dataset: str, data_path: str | None = None, n: int = 300,
                           n_selection: int = 1000, seed: int = 42) -> dict:
    """Write calibration_sample.npz (+ selection_sample.npz) into the bundle from `dataset`'s training split, drawn
    as edge-convert drew its calibration images from that split before (default_rng(seed), first n)."""
    bundle = load_bundle(bundle_ref)
    m = bundle.manifest
    data = load_dataset(dataset, path=data_path, seed=m.provenance.seed, size=tuple(m.preprocess.resize))
    if data.x_val is not None:
        x_val = data.x_val
    else:
        _, val = stratified_split(data.y_train, 0.1, m.provenance.seed)
        x_val = data.x_train[val]
    calibration = bundle_writer.write_calibration_sample(bundle.root, data.x_train, n, seed, x_val=x_val,
                                                         n_selection=n_selection)
    write_manifest(bundle.root, m.model_copy(update={"calibration": calibration}))
    return {"bundle": str(bundle.root), **calibration.model_dump(exclude_none=True)}
