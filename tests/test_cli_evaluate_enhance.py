"""The `evaluate` and `enhance` commands: round trips, and one-line errors with exit status 2."""

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lolisr_lib.baselines import JointCNN
from lolisr_lib.commands.cli import attach_number_lists, build_parser, main, parse
from lolisr_lib.config import BaselineConfig, Config, ModelConfig
from lolisr_lib.image.io import read_rgb8
from lolisr_lib.runtime import fastpath

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data(mini_root):
    return mini_root  # the session's miniature (tests/conftest.py)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    paths = {}
    for scale in (2, 4):
        torch.manual_seed(scale)
        config = Config(model=ModelConfig(arch="joint-cnn", scale=scale, baseline=BaselineConfig(channels=8, blocks=2)))
        paths[scale] = JointCNN(config).save(folder / f"joint-x{scale}.pt")
    truncated = folder / "truncated.pt"
    truncated.write_bytes(paths[2].read_bytes()[:2000])
    paths["truncated"] = truncated
    return paths


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err  # (a progress bar may precede the error line)
    return lines[0]


def save_png(path, array, mode=None):
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


# ------------------------------------------------------------------------------------------------- evaluate
def test_evaluate_baseline_round_trip_as_a_process(data, tmp_path):
    out = tmp_path / "results.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "lolisr_lib", "evaluate", "--baseline", "bicubic", "--data", str(data),
         "--split", "Test", "--scale", "2", "--out", str(out), "--exposures", "-3,-4", "--device", "cpu"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert rows and {r["ev"] for r in rows} == {"-3.0", "-4.0"}
    assert "protocol: A: uint8 RGB" in proc.stdout and str(out) in proc.stdout


@pytest.mark.parametrize("flags", [[], ["--y-channel", "--crop", "8", "--limit", "3"]])
def test_evaluate_checkpoint(data, checkpoints, tmp_path, capsys, flags):
    out = tmp_path / "r.csv"
    argv = ["evaluate", "--checkpoint", str(checkpoints[4]), "--data", str(data), "--split", "Val", "--scale", "4"]
    assert main(argv + ["--out", str(out), "--device", "cpu"] + flags) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == (3 if flags else 20)
    assert "PSNR" in capsys.readouterr().out


def test_unknown_baseline_is_one_line(capsys, data):
    err = one_line_error(capsys, ["evaluate", "--baseline", "nearest", "--data", str(data)])
    assert "unknown baseline 'nearest'" in err and "gain-bicubic" in err


def test_missing_data_folder_is_one_line(capsys, tmp_path):
    err = one_line_error(capsys, ["evaluate", "--baseline", "bicubic", "--data", str(tmp_path / "nowhere")])
    assert "nowhere" in err


def test_checkpoint_of_another_scale_is_one_line(capsys, data, checkpoints):
    argv = ["evaluate", "--checkpoint", str(checkpoints[4]), "--data", str(data), "--scale", "2"]
    err = one_line_error(capsys, argv)
    assert "x4" in err and "x2" in err


@pytest.mark.parametrize("command", ["evaluate", "enhance"])
def test_truncated_checkpoint_is_one_line(capsys, data, checkpoints, tmp_path, command):
    image = save_png(tmp_path / "in.png", np.zeros((8, 8, 3), np.uint8))
    argv = (["evaluate", "--checkpoint", str(checkpoints["truncated"]), "--data", str(data)] if command == "evaluate"
            else ["enhance", "--checkpoint", str(checkpoints["truncated"]), str(image), str(tmp_path / "o.png")])
    assert "truncated or corrupt" in one_line_error(capsys, argv)


def test_crop_larger_than_the_images_is_one_line(capsys, data):
    argv = ["evaluate", "--baseline", "bicubic", "--data", str(data), "--crop", "624"]
    assert "crop=624" in one_line_error(capsys, argv)


def test_bad_exposures_is_one_line(capsys, data):
    assert "--exposures" in one_line_error(capsys, ["evaluate", "--baseline", "bicubic", "--data", str(data),
                                                     "--exposures", "dark"])


@pytest.mark.parametrize(
    "argv, exposures",
    [
        (["--exposures", "-3,-4"], "-3,-4"),
        (["--exposures", "-3, -4.5"], "-3, -4.5"),
        (["--exposures", "-.5,-2"], "-.5,-2"),
        (["--exposures", "-2.5"], "-2.5"),
        (["--exposures=-3,-4"], "-3,-4"),
        (["--exposures", "3,4"], "3,4"),
    ],
)
def test_exposures_take_negative_numbers(argv, exposures):
    args = parse(build_parser(), ["evaluate", "--baseline", "bicubic", *argv, "--limit", "2"])
    assert (args.exposures, args.limit) == (exposures, 2)


def test_only_number_lists_after_an_option_are_attached_to_it():
    assert attach_number_lists(["--exposures", "-3,-4", "--limit", "-3"]) == ["--exposures=-3,-4", "--limit", "-3"]
    assert attach_number_lists(["--", "-3,-4", "--x=1", "-3,-4"]) == ["--", "-3,-4", "--x=1", "-3,-4"]


def test_evaluate_refuses_unknown_arguments(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--baseline", "bicubic", "--lr=1e-3"])
    assert exit_info.value.code == 2 and "unrecognized arguments: --lr=1e-3" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_one_line(capsys, data):
    assert "--device cpu" in one_line_error(capsys, ["evaluate", "--baseline", "bicubic", "--data", str(data),
                                                      "--device", "cuda"])


# -------------------------------------------------------------------------------------------------- enhance
@pytest.mark.parametrize("scale", [2, 4])
def test_enhance_writes_a_png_scale_times_the_input(checkpoints, tmp_path, capsys, scale):
    rng = np.random.default_rng(0)
    src = save_png(tmp_path / "in.png", rng.integers(0, 40, (13, 21, 3), dtype=np.uint8))
    out = tmp_path / "sub" / "out.png"
    assert main(["enhance", "--checkpoint", str(checkpoints[scale]), str(src), str(out), "--device", "cpu"]) == 0
    with Image.open(out) as img:
        assert img.mode == "RGB" and img.size == (21 * scale, 13 * scale)
    assert f"{21 * scale}x{13 * scale}" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["out.png"]  # no temporary file left behind


@pytest.fixture(scope="module")
def flow_checkpoint(tmp_path_factory):
    from lolisr_lib.bench.modes import bench_model
    from lolisr_lib.config import preset

    model = bench_model(preset("tiny-x2"), torch.device("cpu"), seed=0)  # random weights that act trained
    return model.save(tmp_path_factory.mktemp("flow") / "tiny-x2.pt"), model


@pytest.mark.parametrize("bf16", ["off", "auto"])
def test_enhance_fast_path_matches_the_plain_model(flow_checkpoint, tmp_path, capsys, bf16):
    path, model = flow_checkpoint
    rng = np.random.default_rng(1)
    src = save_png(tmp_path / "in.png", rng.integers(0, 60, (24, 32, 3), dtype=np.uint8))
    out = tmp_path / "out.png"
    assert main(["enhance", "--checkpoint", str(path), str(src), str(out), "--device", "cpu", "--bf16", bf16]) == 0
    with torch.no_grad():  # the model as built: NCHW, float32, no fast path
        expected = (model.enhance(read_rgb8(src)[None])[0].clamp(0, 1) * 255).round().permute(1, 2, 0).numpy()
    got = np.asarray(Image.open(out)).astype(np.float64)
    diff = np.abs(got - expected)
    used_bf16 = "(bf16)" in capsys.readouterr().out
    assert used_bf16 == (bf16 == "auto" and fastpath.native_bf16(torch.device("cpu")))
    if used_bf16:  # bf16 networks: a few 8-bit levels at most, rarely any
        assert diff.max() <= 4 and diff.mean() < 0.1, (diff.max(), diff.mean())
    else:  # float32: only rounding ties may flip
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_enhance_reads_jpeg_and_tiles(checkpoints, tmp_path):
    src = tmp_path / "in.jpg"
    Image.fromarray(np.full((40, 24, 3), 30, np.uint8)).save(src, quality=95)
    out = tmp_path / "out.png"
    assert main(["enhance", "--checkpoint", str(checkpoints[2]), str(src), str(out), "--tile", "24"]) == 0
    with Image.open(out) as img:
        assert img.size == (48, 80)


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.zeros((8, 8), np.uint8), "grayscale"),
        (np.zeros((8, 8, 4), np.uint8), "transparency"),
        (np.zeros((8, 8), np.uint16), "16 bits"),
    ],
)
def test_enhance_refuses_images_that_are_not_8bit_rgb(checkpoints, tmp_path, capsys, array, expected):
    src = save_png(tmp_path / "in.png", array)
    err = one_line_error(capsys, ["enhance", "--checkpoint", str(checkpoints[2]), str(src), str(tmp_path / "o.png")])
    assert expected in err and "8-bit RGB" in err


def test_enhance_refuses_16_bit_rgb(checkpoints, tmp_path, capsys):
    src = tmp_path / "in16.png"
    _write_png16(src, np.full((8, 8, 3), 4000, ">u2"))  # Pillow opens it as mode "RGB", like an 8-bit one
    err = one_line_error(capsys, ["enhance", "--checkpoint", str(checkpoints[2]), str(src), str(tmp_path / "o.png")])
    assert "16 bits" in err


def _write_png16(path, arr):
    """A 48-bit RGB PNG by hand (Pillow cannot write one)."""
    import struct
    import zlib

    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)


@pytest.mark.parametrize("problem", ["missing input", "not an image", "output not png", "temperature"])
def test_enhance_user_errors_are_one_line(checkpoints, tmp_path, capsys, problem):
    good = save_png(tmp_path / "in.png", np.zeros((8, 8, 3), np.uint8))
    src, out, extra = good, tmp_path / "o.png", []
    if problem == "missing input":
        src = tmp_path / "absent.png"
    elif problem == "not an image":
        src = tmp_path / "text.png"
        src.write_text("hello")
    elif problem == "output not png":
        out = tmp_path / "o.jpg"
    else:
        extra = ["--temperature", "0.8"]
    err = one_line_error(capsys, ["enhance", "--checkpoint", str(checkpoints[2]), str(src), str(out)] + extra)
    assert {"missing input": "does not exist", "not an image": "not an image", "output not png": ".png",
            "temperature": "temperature"}[problem] in err
    assert not out.exists()


# --------------------------------------------------------------------------------------------------- device
def test_resolve_device():
    from lolisr_lib.errors import UserError
    from lolisr_lib.runtime.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="not understood"):
        resolve_device("tpu")
