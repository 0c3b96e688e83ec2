"""Parity per output tensor, for models that are not single-output classifiers (detectors, embeddings, heads).

A converted detector is only as good as its worst output: a box regressor can drift while the scores look
fine. So each output is compared with the reference model's same output on its own (SQNR, max abs diff,
mean per-sample cosine), and top-1 agreement is measured only on outputs that are class distributions.
Runtimes may list outputs in another order than Keras (TFLite sorts its signature outputs by name), so a
converted file's outputs are matched to the reference's by shape, then by closeness.
"""

from __future__ import annotations

import numpy as np

from convert.parity import sqnr_db
from edge.bundle import Metrics, OutputParity, OutputSpec

DISTRIBUTION_ATOL = 1e-3


def is_distribution(x: np.ndarray) -> bool:
    """Rows of non-negative values that sum to 1 (a softmax): the outputs where top-1 agreement means something."""
    if x.ndim != 2 or x.shape[1] < 2:
        return False
    return bool(np.all(x >= -DISTRIBUTION_ATOL) and np.allclose(x.sum(axis=1), 1.0, atol=DISTRIBUTION_ATOL))


def cosine(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean over samples of the cosine similarity of the flattened outputs (1.0: same direction)."""
    a = reference.reshape(len(reference), -1).astype(np.float64)
    b = test.reshape(len(test), -1).astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    both_zero = norms == 0
    cos = np.where(both_zero, 1.0, (a * b).sum(axis=1) / np.where(both_zero, 1.0, norms))
    return float(cos.mean())


def match_outputs(reference: list[np.ndarray], test: list[np.ndarray]) -> list[int]:
    """For each reference output, the index of the test output it corresponds to: same shape, then the closest
    (highest cosine) of those not yet taken."""
    if len(reference) != len(test):
        raise ValueError(f"the converted file gives {len(test)} outputs, the reference model {len(reference)}")
    taken: set[int] = set()
    order = []
    for ref in reference:
        same = [j for j, t in enumerate(test) if j not in taken and t.shape == ref.shape]
        if not same:
            raise ValueError(f"no converted output has the reference output's shape {ref.shape[1:]}")
        best = max(same, key=lambda j: cosine(ref, test[j]))
        taken.add(best)
        order.append(best)
    return order


def describe_outputs(reference: list[np.ndarray], names: list[str]) -> list[OutputSpec]:
    """The manifest's outputs block, from the reference model's answers on the evaluation images."""
    return [OutputSpec(name=n, shape=list(r.shape[1:]), scores=is_distribution(r)) for n, r in zip(names, reference)]


def output_parity(reference: list[np.ndarray], test: list[np.ndarray], specs: list[OutputSpec]) -> Metrics:
    """Each output's distance from the reference, and a summary that is the worst output's (lowest SQNR and
    cosine, largest diff, lowest agreement)."""
    test = [test[j] for j in match_outputs(reference, test)]
    rows = []
    for spec, ref, got in zip(specs, reference, test):
        agreement = float((ref.argmax(1) == got.argmax(1)).mean()) if spec.scores else None
        rows.append(OutputParity(name=spec.name, sqnr_db=round(sqnr_db(ref, got), 2),
                                 max_abs_diff=float(np.max(np.abs(ref - got))), cosine=round(cosine(ref, got), 6),
                                 agreement=agreement))
    agreements = [r.agreement for r in rows if r.agreement is not None]
    return Metrics(n_samples=len(reference[0]), sqnr_db=min(r.sqnr_db for r in rows),
                   max_abs_diff=max(r.max_abs_diff for r in rows),
                   agreement=min(agreements) if agreements else None, per_output=rows)
