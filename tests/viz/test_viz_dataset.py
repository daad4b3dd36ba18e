"""Figures of notebook 02: every render function returns a figure from miniature data."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lolisr_lib.data import RellisurDataset  # noqa: E402
from lolisr_lib.data.inventory import brightness_table  # noqa: E402
from lolisr_lib.data.mini import WINDOWS  # noqa: E402
from lolisr_lib.errors import UserError  # noqa: E402
from lolisr_lib.viz import dataset as vds  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_render_windows_labels_each_window_once():
    fig = vds.render_windows({"00024": list(WINDOWS["early"]), "00300": list(WINDOWS["late"]),
                              "00400": list(WINDOWS["late"]), "00500": [-1.0, -2.0]}, WINDOWS)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert isinstance(fig, Figure) and len(labels) == 3 and any(label.startswith("other") for label in labels)


def test_render_brightness_and_histograms(mini_root):
    rows = brightness_table(mini_root, ("Val",))
    assert isinstance(vds.render_brightness_per_ev(iter(rows)), Figure)  # any iterable of rows
    lq = np.random.default_rng(0).integers(0, 30, (16, 16, 3), dtype=np.uint8)
    fig = vds.render_histograms(lq, np.full((64, 64, 3), 120, np.uint8), "a title")
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_render_scene_and_pairs(mini_root):
    whole = RellisurDataset(mini_root, "Test", 2)
    fig = vds.render_scene(whole, whole.pairs[0].scene)
    assert isinstance(fig, Figure) and fig.axes[5].get_title() == "the shared target"
    with pytest.raises(UserError, match="not in this dataset"):
        vds.render_scene(whole, "99999")
    crops = RellisurDataset(mini_root, "Train", 4, patch_size=32, augment=True, seed=0)
    fig = vds.render_pairs([crops[0], crops[1], crops[2]])
    assert isinstance(fig, Figure) and len(fig.axes) == 6


def test_render_real_pairs_one_row_each():
    rng = np.random.default_rng(0)
    rows = [{"title": "00018 (-3 EV)", "lq": rng.integers(0, 30, (16, 16, 3), dtype=np.uint8),
             "gt": rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)}] * 2
    fig = vds.render_real_pairs(rows)
    assert isinstance(fig, Figure) and len(fig.axes) == 8 and fig.axes[0].get_title().startswith("00018 (-3 EV)")


def test_render_registration_draws_three_footprints():
    from skimage.data import astronaut

    from lolisr_lib.lessons import registration as rg

    pair = rg.wide_view(astronaut(), 160, field=1.4)
    reg = rg.estimate_homography(pair.target, pair.view, keypoints=400)
    crops = {"nominal": rg.align(pair.view, pair.nominal, 160), "registered": rg.align(pair.view, reg.transform, 160)}
    fig = vds.render_registration(pair, reg, crops, {"nominal": (10.0, 15.0), "registered": (1.0, 28.0)})
    assert isinstance(fig, Figure)
    view_ax = [ax for ax in fig.axes if ax.get_legend() is not None][0]
    assert len(view_ax.get_legend_handles_labels()[1]) == 4  # three footprints and the inliers
    assert any("corners off by 1.00 px" in ax.get_title() for ax in fig.axes)
