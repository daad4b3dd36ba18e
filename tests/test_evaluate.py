"""evaluate(): one CSV row per input, summaries consistent with the rows, the protocol switches, LPIPS."""

import csv
import math

import pytest
import torch
from torch import nn

from lolisr_lib.baselines import make_baseline
from lolisr_lib.data import RellisurDataset
from lolisr_lib.errors import UserError
from lolisr_lib.evaluate import CSV_COLUMNS, evaluate
from lolisr_lib.evaluate.lpips import LPIPS, load_lpips, lpips_distance
from lolisr_lib.evaluate.published import comparison_rows, render_markdown


@pytest.fixture
def root(mini_root):
    """The session's miniature (tests/conftest.py): lr_size 16, so x2 targets are 32 px, enough for LPIPS."""
    return mini_root


class Oracle(nn.Module):
    """Returns the ground truth of every input it was shown: a perfect model, to test the metrics' ends."""

    def __init__(self, root, split, scale):
        super().__init__()
        self.scale = scale
        self.table = {item["lq"].numpy().tobytes(): item["gt"] for item in RellisurDataset(root, split, scale)}

    def enhance(self, lq):
        return torch.stack([self.table[x.cpu().numpy().tobytes()] for x in lq])


class Recorder(nn.Module):
    """Bicubic, remembering the input sizes it was given."""

    def __init__(self, scale):
        super().__init__()
        self.scale, self.sizes, self.inner = scale, [], make_baseline("bicubic", scale)

    def enhance(self, lq):
        self.sizes.append(tuple(lq.shape[-2:]))
        return self.inner.enhance(lq)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("scale", [2, 4])
def test_csv_has_one_row_per_input_and_summary_matches_it(root, tmp_path, scale):
    result = evaluate("he-bicubic", root, "Test", scale, out_csv=tmp_path / "r.csv")
    rows = read_csv(tmp_path / "r.csv")
    dataset = RellisurDataset(root, "Test", scale)
    assert len(rows) == len(dataset) == result.summary["n"]
    assert tuple(rows[0]) == CSV_COLUMNS
    expected = [(dataset[i]["scene"], dataset[i]["ev"]) for i in range(len(dataset))]
    assert [(r["scene"], float(r["ev"])) for r in rows] == expected
    assert all(r["lpips"] == "n/a" for r in rows) and result.summary["lpips"] == "n/a"
    for key in ("psnr", "ssim"):
        assert result.summary[key] == pytest.approx(sum(float(r[key]) for r in rows) / len(rows), abs=1e-5)
    per_ev = result.summary["per_ev"]
    assert sum(g["n"] for g in per_ev.values()) == len(rows)
    for ev, g in per_ev.items():
        mine = [float(r["psnr"]) for r in rows if float(r["ev"]) == ev]
        assert g["n"] == len(mine) and g["psnr"] == pytest.approx(sum(mine) / len(mine), abs=1e-5)
    assert list(per_ev) == sorted(per_ev, reverse=True)  # brightest exposure first
    assert "A: uint8 RGB" in result.summary["protocol"] and f"{len(rows)} Test images" in result.summary["protocol"]


def test_a_perfect_model_scores_infinite_psnr_and_ssim_one(root):
    result = evaluate(Oracle(root, "Val", 2), root, "Val", 2)
    assert all(math.isinf(r["psnr"]) and r["ssim"] == pytest.approx(1.0) for r in result.rows)
    assert math.isinf(result.summary["psnr"]) and result.summary["ssim"] == pytest.approx(1.0)


def test_worse_input_scores_lower(root):
    """The per-EV breakdown must show the darkest inputs as the hardest for a fixed baseline."""
    per_ev = evaluate("bicubic", root, "Test", 2).summary["per_ev"]
    evs = list(per_ev)
    assert per_ev[evs[0]]["ssim"] > per_ev[evs[-1]]["ssim"]


def test_crop_switch_crops_the_input_and_labels_the_protocol(root):
    recorder = Recorder(2)
    result = evaluate(recorder, root, "Val", 2, crop=12, limit=3)
    assert recorder.sizes == [(12, 12)] * 3
    assert "centre crop 12 LR / 24 HR" in result.summary["protocol"]
    full = evaluate("bicubic", root, "Val", 2, limit=3)
    assert [r["psnr"] for r in result.rows] != [r["psnr"] for r in full.rows]


def test_crop_larger_than_the_image_is_a_user_error(root):
    with pytest.raises(UserError, match="crop=624"):
        evaluate("bicubic", root, "Test", 2, crop=624)


def test_y_channel_switch_changes_scores_and_label(root):
    rgb = evaluate("gain-bicubic", root, "Val", 2, limit=4)
    y = evaluate("gain-bicubic", root, "Val", 2, limit=4, y_channel=True)
    assert [r["psnr"] for r in y.rows] != [r["psnr"] for r in rgb.rows]
    assert y.summary["protocol"].startswith("B-like: Y-channel")


def test_exposures_filter(root):
    result = evaluate("bicubic", root, "Test", 2, exposures=[-3.0, -4.0])
    assert {r["ev"] for r in result.rows} == {-3.0, -4.0}
    assert set(result.summary["per_ev"]) == {-3.0, -4.0}
    assert result.summary["n"] == sum(1 for item in RellisurDataset(root, "Test", 2) if item["ev"] in (-3.0, -4.0))
    assert "EV -3.0, -4.0" in result.summary["protocol"]


def test_limit_and_scale_mismatch(root):
    assert len(evaluate("bicubic", root, "Test", 2, limit=5).rows) == 5
    with pytest.raises(UserError, match="x4"):
        evaluate(make_baseline("bicubic", 4), root, "Test", 2)


def test_result_row_and_text_table(root):
    result = evaluate("bicubic", root, "Val", 4)
    row = result.to_result_row("bicubic", "classical")
    assert (row.scale, row.source, row.lpips, row.protocol) == (4, "measured", None, result.summary["protocol"])
    assert row.psnr == result.summary["psnr"]
    table = render_markdown(comparison_rows([row], 4))
    assert "| measured | classical | bicubic |" in table
    text = result.format()
    assert text.count("\n") == 2 + len(result.summary["per_ev"]) and "all" in text and "-3.0" in text


# ---------------------------------------------------------------------------------------------------- LPIPS
def random_lpips(seed=0) -> LPIPS:
    torch.manual_seed(seed)
    net = LPIPS()
    for lin in net.lins:  # the real linear layers are non-negative
        lin.weight.data.abs_()
    return net


def as_lpips_package_layout(net: LPIPS) -> dict:
    """Keys as ``lpips.LPIPS(net="alex").state_dict()`` writes them."""
    slices = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}
    state = {}
    for key, value in net.state_dict().items():
        part, index, kind = key.split(".")
        if part == "features":
            state[f"net.slice{slices[int(index)]}.{index}.{kind}"] = value
        else:
            state[f"lin{index}.model.1.weight"] = value
    state["scaling_layer.shift"] = torch.zeros(1, 3, 1, 1)  # present in the real file, ignored
    return state


def test_lpips_loads_the_package_layout_and_gives_zero_for_identical_images(tmp_path):
    net = random_lpips()
    torch.save(as_lpips_package_layout(net), tmp_path / "alex.pth")
    loaded = load_lpips(tmp_path / "alex.pth")
    a, b = torch.rand(3, 40, 48), torch.rand(3, 40, 48)
    assert lpips_distance(loaded, a, b) == pytest.approx(lpips_distance(net, a, b), rel=1e-6)
    assert lpips_distance(loaded, a, b) > 0
    assert lpips_distance(loaded, a, a) == 0
    assert lpips_distance(loaded, a, b) == pytest.approx(lpips_distance(loaded, b, a), rel=1e-6)


def test_lpips_weights_without_the_backbone_are_refused(tmp_path):
    state = {k: v for k, v in as_lpips_package_layout(random_lpips()).items() if k.startswith("lin")}
    torch.save(state, tmp_path / "lin_only.pth")
    with pytest.raises(UserError, match="AlexNet"):
        load_lpips(tmp_path / "lin_only.pth")
    with pytest.raises(UserError, match="do not exist"):
        load_lpips(tmp_path / "missing.pth")


def test_evaluate_with_lpips_weights(root, tmp_path):
    torch.save(as_lpips_package_layout(random_lpips()), tmp_path / "alex.pth")
    result = evaluate("bicubic", root, "Val", 2, limit=3, lpips_weights=tmp_path / "alex.pth",
                      out_csv=tmp_path / "r.csv")
    values = [float(r["lpips"]) for r in read_csv(tmp_path / "r.csv")]
    assert all(v > 0 for v in values)
    assert result.summary["lpips"] == pytest.approx(sum(values) / 3, abs=1e-5)
    assert result.to_result_row("bicubic").lpips == result.summary["lpips"]
    perfect = evaluate(Oracle(root, "Val", 2), root, "Val", 2, limit=3, lpips_weights=tmp_path / "alex.pth")
    assert perfect.summary["lpips"] == 0
