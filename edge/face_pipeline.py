"""The one builder of the face pipeline: the kiosk, `edge-run mask|pain` and `edge-bench pipeline` all call it.

`FacePipelineSettings` is the part of the kiosk's config that decides what happens to a frame (bundle,
detector, tracker, detection schedule, crop margin); the kiosk's YAML is a superset of it, and the
CLIs fill it from their flags or read it from that YAML. So a number `edge-bench pipeline` prints is the
number of the code path the kiosk runs with the same settings.
"""

from __future__ import annotations

import logging

from pydantic import Field, model_validator

from edge.detectors import DEFAULT_DETECTOR, DetectorConfig, open_detector
from edge.mask_pipeline import MASK_LABEL, NO_MASK_LABEL, DetectSchedule, FacePipeline, MaskPipeline
from edge.strict import StrictModel
from edge.tracker import TrackerConfig

log = logging.getLogger(__name__)

KIOSK_MIN_FACE_PX = 60  # a person at the door; `edge-run` on a photo of a group looks for faces from 40 px


class FacePipelineSettings(StrictModel):

    bundle: str = Field("mask", description="face bundle: built-in name or folder (mask, or a pain bundle)")
    format: str | None = Field(None, description="model file of the bundle (default: its default, tflite-int8)")
    threads: int = Field(2, ge=1, le=64, description="classifier threads")
    trusted_key: str | None = Field(None, description="public ed25519 PEM: refuse unsigned or altered bundles")
    detector: DetectorConfig = Field(DEFAULT_DETECTOR.model_copy(update={"min_face_px": KIOSK_MIN_FACE_PX}),
                                     description="a face detector; `type` picks the plugin")
    schedule: DetectSchedule = DetectSchedule()
    tracker: TrackerConfig = TrackerConfig()
    margin: float = Field(0.15, ge=0, le=1, description="face crop margin per side, as the classifier was trained")

    @model_validator(mode="before")
    @classmethod
    def _legacy_detector(cls, data):
        """Configs written before detectors had a `type` (`detector: {name: blazeface, tile_px: 256, ...}`)
        still load and detect as they did: the short-range model with its tiles, hard suppression, no shape
        check, 60 px faces, and `detect_every` as `schedule.every`."""
        if not isinstance(data, dict) or not isinstance(data.get("detector"), dict):
            return data
        old = dict(data["detector"])
        if "type" in old:
            return data
        if "name" not in old:  # only some options: the default detector with these changed
            base = cls.model_fields["detector"].default.model_dump(exclude_defaults=False)
            return {**data, "detector": {**base, **old}}
        name = old.pop("name")
        every = old.pop("detect_every", None)
        old = {"min_face_px": KIOSK_MIN_FACE_PX, **old}
        if name == "blazeface":
            old = {"type": "blazeface", "model": "short-range", "tile_px": 256, "nms": "hard", "face_shape": False,
                   **old}
        else:
            old = {"type": name, **{k: v for k, v in old.items() if k != "tile_px"}}
        log.warning("detector.name is the old form; read as %s (write `type:` instead)", old)
        data = {**data, "detector": old}
        if every is not None:
            data["schedule"] = {**data.get("schedule", {}), "every": every}
        return data


def open_classifier(settings: FacePipelineSettings):
    from edge.classifier import Classifier

    if settings.trusted_key:
        from edge.signing import verify_bundle

        verify_bundle(settings.bundle, settings.trusted_key)
    return Classifier(settings.bundle, fmt=settings.format, threads=settings.threads)


def build_face_pipeline(settings: FacePipelineSettings, require_mask: bool = False) -> FacePipeline:
    """The classifier and detector the settings name, verified, in a FacePipeline (MaskPipeline for a mask
    bundle). `require_mask`: refuse a bundle whose labels are not WithMask / WithoutMask."""
    clf = open_classifier(settings)
    is_mask = {MASK_LABEL, NO_MASK_LABEL} <= set(clf.labels)
    if require_mask and not is_mask:
        clf.close()
        raise ValueError(f"{settings.bundle}: labels {clf.labels} are not a mask bundle's")
    try:
        detector = open_detector(settings.detector)
    except BaseException:
        clf.close()
        raise
    cls = MaskPipeline if is_mask else FacePipeline
    return cls(clf, detector, schedule=settings.schedule, margin=settings.margin, tracker=settings.tracker)


def close_pipeline(pipeline: FacePipeline) -> None:
    pipeline.classifier.close()
    pipeline.detector.close()
