# Copyright 2026 Huawei Technologies Co., Ltd
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
# http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
# ============================================================================
"""mmseg metric semantics on hand-worked cases."""
import json
import math

import numpy as np
import pytest

from src.utils.distributed import MAX_GROUP_SIZE, from_limbs, to_limbs
from src.inference.metrics import (DeviceConfusion, SegmentationMetric, confusion_counts, intersect_and_union,
                                   mmseg_percent)

# K = 3. The pixel labelled 255 (predicted 2) is ignored. Remaining (pred, label) pairs:
# (0,0) (1,0) (1,1) (1,1) (0,2)
#   intersect = [1, 2, 0]   pred = [2, 3, 0]   label = [2, 2, 1]   union = [3, 3, 1]
LABEL_A = np.array([[0, 0, 1], [1, 255, 2]])
PRED_A = np.array([[0, 1, 1], [1, 2, 0]])


def test_areas_drop_ignored_pixels():
    inter, union, pred, label = intersect_and_union(PRED_A, LABEL_A, 3, 255)
    np.testing.assert_array_equal(inter, [1, 2, 0])
    np.testing.assert_array_equal(pred, [2, 3, 0])  # the 2 predicted on the ignored pixel is dropped
    np.testing.assert_array_equal(label, [2, 2, 1])
    np.testing.assert_array_equal(union, [3, 3, 1])
    assert inter.dtype == np.float64


def test_hand_worked_metrics():
    metric = SegmentationMetric(3)
    metric.update(PRED_A, LABEL_A)
    res = metric.compute()
    assert res["aAcc"] == pytest.approx(3 / 5)
    # IoU = [1/3, 2/3, 0/1]                  -> mIoU = 1/3
    np.testing.assert_allclose(res["IoU"], [1 / 3, 2 / 3, 0.0])
    assert res["mIoU"] == pytest.approx(1 / 3)
    # Acc = Recall = [1/2, 2/2, 0/1]         -> mAcc = 1/2
    np.testing.assert_allclose(res["Acc"], [0.5, 1.0, 0.0])
    assert res["mAcc"] == pytest.approx(0.5)
    # Precision = [1/2, 2/3, 0/0 = NaN]      -> mPrecision = (1/2 + 2/3) / 2 = 7/12
    assert math.isnan(res["Precision"][2])
    assert res["mPrecision"] == pytest.approx(7 / 12)
    # Fscore = [2*.5*.5/1, 2*(2/3)/(5/3), NaN] = [0.5, 0.8, NaN] -> mFscore = 0.65
    np.testing.assert_allclose(res["Fscore"][:2], [0.5, 0.8])
    assert math.isnan(res["Fscore"][2])
    assert res["mFscore"] == pytest.approx(0.65)
    # Dice = 2I/(P+L) = [2/4, 4/5, 0/1] -> mDice = 1.3/3: class 2 (never hit) is 0 in Dice but NaN
    # in Fscore, so mDice != mFscore here, exactly as in mmseg.
    np.testing.assert_allclose(res["Dice"], [0.5, 0.8, 0.0])
    assert res["mDice"] == pytest.approx(1.3 / 3)
    assert metric.summary_percent() == {"aAcc": 60.0, "mIoU": 33.33, "mAcc": 50.0, "mFscore": 65.0,
                                        "mPrecision": 58.33, "mRecall": 50.0, "mDice": 43.33}


def test_absent_class_is_nan_and_skipped():
    # K = 4; class 3 appears in neither map. Classes 0..2: IoU = [1/3, 2/3, 0] as above.
    metric = SegmentationMetric(4)
    metric.update(PRED_A, LABEL_A)
    res = metric.compute()
    for key in ("IoU", "Acc", "Fscore", "Precision", "Recall", "Dice"):
        assert math.isnan(res[key][3]), key
    assert res["mIoU"] == pytest.approx(1 / 3)
    assert res["mDice"] == pytest.approx(1.3 / 3)


def test_labels_outside_range_are_not_counted():
    # label 7 is not the ignore index but lies outside [0, 3): mmseg keeps the pixel, so its
    # prediction counts in area_pred, while the label falls out of the label histogram.
    inter, union, pred, label = intersect_and_union(np.array([[1, 0]]), np.array([[7, 0]]), 3)
    np.testing.assert_array_equal(pred, [1, 1, 0])
    np.testing.assert_array_equal(label, [1, 0, 0])
    np.testing.assert_array_equal(inter, [1, 0, 0])
    np.testing.assert_array_equal(union, [1, 1, 0])


def test_identities_when_every_present_class_is_hit():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 5, size=(16, 20))
    label[0, :3] = 255
    pred = label.copy()
    noise = rng.random(label.shape) < 0.3
    pred[noise] = rng.integers(0, 5, size=int(noise.sum()))
    metric = SegmentationMetric(5)
    metric.update(pred, label)
    res = metric.compute()
    assert np.all(metric.area_intersect[metric.area_union > 0] > 0)  # precondition
    np.testing.assert_allclose(res["Recall"], res["Acc"])
    np.testing.assert_allclose(res["Fscore"], res["Dice"], rtol=1e-12)
    assert res["mRecall"] == res["mAcc"]
    assert res["mDice"] == pytest.approx(res["mFscore"], rel=1e-12)


def test_accumulation_is_over_pixels_not_images():
    # K = 2. Image A: label [0,0,0,1], pred [0,0,0,0] -> I = [3,0], U = [4,1], IoU = [3/4, 0].
    # Image B: label [1,1], pred [1,1]                -> I = [0,2], U = [0,2], IoU = [NaN, 1].
    # Per-image mIoU: 0.375 and 1.0 (mean 0.6875). Dataset: I = [3,2], U = [4,3] -> (3/4 + 2/3) / 2.
    label_a, pred_a = np.array([[0, 0], [0, 1]]), np.array([[0, 0], [0, 0]])
    label_b, pred_b = np.array([[1], [1]]), np.array([[1], [1]])
    metric = SegmentationMetric(2)
    metric.update(pred_a, label_a)
    metric.update(pred_b, label_b)
    joint = SegmentationMetric(2)
    joint.update(np.concatenate([pred_a, pred_b], axis=1), np.concatenate([label_a, label_b], axis=1))
    assert metric.num_images == 2
    assert metric.compute()["mIoU"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    for key, value in metric.compute().items():
        np.testing.assert_array_equal(value, joint.compute()[key])
    assert metric.compute()["mIoU"] != pytest.approx(0.6875)


def test_mmseg_percent_rounding():
    assert mmseg_percent(np.array([1 / 3, np.nan])) == 33.33
    assert math.isnan(mmseg_percent(np.array([np.nan])))


def test_table_and_json():
    metric = SegmentationMetric(3, class_names=["wall", "sky", "tree"])
    metric.update(PRED_A, LABEL_A)
    table = metric.format_table()
    for text in ("wall", "tree", "mIoU", "33.33", "nan"):
        assert text in table
    data = json.loads(json.dumps(metric.to_json(), allow_nan=False))
    assert data["per_class"]["Precision"][2] is None
    assert data["summary"]["mIoU"] == pytest.approx(1 / 3)
    assert data["summary_percent"]["mIoU"] == 33.33
    assert data["class_names"] == ["wall", "sky", "tree"]


def test_confusion_matrix_of_the_hand_worked_case():
    metric = SegmentationMetric(3)
    metric.update(PRED_A, LABEL_A)
    # rows: label, columns: prediction; the ignored pixel is not counted
    assert metric.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert metric.to_json()["confusion_matrix"] == metric.confusion.tolist()


def test_device_confusion_equals_numpy_and_the_areas_are_its_sums():
    """DeviceConfusion (MindSpore ops) gives the NumPy counts; the metric's areas derived from the
    counts (diagonal, row and column sums) equal mmseg's histograms (intersect_and_union), also with
    ignored pixels, labels >= K and predictions outside [0, K)."""
    import mindspore as ms  # pylint: disable=import-outside-toplevel
    rng = np.random.default_rng(3)
    num_classes = 4
    device = DeviceConfusion(num_classes, ignore_index=255)
    metric = SegmentationMetric(num_classes)
    areas = np.zeros((4, num_classes))
    for shape in ((9, 11), (5, 7), (16, 3)):
        pred = rng.integers(-1, num_classes + 1, shape)
        label = rng.choice([0, 1, 2, 3, 6, 255], shape)
        device.update(ms.Tensor(pred.astype(np.int32)), label.astype(np.uint8))
        metric.update(pred, label)
        areas += np.stack(intersect_and_union(pred, label, num_classes, 255))
    np.testing.assert_array_equal(device.counts(), metric.counts)
    np.testing.assert_array_equal(np.stack([metric.area_intersect, metric.area_union, metric.area_pred,
                                            metric.area_label]), areas)
    # labels and predictions in [0, K): the K x K matrix alone holds every area
    pred, label = rng.integers(0, num_classes, (8, 8)), rng.choice([0, 1, 2, 3, 255], (8, 8))
    confusion = confusion_counts(pred, label, num_classes)[:-1, :-1]
    inter, _, area_pred, area_label = intersect_and_union(pred, label, num_classes)
    assert np.array_equal(np.diag(confusion), inter) and np.array_equal(confusion.sum(axis=0), area_pred)
    assert np.array_equal(confusion.sum(axis=1), area_label) and confusion.sum() == np.sum(label != 255)


def test_reset_and_shape_check():
    metric = SegmentationMetric(3)
    metric.update(PRED_A, LABEL_A)
    metric.reset()
    assert metric.num_images == 0 and metric.area_label.sum() == 0
    with pytest.raises(ValueError):
        metric.update(PRED_A, LABEL_A[:, :2])


def test_merge_of_shards_is_exact():
    rng = np.random.default_rng(0)
    pairs = [(rng.integers(0, 4, (9, 11)), rng.choice([0, 1, 2, 3, 255], (9, 11))) for _ in range(7)]
    whole = SegmentationMetric(4)
    for pred, label in pairs:
        whole.update(pred, label)
    for ranks in (2, 3, 8):
        shards = [SegmentationMetric(4) for _ in range(ranks)]
        for index, (pred, label) in enumerate(pairs):
            shards[index % ranks].update(pred, label)
        merged = shards[0]
        for shard in shards[1:]:
            merged.merge(shard)
        assert merged.to_json() == whole.to_json()
    with pytest.raises(ValueError, match="cannot merge"):
        whole.merge(SegmentationMetric(5))


def test_limb_sums_are_exact_beyond_float32():
    # Pixel counts of a large data set: far above 2**24, where float32 sums lose units.
    rng = np.random.default_rng(1)
    counts = [rng.integers(0, 2 ** 40, 600) for _ in range(5)] + [np.full(600, 2 ** 60 - 1)]
    limb_sum = sum(to_limbs(c) for c in counts)            # what a float32 AllReduce computes
    assert limb_sum.dtype == np.float32
    np.testing.assert_array_equal(from_limbs(limb_sum), sum(c.astype(object) for c in counts).astype(np.int64))
    assert float(np.float32(2 ** 24) + np.float32(1)) == 2 ** 24  # the loss the limbs avoid
    # Every limb at its largest on every one of the most ranks: the float32 limb sums stay exact.
    assert float(to_limbs(np.full(1, 2 ** 60 - 1)).max()) * MAX_GROUP_SIZE < 2 ** 24
    with pytest.raises(ValueError):
        to_limbs(np.array([0.5]))
    with pytest.raises(ValueError):
        to_limbs(np.array([-1]))
