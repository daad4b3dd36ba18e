"""The brightness-from-target reference: the model's output, its global brightness read from the answer."""

import torch
from torch import nn

from lolisr_lib.evaluate import evaluate
from lolisr_lib.baselines.classical import OracleGainBaseline
from lolisr_lib.evaluate.headroom import AveragedWithOracleGain, BrightnessFromTarget
from lolisr_lib.image.color import linear_to_srgb, srgb_to_linear


class TooBright(nn.Module):
    """Upscales by repetition and quadruples the light (two stops): right detail, wrong brightness."""

    scale = 2

    def enhance(self, lq):
        up = lq.repeat_interleave(2, -1).repeat_interleave(2, -2)
        return linear_to_srgb((4 * srgb_to_linear(up)).clamp(0, 1))


def test_output_takes_the_targets_linear_mean_and_keeps_the_detail():
    torch.manual_seed(0)
    lq = torch.rand(2, 3, 8, 8) * 0.3
    gt = lq.repeat_interleave(2, -1).repeat_interleave(2, -2)
    out = BrightnessFromTarget(TooBright()).enhance(lq, target=gt)
    assert out.shape == gt.shape
    torch.testing.assert_close(srgb_to_linear(out).mean((1, 2, 3)), srgb_to_linear(gt).mean((1, 2, 3)))
    torch.testing.assert_close(out, gt, atol=1e-5, rtol=0)  # a pure brightness error is fully undone


def test_evaluate_passes_it_the_target(mini_root):
    result = evaluate(BrightnessFromTarget(TooBright()), mini_root, "Test", 2, limit=2)
    plain = evaluate(TooBright(), mini_root, "Test", 2, limit=2)
    assert result.summary["psnr"] > plain.summary["psnr"] + 3


def test_the_average_with_the_oracle_gain_is_the_mean_of_the_two_images():
    torch.manual_seed(1)
    lq = torch.rand(2, 3, 8, 8) * 0.3
    gt = torch.rand(2, 3, 16, 16) * 0.8
    model_image = BrightnessFromTarget(TooBright()).enhance(lq, target=gt)
    oracle_image = OracleGainBaseline(2).enhance(lq, target=gt)
    assert (model_image - oracle_image).abs().mean() > 0.01  # two different images, so the test can tell
    average = AveragedWithOracleGain(TooBright()).enhance(lq, target=gt)
    torch.testing.assert_close(average, (model_image + oracle_image) / 2)
