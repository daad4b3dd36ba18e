"""Simulated training pairs: reproducible, varied, aligned, re-exposed like RELLISUR's targets."""

import numpy as np
import pytest
import torch

from lolisr_lib.data.mini import SOURCES
from lolisr_lib.data.simulated import TARGET_MEAN_RANGE, TRAIN_PHOTOS, SimulatedPairs, expose_to_mean, training_photo
from lolisr_lib.errors import DatasetError


def test_no_training_photograph_is_in_the_miniatures_val_or_test_split():
    held_out = {s.photo for s in SOURCES if s.split != "Train"}
    assert not held_out & set(TRAIN_PHOTOS)
    for name in TRAIN_PHOTOS:
        photo = training_photo(name)
        assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.uint8


def test_items_are_a_pure_function_of_seed_epoch_and_index():
    a, b = SimulatedPairs(4, 32, length=4, scene_size=64, seed=2), SimulatedPairs(4, 32, length=4, scene_size=64, seed=2)
    assert torch.equal(a[3]["lq"], b[3]["lq"]) and torch.equal(a[3]["gt"], b[3]["gt"])
    b.set_epoch(1)
    assert not torch.equal(a[3]["gt"], b[3]["gt"])


def test_items_are_varied_and_in_rellisurs_windows():
    ds = SimulatedPairs(2, 32, length=64, scene_size=64, seed=0)
    items = [ds[i] for i in range(64)]
    evs = [it["ev"] for it in items]
    assert min(evs) >= -5.0 and max(evs) <= -2.0 and len(set(evs)) == 64
    assert len({it["scene"] for it in items}) == len(TRAIN_PHOTOS)
    for it in items:
        assert it["lq"].shape == (3, 16, 16) and it["gt"].shape == (3, 32, 32)
        assert float(it["lq"].mean()) < float(it["gt"].mean())  # dark input, normally lit target


def test_scenes_are_re_exposed_to_rellisurs_target_brightness():
    ds = SimulatedPairs(2, 64, length=40, scene_size=64, seed=0)
    means = [255 * float(ds[i]["gt"].mean()) for i in range(40)]  # whole scenes: patch == scene
    low, high = TARGET_MEAN_RANGE
    assert all(low - 6 <= m <= high + 6 for m in means)  # the gain is solved on every 4th pixel


def test_expose_to_mean_reaches_the_mean():
    img = np.random.default_rng(0).integers(0, 120, (64, 64, 3), dtype=np.uint8)
    assert expose_to_mean(img, 100.0).mean() == pytest.approx(100.0, abs=2.0)


@pytest.mark.parametrize("kwargs, words", [
    (dict(scale=3, patch_size=32), "scale"),
    (dict(scale=2, patch_size=33), "multiples"),
    (dict(scale=2, patch_size=512), "scene_size"),
    (dict(scale=2, patch_size=32, photos=("moon",)), "unknown"),
    (dict(scale=2, patch_size=32, ev_range=(-2.0, 1.0)), "ev_range"),
    (dict(scale=2, patch_size=32, channel_pedestal=-0.001), "channel_pedestal"),
])
def test_bad_arguments_are_refused(kwargs, words):
    with pytest.raises(DatasetError, match=words):
        SimulatedPairs(**kwargs)


def test_a_channel_pedestal_changes_only_the_black_levels_drawn():
    plain = SimulatedPairs(2, 32, length=8, scene_size=64, seed=1)
    same = SimulatedPairs(2, 32, length=8, scene_size=64, seed=1, channel_pedestal=0.0)
    tinted = SimulatedPairs(2, 32, length=8, scene_size=64, seed=1, channel_pedestal=0.002)
    for i in range(8):
        assert torch.equal(plain[i]["lq"], same[i]["lq"])  # spread 0: the stream of draws is unchanged
        assert (plain[i]["scene"], plain[i]["ev"]) == (tinted[i]["scene"], tinted[i]["ev"])  # drawn before
    assert all(not torch.equal(plain[i]["lq"], tinted[i]["lq"]) for i in range(8))  # each camera got its own
