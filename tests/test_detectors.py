"""Face detectors as plugins: catalog-checked weights, BlazeFace anchors and decoding against known boxes,
the three ways to search a frame, the keypoint shape check, the second look, specs and N-in/N-out backends.

Real models (the detector catalog's files, fetched by `make data`), real photos (the face-recognition
portraits, OpenCV's messi5.jpg), real runtimes (ai-edge-litert, ONNX Runtime, cv2.dnn).
"""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from edge.crops import face_crop
from edge.detectors import describe, open_detector, parse_spec
from edge.detectors.base import SecondLookSettings
from edge.detectors.blazeface import MODELS, anchors, decode
from edge.errors import EdgeSightError, InferenceError, ModelLoadError
from tests.conftest import error_lines, run_cli


@pytest.fixture(scope="module")
def detector_files():
    from train.datasets.fetch import fetch_detectors

    return fetch_detectors()


@pytest.fixture(scope="module")
def portraits(detector_files):
    from train.synth.faces import iter_face_photos

    return list(iter_face_photos(lfw=False, megamind=False))


def test_anchor_grids_follow_mediapipes_ssd_options():
    full = anchors(MODELS["full-range"])
    assert full.shape == (2304, 2) and np.allclose(full[0], 0.5 / 48) and np.allclose(full[-1], 47.5 / 48)
    assert np.allclose(full[1], [1.5 / 48, 0.5 / 48])  # row-major: x moves first
    short = anchors(MODELS["short-range"])
    assert short.shape == (896, 2)
    assert np.allclose(short[0], short[1]) and np.allclose(short[0], 0.5 / 16)  # two anchors per stride-8 cell
    assert np.allclose(short[512:518], 0.5 / 8)  # then six per stride-16 cell
    assert anchors(MODELS["back-camera"]).shape == (896, 2)
    wide = anchors(MODELS["short-range"], 320, 240)
    assert wide.shape == (40 * 30 * 2 + 20 * 15 * 6, 2) and np.allclose(wide[0], [0.5 / 40, 0.5 / 30])


def test_decode_turns_regressors_into_the_box_they_encode():
    model = MODELS["short-range"]
    grid = anchors(model)
    raw = np.zeros((896, 16), np.float32)
    logits = np.full(896, -8.0, np.float32)
    i = 600  # a stride-16 anchor
    raw[i, :4] = [6.4, -3.2, 32.0, 48.0]  # centre offset and size, in input pixels
    raw[i, 4:6] = [-10.0, -8.0]  # the first keypoint, relative to the anchor
    logits[i] = 3.0
    wh = np.array([128, 128], np.float32)
    corners, points, scores = decode(raw, logits, grid, wh, threshold=0.5)
    cx, cy = grid[i] + np.array([6.4, -3.2]) / 128
    assert corners.shape == (1, 4) and scores[0] == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert np.allclose(corners[0], [cx - 16 / 128, cy - 24 / 128, cx + 16 / 128, cy + 24 / 128], atol=1e-6)
    assert np.allclose(points[0, 0], grid[i] + np.array([-10.0, -8.0]) / 128, atol=1e-6)
    assert decode(raw, logits, grid, wh, threshold=0.99)[0].shape == (0, 4)


SEARCHES = ["blazeface:model=full-range", "blazeface:model=short-range,input_width=320",
            "blazeface:model=short-range,tile_px=256", "blazeface:model=back-camera",
            "blazeface:model=full-range-sparse"]


@pytest.mark.parametrize("spec", SEARCHES)
def test_every_blazeface_search_finds_each_portrait_where_it_is(portraits, spec):
    """The known box of each portrait face (the photo detector's, at full resolution), moved into a 640x480
    frame at 120 px: every model and search mode must find it there, with keypoints inside the box."""
    from train.synth.detection_frames import frame_pair

    detector = open_detector(parse_spec(spec, min_face_px=20))
    rng = np.random.default_rng(3)
    for photo in portraits:
        frame, _, gt, _ = frame_pair(photo, 120, rng)
        found = detector.detect(frame)
        assert found, f"{spec}: nothing found in {photo.source}"
        best = max(found, key=lambda d: d.box.iou(gt))
        assert best.box.iou(gt) > 0.5, (spec, photo.source, best.box, gt)
        kp = best.keypoints[:4]
        assert (kp[:, 0] >= best.box.x - 5).all() and (kp[:, 0] <= best.box.x + best.box.w + 5).all()
    detector.close()


def test_weighted_suppression_averages_a_cluster_and_keeps_apart_boxes():
    from edge.detectors.postprocess import weighted_nms

    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float32)
    points = np.zeros((3, 6, 2), np.float32)
    points[1] += 3.0
    merged, pts, scores = weighted_nms(boxes, np.array([0.6, 0.2, 0.9]), points, 0.3)
    assert len(merged) == 2 and scores.tolist() == pytest.approx([0.9, 0.6])
    assert merged[1][0] == pytest.approx(0.5) and pts[1][0, 0] == pytest.approx(0.75)  # score-weighted means


def test_the_shape_check_passes_real_faces_and_rejects_scrambled_keypoints(portraits):
    from dataclasses import replace

    from edge.detectors.faceshape import plausible_face

    face = max(open_detector("blazeface:face_shape=false").detect(portraits[0].image), key=lambda d: d.box.area)
    assert plausible_face(face)
    kp = face.keypoints
    mid_y = kp[:4, 1].mean()
    upside_down = kp.copy()
    upside_down[:, 1] = 2 * mid_y - kp[:, 1]
    assert not plausible_face(replace(face, keypoints=upside_down))
    assert not plausible_face(replace(face, keypoints=np.repeat(kp[2:3], 6, axis=0)))  # collapsed to a point
    far = kp.copy()
    far[3] += [0, 3 * face.box.h]  # the mouth far below the box
    assert not plausible_face(replace(face, keypoints=far))


def test_the_second_look_keeps_faces_and_drops_textures(portraits):
    import skimage.data

    from edge.detectors import Detection
    from edge.detectors.secondlook import SecondLook
    from edge.geometry import BBox

    look = SecondLook()  # the default: the full-range model confirms, the verifier or FaceMesh judges
    faces = [max(open_detector("blazeface:face_shape=false").detect(p.image), key=lambda d: d.box.area)
             for p in portraits]
    decisions = [look.passes(p.image, [f])[0] for p, f in zip(portraits, faces)]
    assert all(kept for kept, _ in decisions), decisions
    assert np.median([prob for _, prob in decisions]) > 0.9
    textures = [cv2.cvtColor(skimage.data.brick(), cv2.COLOR_GRAY2BGR), cv2.cvtColor(skimage.data.coffee(),
                                                                                      cv2.COLOR_RGB2BGR)]
    rng = np.random.default_rng(0)
    boxes = [Detection(BBox(int(rng.integers(0, 200)), int(rng.integers(0, 150)), 80, 80)) for _ in range(20)]
    not_faces = np.concatenate([look.face_probability(t, boxes) for t in textures])
    assert np.median(not_faces) < 0.1
    assert sum(kept for t in textures for kept, _ in look.passes(t, boxes)) == 0
    look.close()
    verifier_alone = SecondLook(SecondLookSettings(confirm=None))
    alone = sum(kept for t in textures for kept, _ in verifier_alone.passes(t, boxes))
    assert alone == int((not_faces >= verifier_alone.settings.threshold).sum())  # it decides by its threshold
    verifier_alone.close()


def test_the_confirmation_averages_its_views_and_confirms_no_face_on_a_blank_wall(portraits):
    from edge.detectors.secondlook import SecondLook

    photo = portraits[0]
    face = max(open_detector("blazeface:face_shape=false").detect(photo.image), key=lambda d: d.box.area).box
    one = SecondLook(SecondLookSettings(confirm_margins=(0.5,), confirm_mirror=False))
    four = SecondLook(SecondLookSettings())
    single = one.confirmation(photo.image, face)
    views = [one._centred_score(v) for v in (face_crop(photo.image, face, 0.5), face_crop(photo.image, face, 0.75))]
    assert single == pytest.approx(views[0]) and single > 0.5
    mirrored = [one._centred_score(np.ascontiguousarray(face_crop(photo.image, face, m)[:, ::-1])) for m in (0.5, 0.75)]
    assert four.confirmation(photo.image, face) == pytest.approx(np.mean(views + mirrored))
    blank = np.zeros_like(photo.image)
    assert four.confirmation(blank, face) < four.settings.confirm_threshold  # no face there to confirm
    assert parse_spec("default:second_look.confirm_margins=0.4/0.6").second_look.confirm_margins == (0.4, 0.6)
    with pytest.raises(EdgeSightError, match="confirm_margins"):
        parse_spec("default:second_look.confirm_margins=3")
    one.close()
    four.close()


def test_the_detector_remembers_a_decision_per_box_until_reset(portraits):
    detector = open_detector("default:min_face_px=20")
    image = portraits[1].image
    first = detector.detect(image)
    looks = detector.looks
    assert first and looks >= 1
    again = detector.detect(image)
    assert [d.box for d in again] == [d.box for d in first] and detector.looks == looks  # remembered, not re-run
    detector.reset()
    detector.detect(image)
    assert detector.looks == 2 * looks


@pytest.fixture()
def private_detectors(tmp_path, monkeypatch, detector_files):
    """The catalog's files copied into a folder of the test's own, found through EDGESIGHT_DETECTOR_DIR."""
    folder = tmp_path / "detectors"
    folder.mkdir()
    for path in detector_files.values():
        if path.suffix != ".xml":
            shutil.copy2(path, folder / path.name)
    monkeypatch.setenv("EDGESIGHT_DETECTOR_DIR", str(folder))
    return folder


def test_a_tampered_or_truncated_detector_file_is_refused_in_one_line(private_detectors):
    target = private_detectors / "face_detection_short_range.tflite"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="size 114516 does not match detector catalog blazeface-short-range"):
        open_detector("blazeface:model=short-range")
    flipped = bytearray(data)
    flipped[5000] ^= 0xFF
    target.write_bytes(bytes(flipped))
    with pytest.raises(ModelLoadError, match="sha256 does not match") as err:
        open_detector("blazeface:model=short-range")
    assert "edge-train fetch detectors" in str(err.value) and "\n" not in str(err.value)
    proc = run_cli("edge-run", "mask", "--source", "edge/samples/kiosk_clip.mp4", "--detector",
                   "blazeface:model=short-range")
    assert proc.returncode == 1 and len(error_lines(proc, "edge-run")) == 1 and "Traceback" not in proc.stderr
    assert "sha256 does not match" in proc.stderr


def test_edge_run_list_shows_every_detector_file_and_whether_it_verifies(private_detectors):
    from edge.detectors.catalog import catalog

    (private_detectors / "face_detection_back.tflite").write_bytes(b"TFL3" * 10)
    proc = run_cli("edge-run", "--list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in map(json.loads, proc.stdout.splitlines()) if r["kind"] == "detector-file"}
    assert set(rows) == {f.name for f in catalog().files}
    assert rows["blazeface-back-camera"]["status"] == "MISMATCH"
    assert all(r["status"] == "verified" for n, r in rows.items() if n != "blazeface-back-camera")
    assert all(len(r["sha256"]) == 64 and r["size_bytes"] > 0 for r in rows.values())


def test_a_missing_detector_file_says_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGESIGHT_CACHE", str(tmp_path))
    monkeypatch.setenv("EDGESIGHT_DETECTOR_DIR", str(tmp_path / "none"))
    with pytest.raises(ModelLoadError, match="not found in .*edge-train fetch detectors"):
        open_detector("blazeface")


def test_detector_specs_name_the_option_a_detector_lacks():
    with pytest.raises(EdgeSightError, match=r"threshold: no such option for haar \(its options: .*min_neighbors"):
        parse_spec("haar:threshold=0.4")
    with pytest.raises(EdgeSightError, match="unknown face detector 'yunet'"):
        parse_spec("yunet")
    with pytest.raises(EdgeSightError, match="full-range model has a fixed 192x192 input"):
        parse_spec("blazeface:model=full-range,input_width=320")
    with pytest.raises(EdgeSightError, match="not key=value"):
        parse_spec("blazeface:320")
    chain = parse_spec("blazeface+haar:min_neighbors=5", min_face_px=50)
    assert chain.type == "fallback" and [d.min_face_px for d in chain.detectors] == [50, 50]
    assert chain.detectors[1].min_neighbors == 5
    default = parse_spec("default:second_look.threshold=0.7")
    assert default.second_look.threshold == 0.7 and default.input_width == 320
    mirrorless = parse_spec("default:second_look.confirm_mirror=false,second_look.confirm_margins=0.6")
    assert mirrorless.second_look.confirm_mirror is False and mirrorless.second_look.confirm_margins == (0.6,)
    for spec in ("default", "default:second_look.confirm_mirror=false,second_look.mesh_threshold=0.2",
                 "blazeface:model=short-range,input_width=320,second_look=on,second_look.confirm=off"):
        assert parse_spec(describe(parse_spec(spec))) == parse_spec(spec)  # what reports print reads back
    alone = parse_spec("default:second_look.confirm=off,second_look.mesh_threshold=null")
    assert alone.second_look.confirm is None and alone.second_look.mesh_threshold is None  # nested options switch off


def test_kiosk_yaml_detector_errors_name_their_line_and_old_configs_still_load(tmp_path):
    from edge.kiosk.config import ConfigError, load_config

    bad = tmp_path / "kiosk.yaml"
    bad.write_text("source: camera:0\ndetector:\n  type: haar\n  input_width: 320\n")
    with pytest.raises(ConfigError, match=f"{bad}:4: detector.input_width: unknown key"):
        load_config(bad)
    old = tmp_path / "old.yaml"
    old.write_text("detector:\n  name: blazeface\n  tile_px: 256\n  threshold: 0.6\n  detect_every: 2\n")
    cfg = load_config(old)
    assert (cfg.detector.model, cfg.detector.tile_px, cfg.detector.threshold, cfg.detector.nms) == \
        ("short-range", 256, 0.6, "hard")
    assert cfg.detector.min_face_px == 60 and cfg.schedule.every == 2
    partial = tmp_path / "partial.yaml"
    partial.write_text("detector:\n  threshold: 0.5\n")
    assert load_config(partial).detector.input_width == 320  # the default detector with one option changed


def test_backends_run_models_with_several_inputs_and_outputs(tmp_path, detector_files):
    import onnx
    from onnx import TensorProto, helper

    from edge.backends import open_backend

    tfl = open_backend("tflite", detector_files["blazeface-short-range"], 1)
    outs = tfl.run({tfl.inputs[0].name: np.zeros((1, 128, 128, 3), np.float32)})
    assert [o.shape for o in outs] == [(1, 896, 16), (1, 896, 1)] and len(tfl.outputs) == 2
    with pytest.raises(InferenceError, match="missing"):
        tfl.run({"nope": np.zeros((1, 128, 128, 3), np.float32)})
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Mul", ["a", "b"], ["product"])], "two",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3]) for n in ("a", "b")],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3]) for n in ("sum", "product")])
    path = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    ort = open_backend("onnx", path, 1)
    a, b = np.array([[1, 2, 3]], np.float32), np.array([[4, 5, 6]], np.float32)
    total, product = ort.run({"a": a, "b": b})
    assert total.tolist() == [[5, 7, 9]] and product.tolist() == [[4, 10, 18]]
    assert [t.name for t in ort.inputs] == ["a", "b"] and [t.name for t in ort.outputs] == ["sum", "product"]
    dnn = open_backend("opencv-dnn", detector_files["res10-ssd"], 1, config=detector_files["res10-ssd-prototxt"])
    assert dnn.inputs[0].shape == (1, 3, 300, 300)
    (det,) = dnn.run({dnn.inputs[0].name: np.zeros((1, 3, 300, 300), np.float32)})
    assert det.ndim == 4 and det.shape[-1] == 7


def test_edge_bench_times_a_detector_file_by_its_catalog_name(detector_files):
    proc = run_cli("edge-bench", "blazeface-short-range", "--input-shape", "1x240x320x3", "--threads", "1",
                   "--runs", "5", "--warmup", "1", "--xnnpack-only", "--no-keras", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [r for r in json.loads(proc.stdout)["rows"] if r["status"] == "ok"]
    assert len(rows) == 1 and rows[0]["p50_ms"] > 0
    assert rows[0]["shapes"] == {"inputs": [[1, 240, 320, 3]], "outputs": [[1, 4200, 16], [1, 4200, 1]]}
