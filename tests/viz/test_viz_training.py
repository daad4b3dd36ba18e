"""Figures of notebook 08: the schedule drawn from lr_factor, the curves from log rows, the float formats."""

import matplotlib

matplotlib.use("Agg")

import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lolisr_lib.config import TrainConfig, preset  # noqa: E402
from lolisr_lib.train import lr_factor  # noqa: E402
from lolisr_lib.viz import training as vt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _log_rows(n=30, with_flow_terms=True):
    rows = []
    for k in range(1, n + 1):
        row = {"step": k, "loss": 5.0 / k, "l1": 0.3 / k, "lr": 1e-4 * min(1, k / 5), "grad_norm": 3.0,
               "images_per_s": 8.0, "skipped_steps": 0, "seconds": 0.5 * k}
        if with_flow_terms:
            row.update(nll=4.0 / k, logdet=1000.0)
        rows.append(row)
    return rows


@pytest.mark.parametrize("steps, warmup", [(80, 10), (100_000, 1000), (7, 0)])
def test_schedule_points_follow_lr_factor_and_keep_the_changes(steps, warmup):
    train = TrainConfig(steps=steps, warmup_steps=warmup)
    points, lrs = vt.schedule_points(train, points=50)
    expected = [train.lr * lr_factor(int(s), total_steps=steps, warmup_steps=warmup, decay_at=train.decay_at)
                for s in points]
    assert np.allclose(lrs, expected) and points[0] == 0 and points[-1] == steps - 1
    for f in train.decay_at:  # both sides of every halving are drawn, so the steps are sharp
        boundary = round(f * steps)
        assert {s for s in (boundary - 1, boundary) if 0 <= s < steps} <= set(points.tolist())


def test_render_lr_schedule_one_panel_per_config_with_logged_dots():
    configs = {"paper": preset("paper-x4").train, "run": TrainConfig(steps=30, warmup_steps=5)}
    fig = vt.render_lr_schedule(configs, logged={"run": _log_rows()})
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert any(len(line.get_xdata()) == 30 for line in fig.axes[1].lines)  # the logged rates


def test_render_schedule_for_sliders():
    assert isinstance(vt.render_schedule(steps=1000, warmup_steps=100, lr=1e-3), Figure)


@pytest.mark.parametrize("flow_terms", [True, False])
def test_render_training_curves_skips_absent_columns(flow_terms):
    val = [{"step": 10, "psnr": 15.0}, {"step": 20, "psnr": 16.0}, {"step": 30, "psnr": 15.5}]
    fig = vt.render_training_curves(_log_rows(with_flow_terms=flow_terms), val, resume_step=15)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert (vt.CURVE_LABELS["nll"] in titles) == flow_terms
    assert titles[-1].startswith("Val PSNR")
    assert "best.pt (step 20)" in [t.get_text() for t in fig.axes[len(titles) - 1].get_legend().get_texts()]


def test_render_training_curves_needs_something_to_draw():
    with pytest.raises(ValueError, match="nothing to plot"):
        vt.render_training_curves([{"step": 1}], [])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_spacing_is_the_gap_between_neighbouring_floats(dtype):
    for value in (1.0, 3.0, 1000.0, 30000.0):
        t = torch.tensor(value, dtype=dtype)
        gap = (torch.nextafter(t, torch.tensor(math.inf, dtype=dtype)) - t).item()
        assert vt.spacing(dtype, np.array([value]))[0] == pytest.approx(gap)
    assert np.isnan(vt.spacing(dtype, np.array([torch.finfo(dtype).max * 2.0]))[0])  # past the range: overflow


def test_render_float_formats_widens_the_axis_to_the_marks():
    fig = vt.render_float_formats({"huge": 1e9, "tiny": 1e-12})
    lo, hi = fig.axes[0].get_xlim()
    assert isinstance(fig, Figure) and lo <= 1e-12 and hi >= 1e9
