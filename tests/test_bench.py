"""The bench command: a quick CPU run writes valid JSON with every expected entry and a passing agreement check;
target evaluation and JSON writing on their own; a CUDA run where a GPU exists. No timing assertions."""

import json
import math

import pytest
import torch

from lolisr_lib.bench import BenchOptions, evaluate_targets, write_json
from lolisr_lib.bench.modes import Mode, image_agreement
from lolisr_lib.commands.cli import main
from lolisr_lib.errors import UserError
from lolisr_lib.runtime import fastpath, hostmem

MODE_KEYS = {"seconds", "cpu_seconds", "seconds_all", "achieved_tflops", "percent_of_peak"}


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    status = main(["bench", "--preset", "tiny-x2", "--device", "cpu", "--quick", "--json", str(out)])
    return status, json.loads(out.read_text())


def test_quick_bench_exits_zero_and_writes_the_documented_entries(quick_result):
    status, result = quick_result
    assert status == 0
    assert result["schema"] == "lolisr-bench-v1"
    assert {"options", "environment", "model", "modes", "training", "inference", "tiling", "targets",
            "agreement_passed", "peak_tflops"} <= set(result)
    assert set(result["modes"]) == {"reference", "fast"}
    assert result["modes"]["reference"] == {"dtype": "float32", "channels_last": False, "weight_cache": False,
                                            "compile": "not used (reference mode is eager)"}
    fast = result["modes"]["fast"]
    assert fast["channels_last"] and fast["weight_cache"]
    assert fast["dtype"] == ("bf16" if fastpath.native_bf16(torch.device("cpu")) else "float32")
    assert result["environment"]["host_memory_kept"] == hostmem.supported()
    assert not hostmem.is_kept()  # restored after the run
    assert result["modes"]["fast"]["compile"].startswith("not used")  # --compile auto stays off on CPU
    assert result["model"]["enhance_per_hr_pixel"] > 0 and result["model"]["training_step_per_hr_pixel"] > 0


def test_quick_bench_measures_training_and_every_inference_case(quick_result):
    _, result = quick_result
    training = result["training"]
    for mode in ("reference", "fast"):
        assert MODE_KEYS | {"steps_per_s", "hr_mpix_per_s"} <= set(training[mode])
        assert training[mode]["percent_of_peak"] is None  # no known peak for a CPU
    cases = [(row["lr_size"], row["tile"]) for row in result["inference"]]
    assert cases == [(24, None), (40, None), (40, 32)]  # the largest size also tiled
    for row in result["inference"]:
        assert row["hr_size"] == 2 * row["lr_size"]
        for mode in ("reference", "fast"):
            assert MODE_KEYS | {"seconds_per_hr_mpix", "peak_memory_mb", "first_call_seconds"} <= set(row[mode])
            assert row[mode]["peak_memory_mb"] > 0  # the profiler's memory events were read
    assert result["inference"][-1]["tiles"] == 4


def test_quick_bench_agreement_is_computed_and_passes(quick_result):
    _, result = quick_result
    assert result["agreement_passed"] is True
    assert result["training"]["agreement"]["passed"]
    for row in result["inference"]:
        agreement = row["agreement"]
        if result["modes"]["fast"]["dtype"] == "float32":  # a CPU without native bf16
            assert agreement["criterion"] == "max |diff| < 0.0001"
            assert 0 <= agreement["max_abs_diff"] < 1e-4
        else:  # AVX-512 BF16 or AMX: bf16 autocast, as on a GPU
            assert agreement["criterion"] == "PSNR > 40 dB"
            assert agreement["psnr_db"] is None or agreement["psnr_db"] > 40


def test_quick_bench_reports_cpu_target_as_not_measured_for_other_sizes(quick_result):
    _, result = quick_result
    assert [t["met"] for t in result["targets"]] == [None, None, None]  # no 256 run, no H200


def _result(device, device_name, preset, inference, speedup=1.0):
    return {"environment": {"device": device, "device_name": device_name}, "model": {"preset": preset},
            "training": {"speedup": speedup}, "inference": inference}


def _row(size, tile, seconds):
    return {"lr_size": size, "tile": tile, "fast": {"seconds": seconds}}


@pytest.mark.parametrize("seconds, met", [(1.5, True), (2.5, False)])
def test_cpu_target_uses_the_untiled_256_run(seconds, met):
    result = _result("cpu", "AMD EPYC", "tiny-x4", [_row(256, 128, 0.1), _row(256, None, seconds)])
    targets = evaluate_targets(result)
    assert [t["met"] for t in targets] == [None, None, met]
    assert targets[2]["measured"] == seconds


def test_h200_targets_are_evaluated_for_the_paper_preset():
    result = _result("cuda:0", "NVIDIA H200", "paper-x4", [_row(625, None, 0.8)], speedup=1.7)
    assert [t["met"] for t in evaluate_targets(result)] == [False, True, None]


def test_write_json_is_strict_and_leaves_no_temporary_file(tmp_path):
    path = write_json({"a": math.inf, "b": [1.0, math.nan], "c": "x"}, tmp_path / "sub" / "r.json")
    assert json.loads(path.read_text()) == {"a": None, "b": [1.0, None], "c": "x"}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_bf16_agreement_criterion_is_psnr_and_float32_is_max_diff():
    reference = torch.full((1, 3, 8, 8), 0.5)
    close = reference + 1e-3  # PSNR 60 dB, max diff 1e-3
    bf16 = Mode("fast", True, True, bf16=True, compile=False, compile_note="")
    fp32 = Mode("fast", True, True, bf16=False, compile=False, compile_note="")
    assert image_agreement(reference, close, bf16)["passed"]
    assert not image_agreement(reference, close, fp32)["passed"]
    assert image_agreement(reference, reference.clone(), bf16)["psnr_db"] is None  # identical


@pytest.mark.parametrize("field, value", [("repeats", 0), ("tile", 12), ("sizes", (4,))])
def test_bad_options_are_user_errors(field, value):
    with pytest.raises(UserError):
        BenchOptions(preset="tiny-x2", **{field: value}).resolved()


@pytest.mark.parametrize("flag, value", [("--bf16", "off"), ("--host-memory", "off")])
def test_fast_mode_levers_can_be_switched_off(tmp_path, flag, value):
    out = tmp_path / "off.json"
    assert main(["bench", "--preset", "tiny-x1", "--device", "cpu", "--quick", "--repeats", "1", flag, value, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    if flag == "--bf16":
        assert result["modes"]["fast"]["dtype"] == "float32"
    else:
        assert result["environment"]["host_memory_kept"] is False


def test_bench_without_preset_is_a_one_line_error(capsys):
    assert main(["bench", "--device", "cpu"]) == 2
    assert "--preset" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_quick_bench_on_cuda_uses_bf16_and_agrees(tmp_path):
    out = tmp_path / "cuda.json"
    status = main(["bench", "--preset", "tiny-x2", "--device", "cuda", "--quick", "--compile", "off",
                   "--json", str(out)])
    result = json.loads(out.read_text())
    assert status == 0 and result["agreement_passed"]
    assert result["modes"]["fast"]["dtype"] == "bf16"
    assert all(row["agreement"]["criterion"].startswith("PSNR") for row in result["inference"])
    assert all(row["fast"]["peak_memory_mb"] > 0 for row in result["inference"])


def test_fast_mode_ablation_script_prints_every_variant():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fast_mode_ablation.py"
    done = subprocess.run([sys.executable, str(script), "--preset", "tiny-x1", "--size", "16", "--repeats", "1",
                           "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert rows[0].startswith("| reference |") and "1.00x" in rows[0]
    expected = 2 + fastpath.native_bf16(torch.device("cpu"))
    assert len(rows) == expected, done.stdout


def test_float32_mode_keeps_tf32_off_in_its_backward_on_cuda():
    """cuDNN allows TF32 by default, so a reference step whose backward ran outside the strict context timed
    TF32 weight gradients (seen in the H200 profile): the backward context switches it off, and back after."""
    reference = Mode("reference", channels_last=False, weight_cache=False, bf16=False, compile=False,
                     compile_note="")
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    with reference.backward_context(torch.device("cuda")):
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == before
    fast = Mode("fast", channels_last=True, weight_cache=True, bf16=True, compile=False, compile_note="")
    with fast.backward_context(torch.device("cuda")), reference.backward_context(torch.device("cpu")):
        assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == before


def test_profile_script_reports_both_modes(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "profile_training_step.py"
    out = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, script, "--preset", "tiny-x1", "--device", "cpu", "--batch-size", "1",
                           "--patch-size", "16", "--repeats", "1", "--profiled", "1", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert set(result["modes"]) == {"reference", "fast"}
    for figures in result["modes"].values():
        assert figures["wall_seconds_per_step"] > 0 and figures["top"]
        assert figures["top_by"] == "self_cpu_time_total" and figures["kernel_seconds_per_step"] is None
