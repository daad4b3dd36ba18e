"""Registering a short-focal-length view to a long-focal-length target with a homography, as RELLISUR did.

RELLISUR (Aakerberg et al., NeurIPS 2021 Datasets and Benchmarks) photographed each scene with a zoom lens at a
short focal length (the low-resolution views, a wide field) and at longer ones (the x1, x2, x4 targets, narrower
fields). The views never line up by themselves: the camera moves a little between shots, the zoom's focal lengths
are nominal, and a lens is not a perfect pinhole. The authors estimated a homography with MSAC between each view
and the x4 target and cropped every image to what the x4 target shows. This module reproduces that step on a
synthetic pair, where the true transform is known, so the error can be measured:

- :func:`wide_view` makes the "short focal length" view of a scene: a wider field (zoomed out), shifted,
  slightly rotated, with a little keystone (perspective), resampled to the target's pixel count;
- :func:`estimate_homography` matches SIFT (or ORB) keypoints of the two images and fits a projective transform
  (a homography, 8 degrees of freedom) robustly with RANSAC (``skimage.measure.ransac``). MSAC, the variant the
  authors used, differs only in how a candidate is scored: by the sum of truncated squared residuals instead of
  the count of inliers;
- :func:`corner_error` is the registration error in target pixels: how far the four corners of the target land
  from where the true transform puts them; :func:`align` resamples the view into the target's frame (the crop to
  the target), so that the two can be compared pixel by pixel.

Transforms follow scikit-image: they map ``(col, row)`` coordinates, and here always *from the target's pixel
grid to the view's*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.color import rgb2gray
from skimage.feature import ORB, SIFT, match_descriptors
from skimage.measure import ransac
from skimage.transform import ProjectiveTransform, warp

from lolisr_lib.errors import UserError


@dataclass(frozen=True)
class ViewPair:
    """A target crop of a scene and a wider view of the same scene, with the true transform between them."""

    target: np.ndarray  # float (side, side, 3) in [0, 1]: the long-focal-length image (the x4 target's role)
    view: np.ndarray  # float (side, side, 3) in [0, 1]: the short-focal-length image of a wider field
    true: ProjectiveTransform  # target pixel (col, row) -> view pixel (col, row)
    nominal: ProjectiveTransform  # the same, knowing only the nominal field ratio (no shift, rotation, keystone)


def _homography(scale: float, angle_deg: float, keystone=(0.0, 0.0)) -> np.ndarray:
    """3x3 homography about the origin: perspective tilt ``keystone`` (its last row), then scale and rotate."""
    theta = np.deg2rad(angle_deg)
    linear = np.array([[np.cos(theta), -np.sin(theta), 0.0], [np.sin(theta), np.cos(theta), 0.0], [0.0, 0.0, 1.0]])
    linear[:2, :2] *= scale
    perspective = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [keystone[0], keystone[1], 1.0]])
    return linear @ perspective


def _shift(offset) -> np.ndarray:
    """3x3 translation by ``offset`` = (cols, rows)."""
    return np.array([[1.0, 0.0, offset[0]], [0.0, 1.0, offset[1]], [0.0, 0.0, 1.0]])


def wide_view(scene: np.ndarray, side: int, field: float = 1.6, angle_deg: float = 2.0, shift=(10.0, -6.0),
              keystone: float = 2e-4) -> ViewPair:
    """The target (the centre ``side x side`` crop of ``scene``) and a view of a ``field`` times wider field.

    The view has the target's pixel count, so the scene appears ``field`` times smaller in it; it is also rotated by
    ``angle_deg`` about its centre, shifted by ``shift`` view pixels and tilted by ``keystone`` (perspective, per
    pixel). ``scene``: uint8 or float (H, W, 3), large enough that the whole view lies inside it. Returns float
    images in [0, 1] and the true and nominal transforms from target pixels to view pixels.
    """
    scene = np.asarray(scene)
    if scene.ndim != 3 or scene.shape[2] != 3:
        raise UserError(f"scene must be an (H, W, 3) image; got shape {scene.shape}")
    if field < 1:
        raise UserError(f"field is how much wider the view sees than the target, at least 1; got {field!r}")
    image = scene.astype(np.float64) / 255.0 if scene.dtype == np.uint8 else scene.astype(np.float64)
    height, width = image.shape[:2]
    centre_scene, centre_view = np.array([width, height]) / 2.0, np.array([side, side]) / 2.0
    offset = np.floor(centre_scene - side / 2.0)  # the target's top-left corner in the scene, (col, row)
    # view pixel -> scene point: about the view's centre tilt, stretch by the field and rotate; then shift
    view_to_scene = (_shift(centre_scene + field * np.asarray(shift, dtype=np.float64))
                     @ _homography(field, angle_deg, (keystone, 0.5 * keystone)) @ _shift(-centre_view))
    corners = np.array([[0.0, 0.0], [side, 0.0], [side, side], [0.0, side]])
    footprint = ProjectiveTransform(view_to_scene)(corners)
    if footprint.min() < 0 or np.any(footprint.max(axis=0) > [width - 1, height - 1]):
        raise UserError(f"the view (side {side}, field {field}, shift {shift}) reaches outside the {height} x "
                        f"{width} scene; lower side, field or shift, or pass a larger scene")
    target = image[int(offset[1]): int(offset[1]) + side, int(offset[0]): int(offset[0]) + side]
    view = warp(image, ProjectiveTransform(view_to_scene), output_shape=(side, side), order=3)
    target_to_scene = _shift(offset)
    true = ProjectiveTransform(np.linalg.inv(view_to_scene) @ target_to_scene)
    nominal_to_scene = _shift(centre_scene) @ _homography(field, 0.0) @ _shift(-centre_view)
    nominal = ProjectiveTransform(np.linalg.inv(nominal_to_scene) @ target_to_scene)
    return ViewPair(np.clip(target, 0, 1), np.clip(view, 0, 1), true, nominal)


@dataclass(frozen=True)
class Registration:
    """A homography estimated from feature matches."""

    transform: ProjectiveTransform  # target pixel (col, row) -> view pixel (col, row)
    matches: int  # descriptor matches (mutual nearest neighbours that pass the ratio test)
    inliers: int  # matches within the residual threshold of the RANSAC model
    target_points: np.ndarray  # (matches, 2) keypoints in the target, (col, row)
    view_points: np.ndarray  # (matches, 2) the matched keypoints in the view
    inlier_mask: np.ndarray  # (matches,) bool


def _features(image: np.ndarray, detector: str, keypoints: int):
    """Keypoints ``(n, 2)`` as (col, row) and their descriptors, from SIFT or ORB on the grey image."""
    grey = rgb2gray(image) if image.ndim == 3 else image
    if detector == "sift":
        found = SIFT(n_hist=4, n_ori=8)  # 128-value gradient histograms, sub-pixel keypoint positions
    elif detector == "orb":
        found = ORB(n_keypoints=keypoints, fast_threshold=0.05)  # 256 binary comparisons per keypoint
    else:
        raise UserError(f"detector must be 'sift' or 'orb'; got {detector!r}")
    try:
        found.detect_and_extract(grey)
    except RuntimeError as err:  # scikit-image raises when an image has no corners at all
        raise UserError(f"no feature matches possible: {err}") from err
    return found.keypoints[:, ::-1], found.descriptors


def estimate_homography(target: np.ndarray, view: np.ndarray, detector: str = "sift", keypoints: int = 800,
                        threshold: float = 1.0, trials: int = 2000, seed: int = 0) -> Registration:
    """Match keypoints of ``target`` and ``view`` and fit a homography with RANSAC (target -> view).

    ``detector`` ``"sift"`` (default; gradient histograms and sub-pixel positions, the more precise) or ``"orb"``
    (binary descriptors, at most ``keypoints`` of them; faster, positions only as fine as its pyramid level). The
    matches are mutual nearest neighbours that pass a ratio test (0.8). RANSAC fits a homography to 4 random
    matches ``trials`` times, keeps the one with the most matches within ``threshold`` pixels, and refits it on
    all of them.
    """
    (target_points, target_desc), (view_points, view_desc) = (
        _features(target, detector, keypoints), _features(view, detector, keypoints))
    pairs = match_descriptors(target_desc, view_desc, cross_check=True, max_ratio=0.8)
    if len(pairs) < 4:
        raise UserError(f"only {len(pairs)} feature matches; a homography needs at least 4. Are the images of "
                        "the same scene, with texture?")
    src, dst = target_points[pairs[:, 0]], view_points[pairs[:, 1]]
    model, inliers = ransac((src, dst), ProjectiveTransform, min_samples=4, residual_threshold=threshold,
                            max_trials=trials, rng=seed)
    if model is None or inliers is None:
        raise UserError("RANSAC found no homography; try more keypoints or a larger threshold")
    return Registration(model, len(pairs), int(inliers.sum()), src, dst, inliers)


def corner_error(estimate: ProjectiveTransform, true: ProjectiveTransform, side: int) -> float:
    """Mean distance, in target pixels, between the target's four corners mapped into the view by ``estimate``
    and mapped back by the inverse of ``true`` (0 for a perfect registration)."""
    corners = np.array([[0.0, 0.0], [side - 1.0, 0.0], [side - 1.0, side - 1.0], [0.0, side - 1.0]])
    landed = true.inverse(estimate(corners))
    return float(np.linalg.norm(landed - corners, axis=1).mean())


def align(view: np.ndarray, transform: ProjectiveTransform, side: int) -> np.ndarray:
    """The view resampled into the target's ``side x side`` pixel grid through ``transform`` (target -> view):
    the crop of the view to what the target shows. Float (side, side, 3) in [0, 1]."""
    return np.clip(warp(view, transform, output_shape=(side, side), order=3, mode="edge"), 0.0, 1.0)
