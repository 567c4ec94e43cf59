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
"""This project's evaluation against mmseg 0.x's test path, on labels recorded with PyTorch.

``tests/data/mmseg_equality.npz`` was written by ``benchmarks/check_mmseg_equality.py record``
(see benchmarks/README.md): a tiny trained demo model's weights, six demo images and, per case, the
label maps of the PyTorch mmseg ``EncoderDecoder`` test path. Here the same weights and images go
through ``evaluate_dataset`` (what eval.py runs); at most 0.01 % of a case's pixels may differ (ties).
"""
import os

import pytest

from conftest import ROOT
from benchmarks.check_mmseg_equality import MAX_DIFF_FRACTION, compare, read_fixture
from src.data.transforms import rescale_size
from src.utils.context import init_context

FIXTURE = os.path.join(ROOT, "tests", "data", "mmseg_equality.npz")
META, ARRAYS = read_fixture(FIXTURE)
CASE_NAMES = [case["name"] for case in META["cases"]]


def _input_sizes(case):
    """Network input sizes (h, w) of every view of every image of a case (mmseg's MultiScaleFlipAug)."""
    test = case["test"]
    ratios = test["aug_scales"] if case["aug_test"] else [1.0]
    sizes = []
    for index in case["images"]:
        h, w = ARRAYS[f"image{index}"].shape[:2]
        for ratio in ratios:
            new_w, new_h = rescale_size(w, h, [int(s * ratio) for s in test["img_scale"]])
            sizes.append((new_h, new_w))
    return sizes


def _grids(size, test):
    return [max(n - c + s - 1, 0) // s + 1 for n, c, s in zip(size, test["crop_size"], test["stride"])]


def test_recorded_cases_cover_the_protocol():
    cases = {case["name"]: case for case in META["cases"]}
    assert META["max_diff_fraction"] == MAX_DIFF_FRACTION == 1e-4
    # whole inference on an odd size
    assert cases["whole_odd"]["test"]["mode"] == "whole"
    assert all(h % 2 and w % 2 for h, w in _input_sizes(cases["whole_odd"]))
    # slide inference with several overlapping windows
    windows = cases["slide_windows"]
    assert all(gh * gw >= 4 and gh >= 2 and gw >= 2 for gh, gw in (_grids(s, windows["test"])
                                                                   for s in _input_sizes(windows)))
    assert windows["test"]["stride"][0] < windows["test"]["crop_size"][0]
    # windows smaller than the crop: in one side, and the whole image smaller than the crop
    small = cases["slide_small"]
    crop = small["test"]["crop_size"]
    sizes = _input_sizes(small)
    assert any(h < crop[0] and w < crop[1] for h, w in sizes)
    assert any(h < crop[0] and w > crop[1] for h, w in sizes)
    # multi-scale + flip, the smallest scale below the crop
    aug = cases["aug_test"]
    assert len(aug["test"]["aug_scales"]) >= 2 and aug["test"]["aug_flip"] and aug["test"]["mode"] == "slide"
    assert min(h for h, _ in _input_sizes(aug)) < aug["test"]["crop_size"][0]


@pytest.fixture(name="results", scope="module")
def fixture_results(tmp_path_factory):
    """Per case: the project's evaluation against the recorded mmseg labels (one network for all)."""
    init_context("CPU", distributed=False)
    return {result["case"]: result for result in compare(FIXTURE, str(tmp_path_factory.mktemp("mmseg")))}


@pytest.mark.parametrize("case", CASE_NAMES)
def test_label_maps_equal_mmseg(results, case):
    result = results[case]
    assert result["fraction"] <= MAX_DIFF_FRACTION, \
        f"{case}: {result['differing']} of {result['pixels']} pixels differ from mmseg's test path"
