"""Broken RELLISUR copies: every bad input gets a DatasetError naming the file, and `data check` reports it."""

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lolisr_lib.commands.cli import main
from lolisr_lib.data import DatasetError, RellisurDataset, check_dataset
from lolisr_lib.data import check as check_module
from lolisr_lib.image.io import read_png

INPUT = "Train/LLLR/00024-2.5.png"  # the first input of the miniature (see mini.plan_scenes)
TARGET = "Train/NLHR/X4/00024.png"


def _png16(path: Path, height: int, width: int) -> None:
    """A valid 16-bit RGB PNG (Pillow cannot write one, and reads it back as 8-bit RGB without a word)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = np.full((height, width * 3), 40000, ">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def _save(path: Path, image: Image.Image, fmt: str = "PNG") -> None:
    image.save(path, format=fmt)


def _rgb(root: Path, rel: str) -> np.ndarray:
    return read_png(root / rel)


def _truncate(root):
    data = (root / INPUT).read_bytes()
    (root / INPUT).write_bytes(data[: len(data) // 2])
    return INPUT, "truncated"


def _corrupt(root):
    data = bytearray((root / TARGET).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (root / TARGET).write_bytes(bytes(data))
    return TARGET, "unreadable or truncated"


def _sixteen_bit(root):
    _png16(root / INPUT, 16, 16)
    return INPUT, "is a 16-bit RGB PNG"


def _gray(root):
    _save(root / INPUT, Image.fromarray(_rgb(root, INPUT)[..., 0]))
    return INPUT, "is an 8-bit grayscale PNG"


def _palette(root):
    _save(root / TARGET, Image.fromarray(_rgb(root, TARGET)).convert("P"))
    return TARGET, "palette (indexed-colour) PNG"


def _translucent(root):
    rgb = _rgb(root, INPUT)
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    alpha[0, 0] = 0
    _save(root / INPUT, Image.fromarray(np.concatenate([rgb, alpha], axis=2)))
    return INPUT, "1 transparent or translucent pixel,"


def _jpeg(root):
    _save(root / INPUT, Image.fromarray(_rgb(root, INPUT)), "JPEG")
    return INPUT, "not a PNG file"


def _empty(root):
    (root / TARGET).write_bytes(b"")
    return TARGET, "empty or truncated (0 bytes)"


def _wrong_size(root):
    _save(root / TARGET, Image.fromarray(_rgb(root, TARGET)[:60, :60]))
    return TARGET, "is 60 x 60 but Train/LLLR/00024-2.5.png is 16 x 16; an x4 target must be exactly 64 x 64"


def _malformed(root):
    (root / INPUT).rename(root / "Train/LLLR/00024_2.5.png")
    return "Train/LLLR/00024_2.5.png", "is not a RELLISUR input name; expected {id}-{ev}.png"


def _missing_target(root):
    (root / TARGET).unlink()
    return TARGET, ("Train/NLHR/X4/00024.png is missing; expected because Train/LLLR/00024-2.5.png exists. "
                    "Is the download complete?")


def _missing_scale(root):
    shutil.rmtree(root / "Train/NLHR/X4")
    return "Train/NLHR/X4/", "is missing; expected because Train/LLLR/ holds 90 inputs"


def _missing_inputs(root):
    shutil.rmtree(root / "Train/LLLR")
    return "Train/LLLR/", "is missing"


def _missing_split(root):
    shutil.rmtree(root / "Train")
    return "Train/", "is missing in"


def _folder_in_inputs(root):
    (root / "Train/LLLR/extra").mkdir()
    return "Train/LLLR/extra", "is not a file"


# (break the copy, raised when the dataset is built or when the item is loaded, seen by the shallow check)
CASES = {
    "truncated input": (_truncate, "load", False),
    "corrupt target": (_corrupt, "load", False),
    "16-bit input": (_sixteen_bit, "load", True),
    "gray input": (_gray, "load", True),
    "palette target": (_palette, "load", True),
    "translucent RGBA input": (_translucent, "load", False),
    "JPEG named .png": (_jpeg, "load", True),
    "empty target": (_empty, "load", True),
    "wrong-size target": (_wrong_size, "load", True),
    "malformed name": (_malformed, "index", True),
    "missing target": (_missing_target, "index", True),
    "missing scale folder": (_missing_scale, "index", True),
    "missing LLLR folder": (_missing_inputs, "index", True),
    "missing split": (_missing_split, "index", True),
    "folder among inputs": (_folder_in_inputs, "index", True),
}


@pytest.fixture
def copy(mini_root, tmp_path) -> Path:
    """A private copy of the session miniature, free to break."""
    return Path(shutil.copytree(mini_root, tmp_path / "RELLISUR-Dataset"))


def _load_item_of(ds: RellisurDataset, rel: str) -> None:
    index = next(i for i, p in enumerate(ds.pairs) if rel in (p.lq_path.as_posix()[-len(rel):],
                                                              p.gt_path.as_posix()[-len(rel):]))
    ds[index]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_raises_a_dataset_error_naming_the_file(copy, name):
    breaker, when, _ = CASES[name]
    rel, words = breaker(copy)
    if when == "index":
        with pytest.raises(DatasetError) as info:
            RellisurDataset(copy, "Train", 4)
    else:
        ds = RellisurDataset(copy, "Train", 4)  # indexing reads names only, so the file is not opened yet
        with pytest.raises(DatasetError) as info:
            _load_item_of(ds, rel)
    message = str(info.value)
    assert rel in message and words in message


@pytest.mark.parametrize("name", CASES)
def test_check_reports_the_bad_file(copy, name):
    breaker, _, shallow = CASES[name]
    rel, words = breaker(copy)
    for deep in ([False, True] if shallow else [True]):
        report = check_dataset(copy, deep=deep)
        assert not report.ok
        assert any(rel in problem and words in problem for problem in report.problems), report.format()
    if not shallow:
        assert check_dataset(copy).ok  # only decoding finds it


def test_missing_duplicate_names_the_duplicate(mini_dup_root, tmp_path):
    root = Path(shutil.copytree(mini_dup_root, tmp_path / "RELLISUR-Dataset"))
    (root / "Val/NLHR-Duplicates/X2/00111-3.0.png").unlink()
    with pytest.raises(DatasetError) as info:
        RellisurDataset(root, "Val", 2)
    message = str(info.value)
    expected = "Val/NLHR-Duplicates/X2/00111-3.0.png is missing; expected because Val/LLLR/00111-3.0.png exists"
    assert expected in message
    assert "delete Val/NLHR-Duplicates/" in message


def test_missing_root_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="nowhere does not exist"):
        RellisurDataset(tmp_path / "nowhere", "Train", 4)
    with pytest.raises(DatasetError, match="nowhere does not exist"):
        check_dataset(tmp_path / "nowhere")


def test_opaque_rgba_is_read_as_rgb(copy):
    before = RellisurDataset(copy, "Train", 4)[0]
    rgb = read_png(copy / INPUT)
    _save(copy / INPUT, Image.fromarray(np.concatenate([rgb, np.full((16, 16, 1), 255, np.uint8)], axis=2)))
    assert (copy / INPUT).read_bytes()[25] == 6  # colour type RGBA in the header
    after = RellisurDataset(copy, "Train", 4)[0]
    assert (after["lq"] == before["lq"]).all()
    report = check_dataset(copy, deep=True)
    assert report.ok and any(INPUT in note for note in report.notes)


def test_sixteen_bit_would_be_misread_by_pillow_alone(tmp_path):
    """Why the header is checked: Pillow opens a 16-bit RGB PNG as 8-bit 'RGB' without complaint."""
    _png16(tmp_path / "x.png", 4, 4)
    assert Image.open(tmp_path / "x.png").mode == "RGB"
    with pytest.raises(DatasetError, match="16-bit"):
        read_png(tmp_path / "x.png")


def test_sound_miniature_checks_clean(mini_root):
    report = check_dataset(mini_root)
    assert report.ok and report.problems == []
    assert report.lllr == {"Train": 90, "Val": 20, "Test": 40}
    assert report.scenes == {"Train": 18, "Val": 4, "Test": 8}
    assert report.targets["Test"] == {1: 8, 2: 8, 4: 8}
    assert sum(report.per_ev["Train"].values()) == 90 and set(report.per_ev["Test"]) == {-2.0, -2.5, -3.0, -3.5,
                                                                                         -4.0, -4.5, -5.0}
    text = report.format()
    assert "Train      18     90    18    18    18  NLHR" in text and "result: sound" in text


def test_shallow_check_decodes_nothing(mini_root, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the shallow check decoded an image")

    monkeypatch.setattr(Image, "open", refuse)
    monkeypatch.setattr(check_module, "read_png", refuse)
    assert check_dataset(mini_root).ok


def test_check_finds_scene_level_problems(copy):
    for path in (copy / "Train/LLLR").glob("00073-*.png"):
        path.unlink()  # a scene with targets and no inputs
    (copy / "Train/LLLR/00122-3.0.png").unlink()  # a scene with 4 exposures
    for path in (copy / "Val/LLLR").glob("00111-*.png"):
        shutil.copy(path, copy / "Train/LLLR" / path.name)  # a scene in two splits
    shutil.copy(copy / "Val/NLHR/X4/00111.png", copy / "Train/NLHR/X4/00111.png")
    (copy / "Train/NLHR/X1/notes.png").write_bytes(b"")
    (copy / "Train/LLLR/.DS_Store").write_bytes(b"")  # hidden files are ignored
    problems = "\n".join(check_dataset(copy).problems)
    assert "Train/NLHR/X4/00073.png has no input in Train/LLLR/" in problems
    assert "Train/LLLR/ holds 4 exposures of scene 00122" in problems
    assert "scene 00111 is in both Train/ and Val/" in problems
    assert "Train/NLHR/X1/notes.png is not a RELLISUR target name" in problems
    assert ".DS_Store" not in problems


def test_cli_check_exit_codes(mini_root, copy, tmp_path, capsys):
    assert main(["data", "check", str(mini_root)]) == 0
    assert "result: sound" in capsys.readouterr().out
    assert main(["data", "check", str(mini_root), "--deep"]) == 0
    _missing_target(copy)
    assert main(["data", "check", str(copy.parent)]) == 1
    out = capsys.readouterr().out
    assert "result: 1 problem(s)" in out and "Train/NLHR/X4/00024.png is missing" in out
    assert main(["data", "check", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: dataset root") and err.count("\n") == 1


def test_cli_make_mini(tmp_path, capsys):
    assert main(["data", "make-mini", "--out", str(tmp_path), "--lr-size", "4", "--seed", "2"]) == 0
    assert "240 PNG files" in capsys.readouterr().out
    assert check_dataset(tmp_path / "RELLISUR-Dataset").ok
    with pytest.raises(SystemExit):
        main(["data", "make-mini", "--lr-size", "many"])
