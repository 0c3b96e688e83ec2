"""A bundle from a bare `.keras` file and a named dataset, for users who trained elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

from convert.keras_io import load_keras
from edge.bundle import InputSpec, Manifest, Preprocess, describe_file, write_manifest
from edge.errors import EdgeSightError

KNOWN = {"mnist": "digits", "fashion": "fashion"}


def bundle_from_keras(model_path: Path, dataset: str, out: Path, data_path: str | None = None) -> Path:

    from train import bundle_writer
    from train.datasets import load_dataset

    if dataset not in KNOWN:
        raise EdgeSightError(f"--dataset {dataset!r}: a bare .keras file needs one of {', '.join(KNOWN)} "
                             "(for other tasks, write a bundle with edge-train)")
    model = load_keras(model_path)
    data = load_dataset(dataset, path=data_path)
    want = tuple(data.x_train.shape[1:])
    got = tuple(model.inputs[0].shape[1:])
    if got != want or model.outputs[0].shape[-1] != len(data.labels):
        raise EdgeSightError(f"{model_path}: takes {got} -> {model.outputs[0].shape[-1]} classes, but {dataset} "
                             f"is {want} -> {len(data.labels)} classes")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(model_path, out / "model.keras")
    metrics = bundle_writer.classification_metrics(
        data.y_test, model.predict(data.x_test.astype("float32") / 255.0, verbose=0), data.labels)
    manifest = Manifest(
        schema=1, name=model_path.stem, task=KNOWN[dataset], labels=data.labels, input=InputSpec(shape=list(want)),
        preprocess=Preprocess(resize=list(want[:2]), color="gray", scale=1 / 255.0,
                              digit_extraction=dataset == "mnist"),
        files=[describe_file(out, "model.keras", "keras", metrics=metrics)],
        evaluation=bundle_writer.write_eval_sample(out, data, 500, 42),
        provenance=bundle_writer.provenance(data, 42, None, f"imported from {model_path.name}"),
    )
    write_manifest(out, manifest)
    return out
