"""Training pairs simulated on the fly: every bundled photograph, random scenes, continuous EV, jittered cameras.

The miniature (:mod:`lolisr_lib.data.mini`) has 18 training scenes at 15 fixed exposures: a model trained on it
for an hour has seen every pair hundreds of times and learned those pairs. This dataset draws a new pair for
every item instead, as varied as the photographs installed with scikit-image and matplotlib allow:

1. a photograph from :data:`TRAIN_PHOTOS` (none of them is in the miniature's Val or Test split), a random
   square region of it (30 to 100 % of its short side), resized to ``scene_size`` HR pixels and re-exposed
   to a mean code value drawn from :data:`TARGET_MEAN_RANGE` (RELLISUR's targets are auto-exposed photos);
2. a random rotation by k * 90 degrees, a flip, and a random order of the colour channels;
3. an exposure drawn uniformly from ``ev_range`` (RELLISUR's inputs span -2 to -5 EV);
4. a camera drawn around the calibrated one (:meth:`DegradeParams.jittered`, degradation augmentation, so
   that the model does not learn one simulated camera and is robust to the real ones);
5. the simulated capture :func:`~lolisr_lib.image.degrade.degrade` of the whole scene, its histogram equalisation
   (the encoder's HE view, computed on the whole capture as at inference), and one aligned random crop.

Item ``index`` of epoch ``e`` is a pure function of ``(seed, e, index)``: the batches of a resumed run are
the ones the uninterrupted run would have seen.
"""

from __future__ import annotations

import functools
import os

import matplotlib
import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from lolisr_lib.data.dataset import _to_tensor
from lolisr_lib.data.mini import load_photo
from lolisr_lib.errors import DatasetError
from lolisr_lib.image.color import equalize_hist
from lolisr_lib.image.degrade import DegradeParams, degrade
from lolisr_lib.image.exposure import capture_linear_mean, expose_to_mean

# Photographs used for training: scikit-image's (minus the miniature's Val and Test photographs: chelsea,
# motorcycle, rocket) and matplotlib's two colour photographs. (region) keeps retina inside its fundus.
TRAIN_PHOTOS = {
    "astronaut": (0.0, 0.0, 1.0, 1.0),
    "coffee": (0.0, 0.0, 1.0, 1.0),
    "immunohistochemistry": (0.0, 0.0, 1.0, 1.0),
    "retina": (0.15, 0.15, 0.85, 0.85),
    "grace_hopper": (0.0, 0.0, 1.0, 1.0),
    "present": (0.0, 0.0, 1.0, 1.0),
}
MATPLOTLIB_PHOTOS = {"grace_hopper": "grace_hopper.jpg", "present": "Minduka_Present_Blue_Pack.png"}
EV_RANGE = (-5.0, -2.0)  # RELLISUR's three exposure windows together
# RELLISUR's targets are normally exposed photographs of mean code value about 90 to 110 (docs/data.md); the
# photographs here range from 65 to 160. Each scene is re-exposed (a gain in linear light) to a mean drawn from
# this range, as a camera's auto-exposure would, so that "normal light" means what it means in RELLISUR.
TARGET_MEAN_RANGE = (85.0, 120.0)


@functools.lru_cache(maxsize=None)
def training_photo(name: str) -> np.ndarray:
    """A training photograph as read-only uint8 (H, W, 3): scikit-image's, or one of matplotlib's samples."""
    if name not in MATPLOTLIB_PHOTOS:
        return load_photo(name)
    path = os.path.join(matplotlib.get_data_path(), "sample_data", MATPLOTLIB_PHOTOS[name])
    with Image.open(path) as image:
        photo = np.array(image.convert("RGB"))
    photo.flags.writeable = False
    return photo


class SimulatedPairs(Dataset):
    """``length`` simulated pairs per epoch; items are dicts like :class:`RellisurDataset`'s (``lq``, ``lq_he``,
    ``gt``, ``scene``, ``ev``, ``lq_path``, ``gt_path``), float32 in [0, 1].

    ``scale``: 1, 2 or 4; ``patch_size``: HR side of the crop (a multiple of ``scale``); ``scene_size``: HR
    side of the whole simulated scene (the crop is cut from it); ``jitter``: spread of the camera around
    ``params`` (0: the calibrated camera only); ``reexpose``: re-expose each scene to a RELLISUR-like mean
    (off: the photographs' own brightness, 65 to 160); ``channel_pedestal``: spread of each camera's
    per-channel black-point shift (:meth:`DegradeParams.jittered`; 0: none); ``seed``: see the module docstring.
    """

    def __init__(self, scale: int, patch_size: int, *, length: int = 4096, scene_size: int = 256,
                 ev_range: tuple[float, float] = EV_RANGE, params: DegradeParams = DegradeParams(),
                 jitter: float = 1.0, photos=tuple(TRAIN_PHOTOS), seed: int = 0, reexpose: bool = True,
                 channel_pedestal: float = 0.0):
        if scale not in (1, 2, 4):
            raise DatasetError(f"scale must be 1, 2 or 4; got {scale!r}")
        if not isinstance(patch_size, int) or patch_size <= 0 or patch_size % scale or scene_size % scale:
            raise DatasetError(f"patch_size and scene_size must be positive multiples of scale {scale}; got "
                               f"{patch_size!r} and {scene_size!r}")
        if patch_size > scene_size:
            raise DatasetError(f"patch_size {patch_size} is larger than scene_size {scene_size}; raise scene_size")
        unknown = [name for name in photos if name not in TRAIN_PHOTOS]
        if unknown or not photos:
            raise DatasetError(f"unknown training photograph(s) {unknown}; choose from {', '.join(TRAIN_PHOTOS)}")
        low, high = ev_range
        if not (np.isfinite(low) and np.isfinite(high) and low <= high < 0):
            raise DatasetError(f"ev_range must be (low, high) with low <= high < 0, e.g. (-5.0, -2.0); got {ev_range}")
        self.scale, self.patch_size, self.length, self.scene_size = scale, patch_size, length, scene_size
        self.ev_range, self.params, self.jitter, self.photos = (low, high), params, jitter, tuple(photos)
        if not np.isfinite(channel_pedestal) or channel_pedestal < 0:
            raise DatasetError(f"channel_pedestal must be a spread >= 0 in linear DN (e.g. 0.0005); "
                               f"got {channel_pedestal!r}")
        self.seed, self.epoch, self.reexpose, self.channel_pedestal = seed, 0, reexpose, channel_pedestal

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def scene(self, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        """A random scene: (photograph name, uint8 (scene_size, scene_size, 3) HR target)."""
        name = self.photos[int(rng.integers(len(self.photos)))]
        photo = training_photo(name)
        top, left, bottom, right = (round(f * n) for f, n in zip(TRAIN_PHOTOS[name], photo.shape[:2] * 2))
        short = min(bottom - top, right - left)
        side = max(16, round(short * rng.uniform(0.3, 1.0)))
        i = top + int(rng.integers(0, bottom - top - side + 1))
        j = left + int(rng.integers(0, right - left - side + 1))
        crop = Image.fromarray(np.ascontiguousarray(photo[i : i + side, j : j + side]))
        hr = np.asarray(crop.resize((self.scene_size, self.scene_size), Image.Resampling.LANCZOS))
        target_mean = float(rng.uniform(*TARGET_MEAN_RANGE))  # drawn either way: the same stream of draws
        if self.reexpose:
            hr = expose_to_mean(hr, target_mean)
        hr = np.rot90(hr, int(rng.integers(4)))
        if rng.integers(2):
            hr = hr[:, ::-1]
        return name, np.ascontiguousarray(hr[..., rng.permutation(3)])

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.length:
            raise DatasetError(f"index {index} is out of range for {self.length} simulated pairs")
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        name, hr = self.scene(rng)
        ev = float(rng.uniform(*self.ev_range))
        camera = self.params.jittered(rng, self.jitter, channel_pedestal=self.channel_pedestal)
        lq = degrade(hr, self.scale, ev, params=camera, seed=int(rng.integers(2**31)))
        he = equalize_hist(lq)  # of the whole capture
        lq_mean = capture_linear_mean(_to_tensor(lq)[None])[0].float()  # likewise
        side = self.patch_size // self.scale
        i, j = (int(rng.integers(0, lq.shape[k] - side + 1)) for k in (0, 1))
        s = self.scale
        gt = hr[s * i : s * (i + side), s * j : s * (j + side)]
        return {
            "lq": _to_tensor(lq[i : i + side, j : j + side]),
            "lq_he": _to_tensor(he[i : i + side, j : j + side]),
            "lq_mean": lq_mean,
            "gt": _to_tensor(gt),
            "scene": name,
            "ev": ev,
            "lq_path": "",
            "gt_path": "",
        }
