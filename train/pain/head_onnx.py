"""KNN and kernel-SVM heads as a separate ONNX model the edge runtime chains after the backbone.

Neither has an exact single-graph Keras form (a KNN keeps its training set; an RBF SVM its support
vectors), so skl2onnx converts the fitted StandardScaler -> classifier pipeline and we append what makes
every head speak the bundle's shape: one input `features` [N, D] float, one output `probs` [N, 2].
The SVM's decision value goes through the same logistic the training-side head uses, so the exported
head's scores equal `predict_proba` to float precision (checked before a bundle is written).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

CHAINED = {"knn": "knn", "svm": "svm-rbf"}  # head name -> manifest head.kind
MAX_DIFF = 1e-4


def _require_skl2onnx():
    try:
        import skl2onnx
    except ImportError as exc:
        raise RuntimeError("KNN / SVM heads export with skl2onnx: pip install 'edgesight[train]'") from exc
    return skl2onnx


def head_to_onnx(head, head_name: str, n_features: int):
    """The fitted head (train.pain.heads) as an onnx.ModelProto: features [N, D] -> probs [N, 2]."""
    import onnx
    from onnx import helper

    skl2onnx = _require_skl2onnx()
    if head_name not in CHAINED:
        raise ValueError(f"{head_name}: only {', '.join(CHAINED)} heads are exported as a chained ONNX head")
    pipeline = head.estimator if head_name == "svm" else head
    clf = pipeline.steps[-1][1]
    options = {id(clf): {"zipmap": False, **({"raw_scores": True} if head_name == "svm" else {})}}
    with warnings.catch_warnings():  # skl2onnx reads SVC.probA_, deprecated in scikit-learn 1.9; we use raw scores
        warnings.simplefilter("ignore", FutureWarning)
        model = skl2onnx.to_onnx(pipeline, np.zeros((1, n_features), np.float32), options=options, target_opset=17)
    graph = model.graph
    scores = next(o.name for o in graph.output if o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT)
    # SVM raw scores are [-d, d]: the logistic of each is exactly [1 - p, p]. KNN already gives vote shares.
    op = "Sigmoid" if head_name == "svm" else "Identity"
    graph.node.append(helper.make_node(op, [scores], ["probs"], name=f"edgesight_{op.lower()}"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("probs", onnx.TensorProto.FLOAT, [None, 2]))
    if graph.input[0].name != "features":
        old = graph.input[0].name
        graph.input[0].name = "features"
        for node in graph.node:
            node.input[:] = ["features" if i == old else i for i in node.input]
    model.producer_name = "edgesight"
    onnx.checker.check_model(model)
    return model


def export_head(head, head_name: str, x_check: np.ndarray, path: Path) -> float:
    """Write the head's ONNX file and return its max abs difference from the head itself on `x_check`."""
    import onnxruntime as ort

    model = head_to_onnx(head, head_name, x_check.shape[1])
    path.write_bytes(model.SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["probs"], {"features": x_check.astype(np.float32)})[0]
    diff = float(np.abs(got - head.predict_proba(x_check)).max())
    if diff > MAX_DIFF:
        path.unlink()
        raise RuntimeError(f"{head_name}: the ONNX head differs from the fitted head by {diff:.2e}; not shipping it")
    return diff
