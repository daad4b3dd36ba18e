"""Per-pixel spread of samples and the temperature sweep."""

import numpy as np
import pytest
import torch

from lolisr_lib.config import preset
from lolisr_lib.errors import UserError
from lolisr_lib.lessons.uncertainty import pixel_std, sample_diversity, temperature_sweep
from lolisr_lib.model import LoLiSRFlow


def test_pixel_std_of_identical_and_of_two_different_samples():
    img = torch.rand(2, 1, 3, 4, 5)
    assert torch.equal(pixel_std(img.expand(2, 3, 3, 4, 5)), torch.zeros(2, 4, 5))
    pair = torch.cat([torch.zeros(1, 1, 3, 4, 5), torch.full((1, 1, 3, 4, 5), 0.5)], dim=1)
    assert torch.allclose(pixel_std(pair), torch.full((1, 4, 5), 0.25))
    assert torch.allclose(sample_diversity(pair), torch.tensor([0.25]))


def test_pixel_std_rejects_a_batch_of_images():
    with pytest.raises(UserError):
        pixel_std(torch.rand(2, 3, 4, 5))


def test_temperature_sweep_is_deterministic_at_zero_and_spreads_with_temperature():
    torch.manual_seed(0)
    model = LoLiSRFlow(preset("tiny-x2")).eval()
    lq, gt = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16)
    sweep = temperature_sweep(model, lq, gt, [0.0, 0.5, 1.0], n_samples=2)
    assert sweep.diversity[0] == 0 and np.all(np.diff(sweep.diversity) > 0)
    assert torch.allclose(sweep.samples[0][0], model.enhance(lq)[0], atol=1e-6)
    assert len(sweep.samples) == 3 and sweep.samples[1].shape == (2, 3, 16, 16)
    assert np.isfinite(sweep.psnr).all() and sweep.psnr_std[0] == 0
    again = temperature_sweep(model, lq, gt, [0.5], n_samples=2)
    assert torch.equal(again.samples[0], sweep.samples[1])  # same seed, same draws


@pytest.mark.parametrize("temperatures, n", [([0.5], 1), ([], 2), ([-0.1], 2)])
def test_temperature_sweep_rejects_bad_arguments(temperatures, n):
    model = LoLiSRFlow(preset("tiny-x2")).eval()
    with pytest.raises(UserError):
        temperature_sweep(model, torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16), temperatures, n_samples=n)
