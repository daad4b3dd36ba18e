"""Published tables load with the numbers of docs/data.md and render beside measured rows."""

import pytest

from lolisr_lib.errors import UserError
from lolisr_lib.evaluate.published import ResultRow, comparison_rows, load_published, render_markdown


@pytest.mark.parametrize(
    "table, method, scale, psnr, ssim",
    [
        ("rellisur", "MIRNet + upscaling module", 2, 21.33, 0.75),
        ("rellisur", "MBLLEN + ESRGAN", 4, 17.03, 0.50),
        ("lolisrflow", "LoLiSRFlow", 2, 23.40, 0.753),
        ("lolisrflow", "LoLiSRFlow", 4, 21.58, 0.742),
        ("lolisrflow", "RUAS->SwinIR", 4, 19.78, 0.662),
        ("ultrais", "UltraIS", 4, 21.036, 0.726),
    ],
)
def test_published_numbers_match_the_papers(table, method, scale, psnr, ssim):
    (row,) = [r for r in load_published(table) if r.method == method and r.scale == scale]
    assert (row.psnr, row.ssim) == (psnr, ssim)
    assert row.source and row.protocol


def test_table_sizes_and_lpips_presence():
    assert len(load_published("rellisur")) == 12
    assert len(load_published("lolisrflow")) == 20
    assert len(load_published("ultrais")) == 14
    assert all(r.lpips is None for r in load_published("lolisrflow"))
    assert all(r.lpips is not None for r in load_published("ultrais"))


def test_measured_rows_come_first_and_are_labelled():
    ours = ResultRow("bicubic", 2, 10.0, 0.3, None, "classical", "A (all Test)")
    rows = comparison_rows([ours, ResultRow("bicubic", 4, 9.0, 0.2)], scale=2)
    assert rows[0]["method"] == "bicubic" and rows[0]["kind"] == "measured"
    assert all(r["kind"] == "reported" for r in rows[1:])
    assert all(r["scale"] == 2 for r in rows)
    text = render_markdown(rows)
    assert "| measured | classical | bicubic | 10.00 | 0.300 | n/a |" in text
    assert text.count("\n") == len(rows) + 1


def test_unknown_table_is_a_clear_error():
    with pytest.raises(UserError, match="unknown published table 'lol'"):
        load_published("lol")
