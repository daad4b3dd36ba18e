"""A miniature RELLISUR made from the photographs scikit-image ships: the exact real layout, no download.

The real dataset (Aakerberg et al., NeurIPS 2021; 8.9 GB) cannot be fetched at run time, so the notebooks and
tests run on this stand-in. It has RELLISUR's folders and names (``RELLISUR-Dataset/{Train,Val,Test}/LLLR/
{id}-{ev}.png``, ``NLHR/X{1,2,4}/{id}.png``, optionally ``NLHR-Duplicates``), five exposures per scene in the
real EV windows ([-2.5 .. -4.5] for most ids <= 00223, [-2.0 .. -4.0] for a few, [-3.0 .. -5.0] for ids >=
00225), and each photograph's scenes sit in one split only. A scene is a square crop of a photograph resized
to ``4 * lr_size`` (the x4 target); x2 and x1 are clean area downscales in linear light
(:func:`~lolisr_lib.image.degrade.downscale_target`); each input is :func:`~lolisr_lib.image.degrade.degrade` of the x4
target at scale 4. The photographs are bundled with scikit-image (no pooch download); with ``lr_size`` above
75 the smallest of them (chelsea, 300 px high) is upsampled, so its targets get soft.

Building is deterministic (same arguments, byte-identical files) and atomic: everything is written into a
temporary folder next to the destination, a marker file last, and the folder is renamed into place.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from lolisr_lib.config import SCALES
from lolisr_lib.data.layout import DATASET_DIR, DUPLICATE_DIR, INPUT_DIR, SPLITS, TARGET_DIR, lllr_name
from lolisr_lib.errors import DatasetError
from lolisr_lib.image.degrade import degrade, downscale_target
from lolisr_lib.image.exposure import expose_to_mean
from lolisr_lib.image.io import write_png

MARKER = ".complete"  # written last: a folder without it is not a finished build
MINI_FORMAT = 2  # bump when the content for given arguments changes, so old builds are rebuilt (2: calibrated simulator)
DEFAULT_LR_SIZE = 64
DEFAULT_SEED = 0
CROP_FRACTION = 0.6  # a crop spans this fraction of its region's short side (at least the x4 target size)


@dataclass(frozen=True)
class Source:
    """A photograph and the scenes cut from it."""

    photo: str  # scikit-image photograph, bundled with the package (no download)
    split: str  # the one split that receives all its scenes
    crops: int  # scenes cut from it
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # (top, left, bottom, right) crops stay in


SOURCES = (
    Source("astronaut", "Train", 6),
    Source("coffee", "Train", 4),
    Source("immunohistochemistry", "Train", 4),
    Source("retina", "Train", 4, (0.15, 0.15, 0.85, 0.85)),  # inside the round fundus, away from the black
    Source("chelsea", "Val", 4),
    Source("motorcycle_left", "Test", 3),
    Source("motorcycle_right", "Test", 2),  # the other view of the same stereo scene, hence the same split
    Source("rocket", "Test", 3),
)

WINDOWS = {  # the three exposure windows of RELLISUR, 5 inputs in 0.5 EV steps
    "early": (-2.5, -3.0, -3.5, -4.0, -4.5),  # most scenes with id <= 00223
    "early-bright": (-2.0, -2.5, -3.0, -3.5, -4.0),  # a few scenes with id <= 00223
    "late": (-3.0, -3.5, -4.0, -4.5, -5.0),  # every scene with id >= 00225
}


@dataclass(frozen=True)
class Scene:
    """One scene of the miniature: where it comes from and what is written for it."""

    scene: str  # five-digit id, unique across splits
    split: str  # "Train", "Val" or "Test"
    photo: str  # the source photograph
    box: tuple[int, int, int]  # (top, left, side) of the square crop in the photograph, pixels
    evs: tuple[float, ...]  # the five exposures of its inputs


@functools.lru_cache(maxsize=None)
def load_photo(name: str) -> np.ndarray:
    """A bundled scikit-image colour photograph as read-only uint8 (H, W, 3), decoded once per process."""
    if name.startswith("motorcycle_"):
        left, right, _ = skimage.data.stereo_motorcycle()
        photo = left if name == "motorcycle_left" else right
    else:
        photo = getattr(skimage.data, name)()
    photo.flags.writeable = False  # shared by every build of this process
    return photo


def _scene_ids(count: int, offset: int) -> list[int]:
    """``count`` ids spread over the real range 1..885; each split has its own offset so ids never collide."""
    return [offset + round((k + 0.5) * 880 / count) for k in range(count)]


def _window(scene_id: int, early_rank: int) -> tuple[float, ...]:
    """The exposures of a scene: late ids get [-3 .. -5]; every third early one [-2 .. -4], else [-2.5 .. -4.5]."""
    if scene_id >= 224:
        return WINDOWS["late"]
    return WINDOWS["early-bright"] if early_rank % 3 == 1 else WINDOWS["early"]


def _crop_box(shape: tuple[int, ...], region, hr_side: int, rng: np.random.Generator) -> tuple[int, int, int]:
    top, left, bottom, right = (round(f * n) for f, n in zip(region, shape[:2] * 2))
    short = min(bottom - top, right - left)
    side = min(short, max(hr_side, round(CROP_FRACTION * short)))
    i = top + int(rng.integers(0, bottom - top - side + 1))
    j = left + int(rng.integers(0, right - left - side + 1))
    return i, j, side


def plan_scenes(lr_size: int = DEFAULT_LR_SIZE, seed: int = DEFAULT_SEED) -> list[Scene]:
    """Every scene of the miniature: id, split, source photograph, crop box and exposures."""
    scenes = []
    for offset, split in enumerate(SPLITS):
        sources = [(k, source) for k, source in enumerate(SOURCES) if source.split == split]
        ids = iter(_scene_ids(sum(source.crops for _, source in sources), offset))
        early_rank = 0
        for k, source in sources:
            rng = np.random.default_rng([seed, k])
            shape = load_photo(source.photo).shape
            for _ in range(source.crops):
                scene_id = next(ids)
                box = _crop_box(shape, source.region, 4 * lr_size, rng)
                scenes.append(Scene(f"{scene_id:05d}", split, source.photo, box, _window(scene_id, early_rank)))
                early_rank += scene_id < 224
    return scenes


def _target(photo: np.ndarray, box: tuple[int, int, int], hr_side: int) -> np.ndarray:
    """The x4 target: the crop, resized (Lanczos) to hr_side x hr_side when its size differs."""
    i, j, side = box
    crop = photo[i : i + side, j : j + side]
    if side == hr_side:
        return np.ascontiguousarray(crop)
    return np.asarray(Image.fromarray(crop).resize((hr_side, hr_side), Image.Resampling.LANCZOS))


def _expose_into(x4: np.ndarray, target_means: tuple[float, float] | None) -> np.ndarray:
    """The x4 target exposed into ``target_means`` (mean code values), to the nearer end, when it lies outside."""
    if target_means is None:
        return x4
    low, high = target_means
    mean = float(x4.mean())
    return x4 if low <= mean <= high else expose_to_mean(x4, low if mean < low else high)


def _noise_seed(seed: int, scene: str, ev: float) -> int:
    return int(np.random.SeedSequence([seed, int(scene), round(-ev * 10)]).generate_state(1)[0])


def _write_scene(root: Path, scene: Scene, x4: np.ndarray, seed: int, duplicates: bool) -> None:
    split_dir = root / scene.split
    targets = {4: x4, 2: downscale_target(x4, 2), 1: downscale_target(x4, 4)}
    for scale, image in targets.items():
        write_png(split_dir / TARGET_DIR / f"X{scale}" / f"{scene.scene}.png", image)
    for ev in scene.evs:
        name = lllr_name(scene.scene, ev)
        write_png(split_dir / INPUT_DIR / name, degrade(x4, 4, ev, seed=_noise_seed(seed, scene.scene, ev)))
        if duplicates:
            for scale in SCALES:
                source = split_dir / TARGET_DIR / f"X{scale}" / f"{scene.scene}.png"
                shutil.copyfile(source, split_dir / DUPLICATE_DIR / f"X{scale}" / name)


def _readme(scenes: list[Scene], settings: dict) -> str:
    lines = [
        "A miniature stand-in for RELLISUR, built by lolisr_lib.data.make_mini_rellisur; not the real dataset.",
        "",
        "Same folders and file names as RELLISUR-Dataset from the RELLISUR download (Aakerberg et al., NeurIPS",
        "2021; Zenodo doi 10.5281/zenodo.5234969), but every scene is a crop of a photograph bundled with",
        "scikit-image (see skimage.data for each photograph's source and licence). NLHR/X4 is the crop, X2 and",
        "X1 are clean downscales, LLLR/{id}-{m}.png is lolisr_lib.image.degrade.degrade(X4, 4, ev=-m): the scene at",
        "-m EV with simulated shot and read noise. Use it for tests and teaching; report results on RELLISUR.",
        "",
        f"settings: {json.dumps(settings)}",
        *([f"target_means: every x4 target whose mean code value lay outside {settings['target_means']} was "
           "exposed into that range (one gain in linear light) before its inputs were made.", ""]
          if "target_means" in settings else [""]),
        "scene  split  photograph            crop (top, left, side)  exposures (EV)",
    ]
    for s in scenes:
        box = ", ".join(map(str, s.box))
        lines.append(f"{s.scene}  {s.split:<5}  {s.photo:<20}  {box:<22}  {s.evs[0]} .. {s.evs[-1]}")
    return "\n".join(lines) + "\n"


def _write_all(root: Path, lr_size: int, seed: int, duplicates: bool, target_means=None) -> None:
    for split in SPLITS:
        folders = [INPUT_DIR] + [f"{TARGET_DIR}/X{s}" for s in SCALES]
        folders += [f"{DUPLICATE_DIR}/X{s}" for s in SCALES] if duplicates else []
        for folder in folders:
            (root / split / folder).mkdir(parents=True)
    scenes = plan_scenes(lr_size, seed)
    for scene in scenes:
        x4 = _expose_into(_target(load_photo(scene.photo), scene.box, 4 * lr_size), target_means)
        _write_scene(root, scene, x4, seed, duplicates)
    settings = _settings(lr_size, seed, duplicates, target_means)
    (root / "README.txt").write_text(_readme(scenes, settings), encoding="utf-8")
    (root / MARKER).write_text(json.dumps(settings), encoding="utf-8")  # last: marks the build complete


def _settings(lr_size: int, seed: int, duplicates: bool, target_means=None) -> dict:
    settings = {"format": MINI_FORMAT, "lr_size": lr_size, "seed": seed, "duplicates": duplicates}
    return settings | ({"target_means": list(target_means)} if target_means is not None else {})


def is_complete(root: Path, settings: dict | None = None) -> bool:
    """Whether ``root`` is a finished miniature build (with exactly these ``settings``, when given)."""
    try:
        found = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return settings is None or found == settings


def _install(tmp: Path, final: Path, replace: bool, settings: dict) -> None:
    """Move the finished build ``tmp`` to ``final``; keep an identical finished one there unless ``replace``."""
    if final.exists() and not replace and is_complete(final, settings):
        return
    old = tmp.with_name(tmp.name + "-old")
    if final.exists():
        final.rename(old)
    try:
        tmp.rename(final)
    except OSError:
        if old.exists() and not final.exists():
            old.rename(final)  # put the previous build back
        if not is_complete(final, settings):  # else another process installed the same miniature just now
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _build(out_dir: Path, lr_size: int, seed: int, duplicates: bool, replace: bool, target_means=None) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{DATASET_DIR}.building-", dir=out_dir))
        tmp.chmod(0o755)  # mkdtemp makes it private; the finished dataset is an ordinary readable folder
    except OSError as err:
        message = f"cannot create the miniature in {out_dir} ({err.strerror}); choose a writable folder"
        raise DatasetError(message) from err
    try:
        _write_all(tmp, lr_size, seed, duplicates, target_means)
        _install(tmp, out_dir / DATASET_DIR, replace, _settings(lr_size, seed, duplicates, target_means))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir / DATASET_DIR


def make_mini_rellisur(out_dir: str | Path, *, lr_size: int = DEFAULT_LR_SIZE, seed: int = DEFAULT_SEED,
                       duplicates: bool = False, target_means: tuple[float, float] | None = None) -> Path:
    """Build the miniature in ``out_dir/RELLISUR-Dataset`` (replacing one already there) and return that path.

    ``lr_size``: side of the LLLR inputs (targets are 1, 2, 4 times that); ``seed``: crop positions and
    noise; ``duplicates``: also write ``NLHR-Duplicates/X{s}/{id}-{ev}.png`` copies; ``target_means``: a
    range of mean code values, e.g. ``(90, 110)`` as RELLISUR's auto-exposed targets: each x4 target outside it
    is exposed into it (to the nearer end, one gain in linear light) before its inputs are made. ``None``, the
    default and the bundled miniature, keeps each photograph's own exposure (the rocket scenes are darker).
    """
    if not isinstance(lr_size, int) or isinstance(lr_size, bool) or not 4 <= lr_size <= 256:
        raise DatasetError(f"lr_size must be an integer from 4 to 256 (the LLLR side, pixels); got {lr_size!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DatasetError(f"seed must be a non-negative integer; got {seed!r}")
    if target_means is not None:
        try:
            low, high = (float(v) for v in target_means)
        except (TypeError, ValueError):
            low = high = float("nan")
        if not 0.0 < low <= high < 255.0:
            raise DatasetError(f"target_means must be two mean code values 0 < low <= high < 255, e.g. (90, 110); "
                               f"got {target_means!r}")
        target_means = (low, high)
    return _build(Path(out_dir).expanduser(), lr_size, seed, bool(duplicates), replace=True,
                  target_means=target_means)


def candidate_homes() -> list[Path]:
    """Where the default miniature may live: the repository's data/mini, then a per-user cache folder."""
    homes = []
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "lolisr_lib").is_dir():
        homes.append(repo / "data" / "mini")
    cache = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA") or Path.home() / ".cache"
    homes.append(Path(cache) / "lolisr_lib" / "mini")
    return homes


def default_root() -> Path:
    """The default miniature's ``RELLISUR-Dataset`` folder, built on first use (lr_size 64, seed 0)."""
    settings = _settings(DEFAULT_LR_SIZE, DEFAULT_SEED, False)
    homes = candidate_homes()
    for home in homes:
        if is_complete(home / DATASET_DIR, settings):
            return home / DATASET_DIR
    errors = []
    for home in homes:
        try:
            return _build(home, DEFAULT_LR_SIZE, DEFAULT_SEED, False, replace=False)
        except DatasetError as err:
            errors.append(str(err))
    raise DatasetError("cannot build the default miniature anywhere: " + "; ".join(errors))
