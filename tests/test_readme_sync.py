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
"""tools/check_readme_sync.py: README_CN.md in step with README.md, and each kind of drift caught."""
import os

from conftest import ROOT
from tools import check_readme_sync as sync

ORIGINAL = """# Results

Measured on 2 cores in 264 s.

```bash
python eval.py --steps 2
```

| what | figure |
|---|---|
| demo (200/40 images) | mIoU 93.89, 1.32x PyTorch's time |

## Notes

Killed after the 4th checkpoint.
"""
TRANSLATION = """# 结果

在 2 核机器上测得，用时 264 s。

```bash
python eval.py --steps 2
```

| 项目 | 数值 |
|---|---|
| 演示（200/40 张图像） | 耗时为 PyTorch 的 1.32x，mIoU 93.89 |

## 说明

在第 4 个 checkpoint 之后被杀。
"""


def _problems(translation: str):
    return sync.compare(sync.parse(ORIGINAL), sync.parse(translation))


def test_repository_readmes_are_in_step():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        original = sync.parse(f.read())
    with open(os.path.join(ROOT, "README_CN.md"), encoding="utf-8") as f:
        translation = sync.parse(f.read())
    assert len(original.sections) > 20 and len(original.tables) >= 5 and original.code_blocks
    assert sync.compare(original, translation) == []


def test_translated_words_and_reordered_cell_pass():
    assert _problems(TRANSLATION) == []


def test_changed_table_figure_is_reported():
    problems = _problems(TRANSLATION.replace("93.89", "93.80"))
    assert problems == ["table 1 row 2 column 2: numbers ['1.32', '93.89'] in the original, "
                        "['1.32', '93.80'] in the translation"]


def test_missing_heading_is_reported():
    problems = _problems(TRANSLATION.replace("## 说明\n", ""))
    assert problems[0] == "headings of level 2: 1 in the original, 0 in the translation"


def test_changed_code_block_and_prose_figure_are_reported():
    problems = _problems(TRANSLATION.replace("--steps 2", "--steps 3").replace("264 s", "265 s"))
    assert len(problems) == 2
    assert "numbers only in the original ['264'], only in the translation ['265']" in problems[0]
    assert problems[1].startswith("code block 1 differs")


def test_command_line_exit_status(tmp_path, capsys):
    original, translation = tmp_path / "README.md", tmp_path / "README_CN.md"
    original.write_text(ORIGINAL, encoding="utf-8")
    translation.write_text(TRANSLATION, encoding="utf-8")
    assert sync.main([str(original), str(translation)]) == 0
    translation.write_text(TRANSLATION.replace("200/40", "200/41"), encoding="utf-8")
    assert sync.main([str(original), str(translation)]) == 1
    assert "table 1 row 2 column 1" in capsys.readouterr().out
    assert sync.main([str(original), str(tmp_path / "missing.md")]) == 2
