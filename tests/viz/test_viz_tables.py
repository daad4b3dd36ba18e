"""Figures of notebook 09: measured vs reported bars, PSNR per EV, the GT-mean cheat, the example grid."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lolisr_lib.evaluate.published import ResultRow, comparison_rows  # noqa: E402
from lolisr_lib.lessons.reproduce import Examples  # noqa: E402
from lolisr_lib.viz import tables as vt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _examples(n=3, names=("a", "b")):
    g = torch.Generator().manual_seed(0)
    gt = [torch.rand(3, 16, 16, generator=g) for _ in range(n)]
    return Examples(lq=[x[:, ::2, ::2] * 0.05 for x in gt], gt=gt, scene=[f"{k:05d}" for k in range(n)],
                    ev=[-3.0] * n, outputs={m: [(x * 0.9).clamp(0, 1) for x in gt] for m in names})


def test_render_comparison_labels_measured_and_reported_rows():
    rows = comparison_rows([ResultRow("ours", 2, 12.0, 0.3, protocol="A", source="measured")], 2)
    fig = vt.render_comparison(rows)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert isinstance(fig, Figure) and len(labels) == len(rows)
    assert labels[0] == "ours  [ours]" and any("[RELLISUR]" in label for label in labels)
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["measured", "reported"]
    colours = {tuple(h.get_facecolor()) for h in legend.legend_handles}
    assert len(colours) == 2
    with pytest.raises(ValueError):
        vt.render_comparison([])


def test_render_per_ev_one_line_per_method_darkest_on_the_right():
    fig = vt.render_per_ev({"a": {-2.5: 15.0, -5.0: 10.0}, "b": {-3.0: 12.0}})
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_xlim()[0] > ax.get_xlim()[1]  # inverted: darker to the right


def test_render_cheat_draws_both_bars_per_method():
    fig = vt.render_cheat({"bicubic": (9.0, 11.5), "model": (13.0, 14.0)})
    assert len(fig.axes[0].patches) == 4
    assert any("+2.50" in t.get_text() for t in fig.axes[0].texts)


@pytest.mark.parametrize("rows, expected", [(None, 3), ([1], 1)])
def test_render_method_grid_input_methods_target(rows, expected):
    fig = vt.render_method_grid(_examples(), rows=rows)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == expected * 4  # input, a, b, target
    assert titles[0].startswith("input") and titles[3] == "target (NLHR)" and "dB" in titles[1]


def test_render_example_and_empty_grid():
    assert isinstance(vt.render_example(_examples(), index=2), Figure)
    with pytest.raises(ValueError):
        vt.render_method_grid(_examples(), rows=[])
