"""Mixed-precision int8: keep the few layers whose int8 error matters in float, chosen by measurement.

Why: a whole-model int8 file can lose points to one layer while every other layer quantizes
cleanly (the x2 mask model lost 4 points, almost all of it in one BatchNorm placed after a ReLU
whose per-channel scales reach 64). Which layers is data, not a guess: each layer alone is kept in
float and the whole file's outputs are compared with Keras on a selection split (the validation
split, never the test split the parity report is measured on); layers are then added in order of
that gain until agreement reaches the target. Both runtimes take the same layer list: TFLite's
MLIR quantizer as denylisted nodes and ONNX Runtime as `nodes_to_exclude`.

Float layers cost a dequantize/quantize pair each and do not run on int8-only accelerators
(an Edge TPU compiles the graph up to the first float op): use it for CPU targets.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from convert import parity
from edge.errors import EdgeSightError

AUTO = "auto"
PRESCREEN_ABOVE = 40  # graphs with more layers get a per-op error pass first (TFLite), then whole-model trials
PRESCREEN_KEEP = 12
PRESCREEN_SAMPLES = 32


@dataclass(frozen=True)
class Selection:
    """The data layers are chosen on, and when to stop."""

    x: np.ndarray  # float inputs in the model's layout
    reference: np.ndarray  # the Keras model's outputs on x (after a chained head, if any)
    source: str  # said in the report, e.g. "validation split, 500 images"
    head: Callable[[np.ndarray], np.ndarray] = lambda out: out
    target: float = 0.99  # top-1 agreement with Keras to reach on x
    max_layers: int = 3


@dataclass(frozen=True)
class Trial:
    layers: tuple[str, ...]
    agreement: float
    sqnr_db: float

    @property
    def key(self) -> tuple[float, float]:
        return (self.agreement, self.sqnr_db)


@dataclass
class Outcome:
    layers: list[str]
    source: str
    target: float
    trials: list[Trial] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"float_layers": self.layers, "selected_on": self.source, "target_agreement": self.target,
                "trials": [asdict(t) | {"layers": list(t.layers)} for t in self.trials]}


def keras_layer_names(model) -> list[str]:
    """Every leaf layer, nested models opened (a MobileNetV2 base is one layer of a pain model)."""
    names: list[str] = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            names += keras_layer_names(layer)
        elif type(layer).__name__ != "InputLayer":
            names.append(layer.name)
    return names


def layer_units(layers: list[str], node_names: list[str], hints: list[str] | None = None) -> dict[str, list[str]]:
    """Keras layer -> the graph nodes it became, for layers that left any (Dropout and Flatten may not).

    Both converters keep each layer's name scope as a path segment, uniquified the TF way: in
    Keras 3 exports `conv2d` becomes `conv2d_1` and layer `conv2d_1` then `conv2d_1_2`. So scopes
    are matched to layers one to one, in graph order: each layer takes the first free segment that
    is its name plus at most one `_N`. `hints` name a node by something else (a graph output's op
    is named after the signature, `StatefulPartitionedCall_1:0`, so its input names its layer).
    """
    segments = [re.split(r"[/;]", n) for n in (hints or node_names)]
    in_order = list(dict.fromkeys(seg for segs in segments for seg in segs))
    taken: dict[str, str] = {}  # scope segment -> layer
    for name in layers:
        pattern = re.compile(rf"{re.escape(name)}(_\d+)?")
        scope = next((seg for seg in in_order if seg not in taken and pattern.fullmatch(seg)), None)
        if scope is not None:
            taken[scope] = name
    units: dict[str, list[str]] = {}
    previous = None
    for node, segs in zip(node_names, segments):
        # Ops outside any layer scope (a Subtract's `.../Sub`, the output Concat) belong to the layer before.
        owner = next((taken[seg] for seg in segs if seg in taken), previous)
        if owner is not None:
            units.setdefault(owner, []).append(node)
        previous = owner
    return units


def prescreen(units: dict[str, list[str]], errors: dict[str, float], keep: int | None = None) -> list[str]:
    """The `keep` layers whose own ops make the largest int8 error (RMSE over scale), in graph order."""
    keep = PRESCREEN_KEEP if keep is None else keep
    score = {name: max((errors.get(node, 0.0) for node in nodes), default=0.0) for name, nodes in units.items()}
    top = set(sorted(score, key=score.get, reverse=True)[:keep])
    return [name for name in units if name in top]


def parse_keep_float(value: str | None) -> str | tuple[str, ...] | None:
    """CLI value -> None (plain int8), "auto", or explicit layer names."""
    if value is None or value.strip().lower() in ("", "none"):
        return None
    if value.strip().lower() == AUTO:
        return AUTO
    return tuple(name.strip() for name in value.split(",") if name.strip())


def score(path: Path, fmt: str, sel: Selection, layers: tuple[str, ...]) -> Trial:
    probs, _, _ = parity.run_file(path, fmt, sel.x)
    out = sel.head(probs)
    agreement = float((out.argmax(axis=1) == sel.reference.argmax(axis=1)).mean())
    return Trial(layers, round(agreement, 6), round(parity.sqnr_db(sel.reference, out), 2))


MIN_SQNR_GAIN_DB = 0.5  # a float layer that adds less (and no agreement) is not worth its size


def better(a: Trial, b: Trial) -> bool:
    """Whether `a` earns its extra float layers over `b`: more agreement, or the same and clearly less noise."""
    return a.agreement > b.agreement or (a.agreement == b.agreement and a.sqnr_db >= b.sqnr_db + MIN_SQNR_GAIN_DB)


def choose(units: list[str], build: Callable[[tuple[str, ...]], Path], fmt: str, sel: Selection,
           progress: bool = False, shortlist: int = 8) -> tuple[tuple[str, ...], list[Trial]]:
    """Greedy forward selection; plain int8 unless a layer set is measurably better.

    Step one keeps each layer alone in float; each later step tries adding one more layer (every
    layer for small graphs, the `shortlist` best single layers for large ones) and stops when
    nothing earns its place. Pairs matter: a float BatchNorm fed by an int8 conv can gain little
    until the conv is float too, so a layer useless alone may still be picked second.
    """
    from tqdm import tqdm

    base = score(build(()), fmt, sel, ())
    trials = [base]
    if base.agreement >= sel.target or sel.max_layers <= 0:
        return (), trials
    bar = tqdm(total=len(units), desc=f"{fmt} float-layer sensitivity", unit="trial", disable=not progress)
    singles = []
    for unit in units:
        singles.append(score(build((unit,)), fmt, sel, (unit,)))
        bar.update()
    trials += singles
    ranked = [t.layers[0] for t in sorted(singles, key=lambda t: t.key, reverse=True)]
    pool = ranked if len(ranked) <= 2 * shortlist else ranked[:shortlist]
    best = base
    for single in singles:
        if better(single, best):
            best = single
    while best.layers and best.agreement < sel.target and len(best.layers) < sel.max_layers:
        step = []
        for unit in (u for u in pool if u not in best.layers):
            step.append(score(build((*best.layers, unit)), fmt, sel, (*best.layers, unit)))
            bar.update()
        trials += step
        winner = max(step, key=lambda t: t.key, default=None)
        if winner is None or not better(winner, best):
            break
        best = winner
    bar.close()
    return best.layers, trials


def apply(keep_float: str | tuple[str, ...], units: dict[str, list[str]], build: Callable[[list[str]], Path],
          fmt: str, out: Path, selection: Selection | None, progress: bool = False) -> Outcome:
    """Write `out` with the requested (or chosen) layers in float; `build` takes node names."""
    def build_layers(layers: tuple[str, ...]) -> Path:
        return build([node for layer in layers for node in units[layer]])

    if keep_float == AUTO:
        if selection is None:
            raise EdgeSightError("--keep-float auto needs a selection split (validation data); none was given")
        layers, trials = choose(list(units), build_layers, fmt, selection, progress)
        outcome = Outcome(list(layers), selection.source, selection.target, trials)
    else:
        missing = [name for name in keep_float if name not in units]
        if missing:
            import difflib

            near = sorted({m for name in missing for m in difflib.get_close_matches(name, list(units), 3, 0.5)})
            names = list(units)
            shown = ", ".join(names) if len(names) <= 20 else ", ".join([*names[:5], "...", *names[-10:]])
            raise EdgeSightError(f"{fmt}: no layer named {', '.join(missing)} in this graph"
                                 + (f" (close: {', '.join(near)})" if near else "")
                                 + f"; its {len(names)} layers: {shown}")
        layers = tuple(keep_float)
        outcome = Outcome(list(layers), "given", selection.target if selection else 0.0)
    shutil.copyfile(build_layers(layers), out)
    return outcome
