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
"""benchmarks/compare.py without any framework: case lists, memory skip, results file, README rewrite.

The benchmark processes are replaced by tiny scripts that print what the real ones print.
"""
import json
import os
import shutil
import signal
import sys

import pytest

from conftest import ROOT
from benchmarks import compare
from benchmarks.compare import BEGIN, END, SWIN_B, SWIN_T, Case

FAKE_BENCH = f"""#!{sys.executable}
# Prints the JSON last line of bench_model.py / bench_torch_reference.py: peak RSS = batch GB.
import json, os, sys
args = sys.argv[2:]
value = {{k[2:]: v for k, v in zip(args[::2], args[1::2])}}
with open(os.environ["FAKE_BENCH_LOG"], "a") as log:
    log.write(os.path.basename(sys.argv[0]) + " " + os.path.basename(sys.argv[1]) + " " + " ".join(args)
              + " ISA=" + os.environ["ONEDNN_MAX_CPU_ISA"] + " OMP=" + os.environ["OMP_NUM_THREADS"] + "\\n")
if value["batch"] == "{{fail_batch}}":
    sys.exit("RuntimeError: out of kernels")
timing = {{"step_median_s": 0.5 * int(value["batch"]), "peak_rss_gb": float(value["batch"]), "compile_s": 9.0}}
print("log line")
print(json.dumps({{value["mode"]: timing, "torch_version": "9.9"}}))
"""


def fake_python(tmp_path, name: str, fail_batch: int = 0) -> str:
    """An executable standing in for a Python interpreter running one of the benchmarks."""
    path = tmp_path / name
    path.write_text(FAKE_BENCH.replace("{fail_batch}", str(fail_batch)))
    path.chmod(0o755)
    return str(path)


@pytest.fixture(name="fake")
def fake_fixture(tmp_path, monkeypatch):
    """Options for compare.py with both interpreters faked, results and README in ``tmp_path``."""
    log = tmp_path / "calls.log"
    log.write_text("")
    monkeypatch.setenv("FAKE_BENCH_LOG", str(log))
    readme = tmp_path / "README.md"
    shutil.copy(os.path.join(ROOT, "benchmarks", "README.md"), readme)
    argv = ["--ms_python", fake_python(tmp_path, "ms_python"), "--torch_python", fake_python(tmp_path, "pt_python"),
            "--results", str(tmp_path / "results" / "compare.json"), "--readme", str(readme),
            "--plot", str(tmp_path / "scaling.png")]
    return {"argv": argv, "log": log, "results": tmp_path / "results" / "compare.json", "readme": readme}


def calls(log) -> list:
    """Lines the fake interpreters logged (``ms_python|pt_python`` and their arguments)."""
    return log.read_text().splitlines()


def test_suites_run_each_case_once_and_share_the_headline_cases():
    headline, scaling, everything = (compare.suite_cases(s) for s in ("headline", "scaling", "all"))
    assert len(headline) == 4
    # per mode: batch 1/2/4, side 256/640 and classes 19/59 around the base point (batch 1, 512, K 150)
    assert len(scaling) == 14
    assert len({c.key for c in everything}) == len(everything) == 15  # only Swin-B's case is not in scaling
    assert {c.key for c in everything} == {c.key for c in headline + scaling}
    assert Case(SWIN_T, "train", 2, 512, 150, 2, 1) in everything
    assert Case(SWIN_B, "eval", 1, 640, 150, 3, 1) in headline
    assert [c.steps for c in everything if c.mode == "train"] == [2] * 7
    # training runs cheapest first, so the memory estimate of batch 4 has batch 1 and 2 to go by
    train = [c for c in scaling if c.mode == "train"]
    assert [c.pixels for c in train] == sorted(c.pixels for c in train)
    tiny = compare.suite_cases("tiny", 5, 5, 3)
    assert len(tiny) == 8 and {(c.steps, c.warmup) for c in tiny} == {(1, 0)}


def stored(case: Case, rss: dict, threads: int = 2) -> dict:
    """A results entry for ``case`` with the given peak RSS per framework (None: the run failed)."""
    entry = {"case": compare.case_settings(case, threads), "run": "r"}
    for framework, value in rss.items():
        entry[framework] = ({"status": "failed", "reason": "exit 1: x"} if value is None else
                            {"status": "ok", "result": {case.mode: {"peak_rss_gb": value, "step_median_s": 1.0,
                                                                     "compile_s": 2.0}}})
    return entry


def test_memory_estimate_is_linear_in_batch_times_pixels_per_framework_and_mode():
    b1, b2, b4 = (Case(SWIN_T, "train", b, 512, 150, 2, 1) for b in (1, 2, 4))
    cases = {b1.key: stored(b1, {"mindspore": 7.0, "pytorch": 4.5}), b2.key: stored(b2, {"mindspore": 11.0,
                                                                                         "pytorch": None})}
    assert compare.estimate_rss_gb(cases, b4, "mindspore") == pytest.approx(19.0)  # 3 + 4 GB per image
    assert compare.estimate_rss_gb(cases, b4, "pytorch") == pytest.approx(18.0)   # one point: proportional
    assert compare.estimate_rss_gb(cases, Case(SWIN_T, "eval", 4, 512, 150, 3, 1), "mindspore") is None
    assert compare.estimate_rss_gb(cases, Case(SWIN_B, "train", 4, 512, 150, 2, 1), "mindspore") is None


def test_a_run_over_the_memory_limit_is_skipped_and_a_failure_recorded(fake):
    small, big = Case(SWIN_T, "train", 1, 64, 5, 1, 0), Case(SWIN_T, "train", 8, 64, 5, 1, 0)
    args = compare.parse_args(fake["argv"] + ["--max_rss_gb", "4"])
    data = compare.empty_results()
    compare.run_suite(args, [small, big], data)
    entry = data["cases"][big.key]
    assert entry["mindspore"] == {"status": "skipped", "reason": "skipped: estimated 8.0 GB > 4 GB"}
    assert entry["pytorch"]["status"] == "skipped"
    assert len(calls(fake["log"])) == 2  # the batch 1 case of both frameworks, nothing of batch 8

    args.ms_python = fake_python(fake["log"].parent, "ms_failing", fail_batch=1)
    compare.run_suite(args, [small], data)
    record = data["cases"][small.key]
    assert record["mindspore"]["status"] == "failed"
    assert record["mindspore"]["reason"] == "exit 1: RuntimeError: out of kernels"
    assert record["pytorch"]["status"] == "ok" and record["pytorch"]["result"]["train"]["peak_rss_gb"] == 1.0


def test_process_outcomes_become_one_line_reasons():
    ok = compare.parse_output(0, 'noise\n{"eval": {"step_median_s": 1}}\n', "", "eval")
    assert ok == {"status": "ok", "result": {"eval": {"step_median_s": 1}}}
    assert compare.parse_output(-signal.SIGKILL, "", "", "eval")["reason"] == "killed by SIGKILL (out of memory?)"
    assert compare.parse_output(2, "", "a\nValueError: bad\n\n", "eval")["reason"] == "exit 2: ValueError: bad"
    assert compare.parse_output(0, '{"train": {}}\n', "", "eval")["status"] == "failed"
    assert compare.parse_output(0, "not json\n", "", "eval")["status"] == "failed"


def test_results_are_saved_after_every_case_and_resume_skips_measured_ones(fake, monkeypatch):
    cases = compare.suite_cases("tiny")[:3]
    args = compare.parse_args(fake["argv"])
    real_run_process = compare.run_process

    def interrupted_on_the_third_case(command, env, timeout_s, mode):
        if "--batch" in command and command[command.index("--batch") + 1] == str(cases[2].batch) \
                and command[command.index("--size") + 1] == str(cases[2].size):
            raise KeyboardInterrupt
        return real_run_process(command, env, timeout_s, mode)
    monkeypatch.setattr(compare, "run_process", interrupted_on_the_third_case)
    with pytest.raises(KeyboardInterrupt):
        compare.run_suite(args, cases, compare.load_results(args.results))
    saved = compare.load_results(args.results)
    assert sorted(saved["cases"]) == sorted(c.key for c in cases[:2])
    assert os.listdir(fake["results"].parent) == ["compare.json"]  # no temporary file left behind
    monkeypatch.setattr(compare, "run_process", real_run_process)

    fake["log"].write_text("")
    args = compare.parse_args(fake["argv"] + ["--resume"])
    compare.run_suite(args, cases, compare.load_results(args.results))
    assert len(calls(fake["log"])) == 2  # only the third case ran, once per framework
    assert sorted(compare.load_results(args.results)["cases"]) == sorted(c.key for c in cases)

    fake["log"].write_text("")
    args = compare.parse_args(fake["argv"] + ["--resume", "--threads", "1"])  # other settings: measured again
    compare.run_suite(args, cases, compare.load_results(args.results))
    assert len(calls(fake["log"])) == 6
    assert all(line.endswith("OMP=1") for line in calls(fake["log"]))
    assert all("--threads 1" in line for line in calls(fake["log"]) if line.startswith("pt_python"))


def test_a_write_that_fails_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "compare.json"
    compare.write_atomic(str(path), "old")
    with pytest.raises(UnicodeEncodeError):
        compare.write_atomic(str(path), "new \udc80")  # fails half-way through writing
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["compare.json"]


def test_a_broken_results_file_stops_without_being_overwritten(fake):
    fake["results"].parent.mkdir()
    fake["results"].write_text("{not json")
    with pytest.raises(SystemExit, match="--results .*cannot read it as JSON"):
        compare.main(fake["argv"] + ["--report_only"])
    assert fake["results"].read_text() == "{not json"


def test_readme_table_region_is_rewritten_and_the_rest_kept(fake, capsys, monkeypatch):
    plotted = []
    monkeypatch.setattr(compare, "plot_grid", lambda data, grid, path: plotted.append(grid))
    before = fake["readme"].read_text()
    head, tail = before.split(BEGIN)[0], before.split(END)[1]
    case, failed = Case(SWIN_B, "eval", 1, 640, 150, 3, 1), Case(SWIN_T, "train", 2, 512, 150, 2, 1)
    data = compare.empty_results()
    data["cases"][case.key] = stored(case, {"mindspore": 2.5, "pytorch": 1.25})
    data["cases"][failed.key] = stored(failed, {"mindspore": 3.0, "pytorch": None})
    compare.save_results(str(fake["results"]), data)
    data["cases"].pop(failed.key)
    assert compare.main(fake["argv"] + ["--report_only"]) == 1  # a stored failure
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["failed"] == ["Swin-T train, batch 2, 512², K 150 / PyTorch: exit 1: x"] and result["cases"] == 2
    after = fake["readme"].read_text()
    assert after.startswith(head + BEGIN + "\n") and after.endswith(END + tail)
    assert "| Swin-B eval, batch 1, 640², K 150 (3) | 1.0 | 1.0 | 1.00x | 2.5 | 1.25 | 2.00x | 2.0 |" in after
    assert "| Swin-T train, batch 2, 512², K 150 (2) | 1.0 | failed |  | 3.0 | failed |  | 2.0 |" in after
    assert "- Swin-T train, batch 2, 512², K 150, PyTorch: exit 1: x" in after
    assert "**Headline cases**" in after and "**Scaling" in after  # the training case belongs to both suites
    assert plotted == [compare.SCALING]

    compare.save_results(str(fake["results"]), data)  # Swin-B only: no point of the scaling plot
    assert compare.main(fake["argv"] + ["--report_only"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["plot"] is None
    after = fake["readme"].read_text()
    assert "**Scaling" not in after and plotted == [compare.SCALING]
    compare.main(fake["argv"] + ["--report_only"])
    assert fake["readme"].read_text() == after

    fake["readme"].write_text(head + tail)
    with pytest.raises(SystemExit, match="--readme .*needs one"):
        compare.main(fake["argv"] + ["--report_only"])
    assert fake["readme"].read_text() == head + tail


def test_deploy_suite_runs_onnx_runtime_capped_and_uncapped_and_tables_it(fake, capsys, monkeypatch):
    monkeypatch.setattr(compare, "plot_grid", lambda data, grid, path: None)
    cases = compare.suite_cases("deploy")
    assert [c.mode for c in cases] == ["eval"] * 6 and [c.isa for c in cases] == ["AVX2"] * 3 + ["ALL"] * 3
    headline_eval = {c.key for c in compare.suite_cases("headline") if c.mode == "eval"}
    assert {c.key for c in cases if c.isa == "AVX2"} == headline_eval  # capped rows are the headline cases
    deploy_argv = fake["argv"] + ["--suite", "deploy", "--only", "Swin-B", "--region", "deploy"]
    compare_region = fake["readme"].read_text().split(BEGIN)[1].split(END)[0]
    assert compare.main(deploy_argv) == 0
    lines = calls(fake["log"])
    assert [line.split()[:2] for line in lines] == [["ms_python", "bench_model.py"], ["pt_python",
                                                    "bench_torch_reference.py"], ["ms_python", "bench_onnx.py"]] * 2
    assert [line.split()[-2] for line in lines] == ["ISA=AVX2"] * 3 + ["ISA=ALL"] * 3
    assert all("--threads 2" in line for line in lines if "bench_onnx.py" in line)
    readme = fake["readme"].read_text()
    assert readme.split(BEGIN)[1].split(END)[0] == compare_region  # only the deploy region was rewritten
    readme = readme.split("<!-- deploy:begin -->")[1].split("<!-- deploy:end -->")[0]
    assert "**Deployment: ONNX Runtime beside MindSpore and PyTorch" in readme
    assert ("| Swin-B eval, batch 1, 640², K 150, oneDNN ALL (3) | 0.5 | 0.5 | 0.5 | 1.00x | 1.00x | 1.0 | 1.0 | 1.0 "
            "| 1.00x | 1.00x |") in readme
    assert "AVX-512: " in readme
    capsys.readouterr()
    assert compare.main(deploy_argv + ["--resume"]) == 0
    assert len(calls(fake["log"])) == 6  # all measured: nothing ran again
    assert compare.main(deploy_argv + ["--isa", "ALL"]) == 0
    assert [line.split()[-2] for line in calls(fake["log"])[6:]] == ["ISA=ALL"] * 3
    assert compare.main(deploy_argv + ["--isa", "ALL", "--frameworks", "onnxruntime"]) == 0
    assert [line.split()[1] for line in calls(fake["log"])[9:]] == ["bench_onnx.py"]
    entry = compare.load_results(str(fake["results"]))["cases"][cases[-1].key]
    assert {fw: entry[fw]["status"] for fw in compare.FRAMEWORKS} == dict.fromkeys(compare.FRAMEWORKS, "ok")
