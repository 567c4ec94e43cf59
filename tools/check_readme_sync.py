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
"""Check that a translated README keeps the structure and the figures of the English one.

    python tools/check_readme_sync.py README.md README_CN.md

Words are not compared, only what a translation must keep: the headings (same number per level,
in the same order), the fenced code blocks (identical), the tables (same shape, and every cell
holds the same numbers, in any order) and, per section, the numbers of the prose (same multiset).
Prints one line per difference; exits 1 if there is any.
"""
import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import List, Tuple

# 1, 20,210, 2.10.0, 3.4e-6, 1.32x and 4th (suffix dropped), 200张 (a CJK word may touch the number); not
# the digits inside a Latin word such as ade20k or AVX2
NUMBER = re.compile(r"(?<![A-Za-z0-9_.,])\d+(?:[.,]\d+)*(?:e-?\d+)?(?=(?:x|st|[nr]d|th)?(?![A-Za-z0-9_]))")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+\S")
LINK_TARGET = re.compile(r"\]\([^)]*\)")


@dataclass
class Section:
    """One heading and what follows it up to the next heading."""
    level: int
    title: str
    numbers: Counter = field(default_factory=Counter)


@dataclass
class Readme:
    """What a translation must keep of a README."""
    sections: List[Section] = field(default_factory=list)
    code_blocks: List[str] = field(default_factory=list)
    tables: List[List[List[Tuple[str, ...]]]] = field(default_factory=list)  # table -> row -> cell numbers


def numbers(text: str) -> List[str]:
    """The numbers written in ``text`` (link targets left out: they are addresses, not figures)."""
    return NUMBER.findall(LINK_TARGET.sub("]", text))


def _table_row(line: str) -> List[Tuple[str, ...]]:
    cells = line.strip().strip("|").split("|")
    return [tuple(sorted(numbers(cell))) for cell in cells]


def parse(text: str) -> Readme:
    """Headings, code blocks, tables and prose numbers of a Markdown text."""
    doc = Readme(sections=[Section(0, "(before the first heading)")])
    fence, block, table = None, [], None
    for line in text.splitlines():
        if fence is not None:
            if line.strip().startswith(fence):
                doc.code_blocks.append("\n".join(block))
                fence, block = None, []
            else:
                block.append(line)
            continue
        match = FENCE.match(line)
        if match:
            fence, table = match.group(1), None
            continue
        if line.lstrip().startswith("|"):
            if table is None:
                table = []
                doc.tables.append(table)
            if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line):  # the |---| separator row
                table.append(_table_row(line))
            continue
        table = None
        heading = HEADING.match(line)
        if heading:
            doc.sections.append(Section(len(heading.group(1)), line.strip()))
            continue
        doc.sections[-1].numbers.update(numbers(line))
    if fence is not None:
        doc.code_blocks.append("\n".join(block))
    return doc


def _compare_headings(levels: List[int], levels_t: List[int]) -> List[str]:
    if levels == levels_t:
        return []
    problems = []
    for level in range(1, 7):
        count, count_t = levels.count(level), levels_t.count(level)
        if count != count_t:
            problems.append(f"headings of level {level}: {count} in the original, {count_t} in the translation")
    if not problems:
        problems.append("the headings are in a different order")
    problems.append("heading levels (original):    " + " ".join(str(n) for n in levels))
    problems.append("heading levels (translation): " + " ".join(str(n) for n in levels_t))
    return problems


def _compare_sections(sections: List[Section], sections_t: List[Section]) -> List[str]:
    problems = []
    for sec, sec_t in zip(sections, sections_t):
        if sec.numbers != sec_t.numbers:
            missing = sorted((sec.numbers - sec_t.numbers).elements())
            extra = sorted((sec_t.numbers - sec.numbers).elements())
            problems.append(f"section '{sec.title}' / '{sec_t.title}': numbers only in the original {missing}, "
                            f"only in the translation {extra}")
    return problems


def _compare_code(blocks: List[str], blocks_t: List[str]) -> List[str]:
    problems = []
    if len(blocks) != len(blocks_t):
        problems.append(f"code blocks: {len(blocks)} in the original, {len(blocks_t)} in the translation")
    for i, (block, block_t) in enumerate(zip(blocks, blocks_t), 1):
        if block != block_t:
            problems.append(f"code block {i} differs (code blocks are kept unchanged): {block.splitlines()[:1]}")
    return problems


def _compare_tables(tables: List[list], tables_t: List[list]) -> List[str]:
    problems = []
    if len(tables) != len(tables_t):
        problems.append(f"tables: {len(tables)} in the original, {len(tables_t)} in the translation")
    for i, (table, table_t) in enumerate(zip(tables, tables_t), 1):
        if [len(row) for row in table] != [len(row) for row in table_t]:
            problems.append(f"table {i}: different number of rows or columns")
            continue
        for j, (row, row_t) in enumerate(zip(table, table_t), 1):
            problems.extend(f"table {i} row {j} column {k}: numbers {list(cell)} in the original, "
                            f"{list(cell_t)} in the translation"
                            for k, (cell, cell_t) in enumerate(zip(row, row_t), 1) if cell != cell_t)
    return problems


def compare(original: Readme, translation: Readme) -> List[str]:
    """Differences of the translation from the original, one message each."""
    problems = _compare_headings([s.level for s in original.sections], [s.level for s in translation.sections])
    if problems:
        return problems  # the sections do not line up; comparing them would only repeat this
    return (_compare_sections(original.sections, translation.sections)
            + _compare_code(original.code_blocks, translation.code_blocks)
            + _compare_tables(original.tables, translation.tables))


def main(argv: List[str] = None) -> int:
    """Command line: ORIGINAL TRANSLATION."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("original", help="the English README")
    parser.add_argument("translation", help="the translated README")
    args = parser.parse_args(argv)
    docs = []
    for path in (args.original, args.translation):
        try:
            with open(path, encoding="utf-8") as f:
                docs.append(parse(f.read()))
        except OSError as err:
            print(f"error: cannot read {path}: {err.strerror}", file=sys.stderr)
            return 2
    problems = compare(*docs)
    for problem in problems:
        print(f"{args.translation}: {problem}")
    if problems:
        print(f"{args.translation} is not in step with {args.original}; translate the changes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
