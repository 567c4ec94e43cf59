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
"""MindSpore against PyTorch (and ONNX Runtime), every side-by-side case in one command: results, README tables, plot.

Runs in the PyTorch environment (``benchmarks/requirements.txt``, which has matplotlib) and starts the
MindSpore benchmark with ``--ms_python``::

    .venv-bench/bin/python benchmarks/compare.py --ms_python .venv/bin/python            # every case
    .venv-bench/bin/python benchmarks/compare.py --ms_python .venv/bin/python --suite headline --resume
    .venv-bench/bin/python benchmarks/compare.py --report_only                             # table + plot only
    .venv-bench/bin/python benchmarks/compare.py --ms_python .venv/bin/python --suite deploy \
        --results benchmarks/results/deploy.json --region deploy                          # with ONNX Runtime

A case is a config, a mode (eval or train), a batch, a square input side and a number of classes
(``--model.decode_head.num_classes``). For each case ``bench_model.py`` (MindSpore, ``--no_macs``) runs
first and ``bench_torch_reference.py`` (PyTorch, ``--check_fixtures ''``) right after it, each in its own
process with ``OMP_NUM_THREADS=--threads`` (and PyTorch's ``--threads`` the same), so a change of load
hits both. A process that fails (non-zero exit, killed, no JSON last line) is recorded with a one-line
reason and the suite goes on. A framework's run is skipped when the peak memory estimated from the
cases of the same config, framework and mode measured so far (linear in batch x pixels) exceeds
``--max_rss_gb``.

Suites: ``headline`` (Swin-T eval batch 1 and 2 and train batch 2 at 512x512, the official Swin-B
config eval batch 1 at 640x640), ``scaling`` (Swin-T, one axis at a time around batch 1, 512x512,
150 classes: batch 1/2/4, side 256/512/640, classes 19/59/150; eval and train), ``all`` (both, a case
in both runs once), ``deploy`` (the headline inference cases with ONNX Runtime too, once with oneDNN
capped at AVX2 for MindSpore and PyTorch and once uncapped, ``ONEDNN_MAX_CPU_ISA=ALL``; ONNX Runtime
does not use oneDNN) and ``tiny`` (the demo config, 1 step, for checking the tool itself).
ONNX Runtime runs ``bench_onnx.py`` with ``--ms_python`` (the model is exported there, the timing
process loads only ONNX Runtime) and ``--threads`` intra-op threads.

After every case all results are written to ``--results`` (a temporary file, then renamed), so an
interrupted suite keeps what it measured; ``--resume`` skips the cases whose stored results have the
same steps, warm-up and threads and succeeded for both frameworks. Then the tables between
``<!-- compare:begin -->`` and ``<!-- compare:end -->`` in ``--readme`` and the plot ``--plot`` are
rewritten from the whole results file. The last stdout line is JSON:
``{"results", "plot", "cases", "failed", "skipped"}``; the exit status is 1 when a process failed.
"""
import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# pylint: disable=wrong-import-position
# (the project's modules need the project root on sys.path, set above)
from benchmarks.common import MODES  # noqa: E402
# pylint: enable=wrong-import-position

FRAMEWORKS = ("mindspore", "pytorch", "onnxruntime")
FRAMEWORK_NAMES = {"mindspore": "MindSpore", "pytorch": "PyTorch", "onnxruntime": "ONNX Runtime"}
SCRIPTS = {"mindspore": "benchmarks/bench_model.py", "pytorch": "benchmarks/bench_torch_reference.py",
           "onnxruntime": "benchmarks/bench_onnx.py"}
SIDE_BY_SIDE = ("mindspore", "pytorch")
CAPPED_ISA = "AVX2"
SWIN_T = "config/ecenet_swin_t_ade20k_512.yaml"
SWIN_B = "config/ecenet_swin_b_ade20k_640.yaml"
DEMO = "config/ecenet_demo.yaml"
MODEL_NAMES = {SWIN_T: "Swin-T", SWIN_B: "Swin-B", DEMO: "demo"}
SUITES = ("headline", "scaling", "all", "deploy", "tiny")
BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"
DEPLOY_RESULTS = "benchmarks/results/deploy.json"
NOT_YET_RUN = "Not yet run: `benchmarks/compare.py` writes the tables here."
DEFAULT_RESULTS = "benchmarks/results/compare.json"
DEFAULT_PLOT = "benchmarks/results/scaling.png"
DEFAULT_README = "benchmarks/README.md"
RESULTS_FORMAT = 1


@dataclass(frozen=True)
class Case:
    """One benchmark case; ``key`` names what is measured, steps and warm-up are how."""
    config: str
    mode: str
    batch: int
    size: int
    num_classes: int
    steps: int
    warmup: int
    isa: str = CAPPED_ISA
    frameworks: Tuple[str, ...] = SIDE_BY_SIDE

    @property
    def key(self) -> str:
        """Identity of the measured case (independent of steps, warm-up and the frameworks run)."""
        isa = "" if self.isa == CAPPED_ISA else f"|isa-{self.isa}"
        return f"{self.config}|{self.mode}|b{self.batch}|s{self.size}|k{self.num_classes}{isa}"

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``Swin-T eval, batch 1, 512², K 150``."""
        name = MODEL_NAMES.get(self.config, os.path.basename(self.config))
        isa = "" if self.isa == CAPPED_ISA else f", oneDNN {self.isa}"
        return f"{name} {self.mode}, batch {self.batch}, {self.size}², K {self.num_classes}{isa}"

    @property
    def pixels(self) -> int:
        """Batch x input pixels, the size measure of the memory estimate."""
        return self.batch * self.size * self.size


@dataclass(frozen=True)
class Grid:
    """Cases varying one axis at a time (``batch``, ``size``, ``num_classes``) around ``base``."""
    config: str
    base: Tuple[Tuple[str, int], ...]
    axes: Tuple[Tuple[str, Tuple[int, ...]], ...]

    def point(self, axis: str, value: int) -> Dict[str, int]:
        """The base point with ``axis`` set to ``value``."""
        return {**dict(self.base), axis: value}

    def cases(self, steps: Dict[str, int], warmup: int) -> List[Case]:
        """Every mode and axis point once, eval first, cheapest first within a mode."""
        cases = [Case(self.config, mode, steps=steps[mode], warmup=warmup, **self.point(axis, value))
                 for mode in MODES for axis, values in self.axes for value in values]
        return sorted(unique(cases), key=lambda c: (MODES.index(c.mode), c.pixels, c.num_classes))


HEADLINE = ((SWIN_T, "eval", 1, 512), (SWIN_T, "eval", 2, 512), (SWIN_T, "train", 2, 512), (SWIN_B, "eval", 1, 640))
SCALING = Grid(SWIN_T, (("batch", 1), ("size", 512), ("num_classes", 150)),
               (("batch", (1, 2, 4)), ("size", (256, 512, 640)), ("num_classes", (19, 59, 150))))
TINY = Grid(DEMO, (("batch", 1), ("size", 64), ("num_classes", 5)),
            (("batch", (1, 2)), ("size", (64, 96)), ("num_classes", (5, 8))))
AXIS_TITLES = {"batch": "batch", "size": "input side (pixels, square)", "num_classes": "classes K"}


def unique(cases: Iterable[Case]) -> List[Case]:
    """Cases in order, each key once (the first occurrence wins)."""
    seen: Dict[str, Case] = {}
    for case in cases:
        seen.setdefault(case.key, case)
    return list(seen.values())


def suite_cases(suite: str, steps_eval: int = 3, steps_train: int = 2, warmup: int = 1) -> List[Case]:
    """The cases of a suite in run order; ``tiny`` always runs 1 step without warm-up."""
    steps = {"eval": steps_eval, "train": steps_train}
    if suite == "tiny":
        return TINY.cases({"eval": 1, "train": 1}, 0)
    if suite == "deploy":
        return [Case(config, mode, batch, size, 150, steps[mode], warmup, isa, FRAMEWORKS)
                for isa in (CAPPED_ISA, "ALL") for config, mode, batch, size in HEADLINE if mode == "eval"]
    headline = [Case(config, mode, batch, size, 150, steps[mode], warmup) for config, mode, batch, size in HEADLINE]
    scaling = SCALING.cases(steps, warmup)
    return unique({"headline": headline, "scaling": scaling, "all": headline + scaling}[suite])


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line options, checked."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=SUITES, default="all", help="which cases to run (default all)")
    parser.add_argument("--ms_python", default=os.path.join(ROOT, ".venv", "bin", "python"),
                        help="Python of the MindSpore environment (default .venv/bin/python)")
    parser.add_argument("--torch_python", default=sys.executable,
                        help="Python of the PyTorch environment (default: the one running this script)")
    parser.add_argument("--threads", type=int, default=2,
                        help="OMP_NUM_THREADS, PyTorch and ONNX Runtime threads (default 2)")
    parser.add_argument("--steps_eval", type=int, default=3, help="timed inference steps (default 3)")
    parser.add_argument("--steps_train", type=int, default=2, help="timed training steps (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps after the first call (default 1)")
    parser.add_argument("--max_rss_gb", type=float, default=20.0,
                        help="skip a run whose estimated peak memory exceeds this many GB (default 20)")
    parser.add_argument("--timeout_s", type=float, default=3600.0, help="limit per process in seconds (default 3600)")
    parser.add_argument("--results", default=os.path.join(ROOT, DEFAULT_RESULTS),
                        help=f"results JSON file (default {DEFAULT_RESULTS})")
    parser.add_argument("--plot", default=os.path.join(ROOT, DEFAULT_PLOT),
                        help=f"PNG plot to write (default {DEFAULT_PLOT})")
    parser.add_argument("--readme", default=os.path.join(ROOT, DEFAULT_README),
                        help=f"markdown file whose table region is rewritten (default {DEFAULT_README})")
    parser.add_argument("--region", default="compare",
                        help="README region to rewrite, between <!-- REGION:begin --> and <!-- REGION:end --> "
                             "(default compare; the deploy suite on another machine: its own results file and "
                             f"region, e.g. --results {DEPLOY_RESULTS} --region deploy)")
    parser.add_argument("--isa", choices=(CAPPED_ISA, "ALL"), default=None,
                        help="run only the cases with this oneDNN cap (deploy suite)")
    parser.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=None,
                        help="run only these frameworks of each case; the stored results of the others stay")
    parser.add_argument("--resume", action="store_true", help="skip cases already measured with the same settings")
    parser.add_argument("--only", default=None, help="run only the cases whose label contains this text")
    parser.add_argument("--report_only", action="store_true", help="only rewrite the tables and the plot")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.steps_eval < 1 or args.steps_train < 1 or args.warmup < 0:
        parser.error("--threads, --steps_eval and --steps_train must be positive and --warmup non-negative")
    if args.max_rss_gb <= 0 or args.timeout_s <= 0:
        parser.error("--max_rss_gb and --timeout_s must be positive")
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", args.region):
        parser.error(f"--region {args.region!r}: lower-case letters, digits, '-' and '_'")
    if not args.report_only:
        for option in ("ms_python", "torch_python"):
            if not os.access(getattr(args, option), os.X_OK):
                parser.error(f"--{option} {getattr(args, option)}: not an executable file")
    return args


def empty_results() -> Dict[str, Any]:
    """A results store with no run and no case."""
    return {"format": RESULTS_FORMAT, "runs": {}, "cases": {}}


def load_results(path: str) -> Dict[str, Any]:
    """The results file, or an empty store when it does not exist; a broken file stops with a one-line error."""
    if not os.path.exists(path):
        return empty_results()
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: --results {path}: cannot read it as JSON ({err})") from err
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT or not isinstance(data.get("cases"), dict):
        raise SystemExit(f"error: --results {path}: not a compare.py results file (format {RESULTS_FORMAT})")
    return data


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_results(path: str, data: Dict[str, Any]) -> None:
    """Write the results store atomically (an interruption leaves the previous file whole)."""
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def case_settings(case: Case, threads: int) -> Dict[str, Any]:
    """What a stored result records about how it was measured (plus the label)."""
    settings = {**asdict(case), "threads": threads, "label": case.label}
    settings["frameworks"] = list(case.frameworks)
    return settings


def is_done(entry: Optional[Dict[str, Any]], case: Case, threads: int) -> bool:
    """Whether a stored entry measured ``case`` with the same settings and all its frameworks succeeded."""
    if not entry or entry.get("case") != case_settings(case, threads):
        return False
    return all(entry.get(fw, {}).get("status") == "ok" for fw in case.frameworks)


def peak_rss(entry: Dict[str, Any], framework: str, mode: str) -> Optional[float]:
    """Peak RSS in GB of a successful run stored in ``entry``, else None."""
    record = entry.get(framework, {})
    if record.get("status") != "ok":
        return None
    return record["result"][mode]["peak_rss_gb"]


def estimate_rss_gb(cases: Dict[str, Any], case: Case, framework: str) -> Optional[float]:
    """Peak memory of ``case`` predicted from the measured cases of the same config, framework and mode.

    Linear in batch x pixels (largest measurement per point): a least-squares line through two or more
    points (slope at least 0), proportional through a single point; None when nothing was measured.
    """
    largest: Dict[int, float] = {}
    for entry in cases.values():
        other = entry["case"]
        if other["config"] != case.config or other["mode"] != case.mode:
            continue
        rss = peak_rss(entry, framework, case.mode)
        if rss is not None:
            pixels = other["batch"] * other["size"] ** 2
            largest[pixels] = max(rss, largest.get(pixels, 0.0))
    if not largest:
        return None
    if len(largest) == 1:
        pixels, rss = next(iter(largest.items()))
        return rss * case.pixels / pixels
    slope, intercept = np.polyfit(list(largest), list(largest.values()), 1)
    slope = max(float(slope), 0.0)
    if slope == 0.0:
        intercept = max(largest.values())
    return float(intercept + slope * case.pixels)


def bench_command(framework: str, case: Case, python: str, threads: int) -> List[str]:
    """Command line of one framework's benchmark process for ``case``."""
    command = [python, os.path.join(ROOT, SCRIPTS[framework]), "--config", case.config, "--batch", str(case.batch),
               "--size", str(case.size), "--mode", case.mode, "--steps", str(case.steps), "--warmup",
               str(case.warmup), "--model.decode_head.num_classes", str(case.num_classes)]
    if framework == "mindspore":
        return command + ["--no_macs"]
    if framework == "onnxruntime":
        return command + ["--threads", str(threads)]
    return command + ["--threads", str(threads), "--check_fixtures", ""]


def bench_env(threads: int, isa: Optional[str] = None) -> Dict[str, str]:
    """Environment of the benchmark processes: the thread count, oneDNN capped at ``isa`` (None: AVX2 unless
    set otherwise, as ``scripts/env.sh`` does; ``ALL``: no cap), the project on the path."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if isa is not None:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    env.setdefault("ONEDNN_MAX_CPU_ISA", CAPPED_ISA)
    env.setdefault("GLOG_v", "3")
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def last_line(text: str) -> str:
    """Last non-empty line of ``text``, or ''."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def parse_output(returncode: int, stdout: str, stderr: str, mode: str) -> Dict[str, Any]:
    """Record of a finished process: ``ok`` with the parsed JSON, or ``failed`` with a one-line reason."""
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        hint = " (out of memory?)" if -returncode == signal.SIGKILL else ""
        return {"status": "failed", "reason": f"killed by {name}{hint}"}
    if returncode != 0:
        return {"status": "failed", "reason": f"exit {returncode}: {last_line(stderr)[:300] or 'no message on stderr'}"}
    try:
        result = json.loads(last_line(stdout) or "null")
    except ValueError:
        result = None
    if not isinstance(result, dict) or mode not in result:
        return {"status": "failed", "reason": f"no JSON last line with '{mode}' on stdout: {last_line(stdout)[:200]!r}"}
    return {"status": "ok", "result": result}


def run_process(command: List[str], env: Dict[str, str], timeout_s: float, mode: str) -> Dict[str, Any]:
    """Run one benchmark process; its record with the wall time and the 1-minute load average before it."""
    load = round(os.getloadavg()[0], 2)
    start = datetime.datetime.now(datetime.timezone.utc)
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
        record = parse_output(done.returncode, done.stdout, done.stderr, mode)
    except subprocess.TimeoutExpired:
        record = {"status": "failed", "reason": f"timed out after {timeout_s:g} s"}
    except OSError as err:
        record = {"status": "failed", "reason": f"cannot start {command[0]}: {err}"}
    wall = (datetime.datetime.now(datetime.timezone.utc) - start).total_seconds()
    return {**record, "wall_s": round(wall, 1), "load_before": load}


def describe(record: Dict[str, Any], mode: str) -> str:
    """One progress line of a framework's record."""
    if record["status"] != "ok":
        return record["reason"]
    timing = record["result"][mode]
    return f"{timing['step_median_s']} s/step, {timing['peak_rss_gb']} GB, {record['wall_s']} s in all"


def utc_now() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def machine_info() -> Dict[str, Any]:
    """CPU model, logical cores and RAM of this machine (Linux /proc; None where unknown)."""
    def first_value(path: str, key: str) -> Optional[str]:
        try:
            with open(path, encoding="utf-8") as file:
                for line in file:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return None
    memory = first_value("/proc/meminfo", "MemTotal")
    flags = (first_value("/proc/cpuinfo", "flags") or "").split()
    return {"cpu": first_value("/proc/cpuinfo", "model name"), "cores": os.cpu_count(),
            "ram_gib": round(int(memory.split()[0]) / 2 ** 20, 1) if memory else None,
            "avx512": "avx512f" in flags if flags else None}


def run_suite(args: argparse.Namespace, cases: List[Case], data: Dict[str, Any]) -> None:
    """Run every case (its frameworks one after the other), saving the results after each one."""
    run_id = utc_now()
    env = bench_env(args.threads)
    run = {**machine_info(), "started_utc": run_id, "load_before": round(os.getloadavg()[0], 2),
           "argv": sys.argv[1:], "onednn_max_cpu_isa": env["ONEDNN_MAX_CPU_ISA"]}
    data["runs"][run_id] = run
    pythons = {"mindspore": args.ms_python, "pytorch": args.torch_python, "onnxruntime": args.ms_python}
    for index, case in enumerate(cases, 1):
        if args.resume and is_done(data["cases"].get(case.key), case, args.threads):
            print(f"[compare] {index}/{len(cases)} {case.label}: already measured", file=sys.stderr)
            continue
        entry: Dict[str, Any] = {"case": case_settings(case, args.threads), "run": run_id}
        env = bench_env(args.threads, case.isa)
        stored = data["cases"].get(case.key, {})
        for framework in case.frameworks:
            if args.frameworks and framework not in args.frameworks:
                if stored.get("case") == entry["case"] and framework in stored:
                    entry[framework] = stored[framework]
                continue
            estimate = estimate_rss_gb(data["cases"], case, framework)
            if estimate is not None and estimate > args.max_rss_gb:
                entry[framework] = {"status": "skipped",
                                    "reason": f"skipped: estimated {estimate:.1f} GB > {args.max_rss_gb:g} GB"}
            else:
                command = bench_command(framework, case, pythons[framework], args.threads)
                entry[framework] = run_process(command, env, args.timeout_s, case.mode)
            print(f"[compare] {index}/{len(cases)} {case.label}, {FRAMEWORK_NAMES[framework]}: "
                  f"{describe(entry[framework], case.mode)}", file=sys.stderr, flush=True)
        data["cases"][case.key] = entry
        run.update(finished_utc=utc_now(), load_after=round(os.getloadavg()[0], 2))
        save_results(args.results, data)
    drop_unused_runs(data)
    save_results(args.results, data)


def drop_unused_runs(data: Dict[str, Any]) -> None:
    """Forget the runs no stored case refers to any more."""
    used = {entry["run"] for entry in data["cases"].values()}
    data["runs"] = {run_id: run for run_id, run in data["runs"].items() if run_id in used}


def ratio(numerator: Optional[float], denominator: Optional[float]) -> str:
    """``1.23x``, or an empty cell when a side is missing."""
    return f"{numerator / denominator:.2f}x" if numerator is not None and denominator else ""


def timings(entry: Dict[str, Any]) -> Dict[str, Optional[Dict[str, float]]]:
    """Per framework the stored mode's timing dict, or None when that run failed, was skipped or not run."""
    mode = entry["case"]["mode"]
    return {fw: entry[fw]["result"][mode] if entry.get(fw, {}).get("status") == "ok" else None for fw in FRAMEWORKS}


def status(entry: Dict[str, Any], framework: str) -> str:
    """``ok``, ``failed``, ``skipped`` or ``not run``."""
    return entry.get(framework, {}).get("status", "not run")


def timing_cell(entry: Dict[str, Any], timing: Dict[str, Any], framework: str, key: str) -> str:
    """A table cell: the framework's measured ``key``, or its status when it has no result."""
    return status(entry, framework) if timing[framework] is None else f"{timing[framework][key]}"


def table_row(entry: Dict[str, Any]) -> str:
    """One markdown table row of a stored entry (``failed``/``skipped`` in the cells of a missing run)."""
    timing = timings(entry)

    def cell(framework: str, key: str) -> str:
        return timing_cell(entry, timing, framework, key)

    def both(key: str) -> str:
        ms, pt = (None if timing[fw] is None else timing[fw][key] for fw in SIDE_BY_SIDE)
        return ratio(ms, pt)
    case = entry["case"]
    return (f"| {case['label']} ({case['steps']}) | {cell('mindspore', 'step_median_s')} | "
            f"{cell('pytorch', 'step_median_s')} | {both('step_median_s')} | {cell('mindspore', 'peak_rss_gb')} | "
            f"{cell('pytorch', 'peak_rss_gb')} | {both('peak_rss_gb')} | {cell('mindspore', 'compile_s')} |")


def table(entries: List[Dict[str, Any]]) -> List[str]:
    """Markdown table of stored entries, then one line per failed or skipped run."""
    rows = ["| case (steps) | MS median step s | PT median step s | MS / PT time | MS peak RSS GB | PT peak RSS GB "
            "| MS / PT RSS | MS compile s |", "|---|---|---|---|---|---|---|---|"]
    rows += [table_row(entry) for entry in entries]
    return rows + problem_notes(entries)


def problem_notes(entries: List[Dict[str, Any]]) -> List[str]:
    """A blank line and one line per failed or skipped run of ``entries`` (nothing when all ran)."""
    notes = [f"- {entry['case']['label']}, {FRAMEWORK_NAMES[fw]}: {entry[fw]['reason']}"
             for entry in entries for fw in FRAMEWORKS if status(entry, fw) in ("failed", "skipped")]
    return [""] + notes if notes else []


def deploy_row(entry: Dict[str, Any]) -> str:
    """One row of the deployment table: ONNX Runtime, MindSpore and PyTorch time and memory, ratios to PyTorch."""
    timing = timings(entry)

    def to_pytorch(framework: str, key: str) -> str:
        values = [None if timing[fw] is None else timing[fw][key] for fw in (framework, "pytorch")]
        return ratio(values[0], values[1])
    case = entry["case"]
    cells = [f"{case['label']} ({case['steps']})"]
    for key in ("step_median_s", "peak_rss_gb"):
        cells += [timing_cell(entry, timing, fw, key) for fw in ("onnxruntime", "mindspore", "pytorch")]
        cells += [to_pytorch("onnxruntime", key), to_pytorch("mindspore", key)]
    return "| " + " | ".join(cells) + " |"


def deploy_table(entries: List[Dict[str, Any]]) -> List[str]:
    """Markdown table of the deployment cases, then one line per failed or skipped run."""
    rows = ["| case (steps) | ORT step s | MS step s | PT step s | ORT / PT time | MS / PT time | ORT peak RSS GB "
            "| MS peak RSS GB | PT peak RSS GB | ORT / PT RSS | MS / PT RSS |", "|" + "---|" * 11]
    return rows + [deploy_row(entry) for entry in entries] + problem_notes(entries)


def versions(entries: Iterable[Dict[str, Any]]) -> Dict[str, str]:
    """MindSpore, PyTorch and ONNX Runtime versions named in the stored results."""
    found: Dict[str, str] = {}
    for entry in entries:
        for framework, key in (("mindspore", "mindspore_version"), ("pytorch", "torch_version"),
                               ("onnxruntime", "onnxruntime_version")):
            result = entry.get(framework, {}).get("result", {})
            if key in result:
                found[framework] = result[key]
    return found


def machine_lines(data: Dict[str, Any]) -> List[str]:
    """Where and when the stored cases were measured."""
    entries = list(data["cases"].values())
    runs = [data["runs"][run_id] for run_id in sorted({entry["run"] for entry in entries}) if run_id in data["runs"]]
    last = runs[-1] if runs else machine_info()
    found = versions(entries)
    software = ", ".join(f"{FRAMEWORK_NAMES[fw]} {found[fw]}" for fw in FRAMEWORKS if fw in found)
    threads = sorted({entry["case"]["threads"] for entry in entries})
    isa = sorted({run.get("onednn_max_cpu_isa", "?") for run in runs})
    avx512 = {True: "yes", False: "no"}.get(last.get("avx512"), "not recorded")
    lines = [f"Machine: {last.get('cpu')}, AVX-512: {avx512}, {last.get('cores')} logical cores, "
             f"{last.get('ram_gib')} GiB RAM; {software or 'versions not recorded'}; "
             f"OMP_NUM_THREADS={'/'.join(map(str, threads))} and ONEDNN_MAX_CPU_ISA={'/'.join(isa)} for MindSpore and "
             f"PyTorch unless a case says otherwise (PyTorch `--threads` and ONNX Runtime's intra-op threads the "
             f"same), one mode per process, the frameworks of a case run one after the other. Times are median "
             f"steps, memory is peak RSS, ratios use the medians.", ""]
    for run in runs:
        start, end = (run.get(key, "?").replace("T", " ").rstrip("Z") for key in ("started_utc", "finished_utc"))
        lines.append(f"- run {start} to {end} UTC, 1-minute load average {run.get('load_before')} before and "
                     f"{run.get('load_after', '?')} after")
    return lines


def report_markdown(data: Dict[str, Any], deploy_only: bool = False) -> str:
    """The text between the README markers: machine and run lines, one table per suite with results
    (``deploy_only``: the deployment table alone)."""
    if not data["cases"]:
        return NOT_YET_RUN
    parts = machine_lines(data)
    titles = {"headline": "Headline cases", "scaling": "Scaling (one axis at a time around batch 1, 512², K 150)",
              "tiny": "Tiny demo cases (a check of the tool, not a measurement of ECENet)"}
    for suite, title in ({} if deploy_only else titles).items():
        entries = [data["cases"][case.key] for case in suite_cases(suite) if case.key in data["cases"]]
        if entries:
            parts += ["", f"**{title}**", ""] + table(entries)
    deploy = [data["cases"][case.key] for case in suite_cases("deploy")
              if status(data["cases"].get(case.key, {}), "onnxruntime") != "not run"]
    if deploy:
        parts += ["", "**Deployment: ONNX Runtime beside MindSpore and PyTorch (inference; ORT = ONNX Runtime, "
                      "MS = MindSpore, PT = PyTorch)**", ""] + deploy_table(deploy)
    return "\n".join(parts)


def markers(region: str) -> Tuple[str, str]:
    """The begin and end lines of a README region, e.g. ``<!-- compare:begin -->``."""
    return f"<!-- {region}:begin -->", f"<!-- {region}:end -->"


def rewrite_readme(path: str, body: str, region: str = "compare") -> None:
    """Replace the text between the markers of ``region`` in ``path`` with ``body`` (rest of the file unchanged)."""
    begin, end = markers(region)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as err:
        raise SystemExit(f"error: --readme {path}: {err}") from err
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise SystemExit(f"error: --readme {path}: needs one '{begin}' line followed by one '{end}' line")
    head, rest = text.split(begin)
    tail = rest.split(end)[1]
    write_atomic(path, f"{head}{begin}\n{body.strip()}\n{end}{tail}")


def grid_points(data: Dict[str, Any], grid: Grid, axis: str, framework: str, mode: str) -> Tuple[List[int], ...]:
    """(axis values, median step seconds, peak RSS GB) of the measured points of one line of the plot."""
    xs, times, memory = [], [], []
    for value in dict(grid.axes)[axis]:
        point = grid.point(axis, value)
        key = Case(grid.config, mode, point["batch"], point["size"], point["num_classes"], 1, 0).key
        entry = data["cases"].get(key)
        if entry and entry.get(framework, {}).get("status") == "ok":
            timing = entry[framework]["result"][mode]
            xs.append(value)
            times.append(timing["step_median_s"])
            memory.append(timing["peak_rss_gb"])
    return xs, times, memory


def plot_grid(data: Dict[str, Any], grid: Grid, path: str) -> None:
    """PNG: rows median step time and peak RSS; columns batch, size, classes; a line per framework and mode."""
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        raise SystemExit(f"error: --plot {path}: matplotlib is not installed for {sys.executable} "
                         "(benchmarks/requirements.txt)") from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    from matplotlib import ticker  # pylint: disable=import-outside-toplevel
    fig, axes = plt.subplots(2, len(grid.axes), figsize=(5 * len(grid.axes), 8), squeeze=False)
    styles = {"mindspore": ("tab:red", "o"), "pytorch": ("tab:blue", "s"), "onnxruntime": ("tab:green", "^")}
    for col, (axis, values) in enumerate(grid.axes):
        for mode in MODES:
            for framework in FRAMEWORKS:
                xs, times, memory = grid_points(data, grid, axis, framework, mode)
                if not xs:
                    continue
                color, marker = styles[framework]
                style = {"color": color, "marker": marker, "linestyle": "-" if mode == "train" else "--",
                         "label": f"{FRAMEWORK_NAMES[framework]} {mode}"}
                axes[0][col].plot(xs, times, **style)
                axes[1][col].plot(xs, memory, **style)
        for row, ylabel in enumerate(("median step time (s, log scale)", "peak RSS (GB)")):
            axes[row][col].set_xticks(values)
            axes[row][col].set_xlabel(AXIS_TITLES[axis])
            axes[row][col].set_ylabel(ylabel)
            axes[row][col].grid(True, alpha=0.3)
        axes[0][col].set_yscale("log")
        axes[0][col].yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axes[0][col].yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axes[0][col].yaxis.set_minor_formatter(ticker.NullFormatter())
        axes[1][col].set_ylim(bottom=0)
    base = ", ".join(f"{AXIS_TITLES[k].split(' (')[0]} {v}" for k, v in grid.base)
    name = MODEL_NAMES.get(grid.config, grid.config)
    fig.suptitle(f"{name} + ECENet head on CPU: one axis at a time around {base}")
    axes[0][0].legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def plotted_grid(data: Dict[str, Any]) -> Optional[Grid]:
    """The scaling grid when any of its cases was measured, else the tiny one, else None."""
    for grid in (SCALING, TINY):
        if any(case.key in data["cases"] for case in grid.cases({"eval": 1, "train": 1}, 0)):
            return grid
    return None


def problems(data: Dict[str, Any], cases: List[Case]) -> Tuple[List[str], List[str]]:
    """(failed, skipped) runs among ``cases``: ``label / Framework: reason``."""
    found: Dict[str, List[str]] = {"failed": [], "skipped": []}
    for case in cases:
        entry = data["cases"].get(case.key, {})
        for framework in case.frameworks:
            record = entry.get(framework, {})
            if record.get("status") in found:
                found[record["status"]].append(f"{case.label} / {FRAMEWORK_NAMES[framework]}: {record['reason']}")
    return found["failed"], found["skipped"]


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that the benchmark process running then is killed with this one."""
    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(f"error: stopped by signal {signum}; the cases measured before are in --results")
    signal.signal(signal.SIGTERM, handler)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the selected cases (unless ``--report_only``), rewrite the tables and the plot, print JSON last."""
    args = parse_args(argv)
    data = load_results(args.results)
    if args.report_only:
        cases = unique(case for suite in ("all", "deploy", "tiny") for case in suite_cases(suite)
                       if case.key in data["cases"])
    else:
        cases = suite_cases(args.suite, args.steps_eval, args.steps_train, args.warmup)
        if args.isa is not None:
            cases = [case for case in cases if case.isa == args.isa]
        if args.only is not None:
            cases = [case for case in cases if args.only in case.label]
            if not cases:
                raise SystemExit(f"error: --only {args.only!r} matches no case of the suite {args.suite}")
        stop_on_sigterm()
        run_suite(args, cases, data)
    rewrite_readme(args.readme, report_markdown(data, deploy_only=args.region != "compare"), args.region)
    grid = plotted_grid(data) if args.region == "compare" else None  # the scaling plot is of compare.json
    if grid is not None:
        plot_grid(data, grid, args.plot)
    failed, skipped = problems(data, cases)
    print(json.dumps({"results": args.results, "plot": args.plot if grid is not None else None,
                      "cases": len(cases), "failed": failed, "skipped": skipped}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
