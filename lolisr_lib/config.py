"""Configuration: dataclasses with a comment per field, named presets, JSON round trip, CLI overrides.

A checkpoint stores ``asdict(config)`` as JSON beside its weights, so a model can always be rebuilt from the
file alone. Presets: ``paper-x2`` / ``paper-x4`` follow ``docs/model.md`` (L=3 levels, K=12 steps, hidden 64, HR
patch 160, batch 16); ``tiny-x2`` / ``tiny-x4`` are small enough to learn visibly in a few CPU minutes on the
bundled miniature; ``small-*`` and ``wide-*`` are sized for one to two CPU hours on simulated pairs (the shipped
models, data/pretrained/README.md). ``*-x1`` variants (pure enhancement) exist for all of them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, fields, replace

from lolisr_lib.errors import ConfigError

SCALES = (1, 2, 4)  # the upscaling factors RELLISUR has targets for; x1 is pure enhancement

@dataclass(frozen=True)
class EncoderConfig:
    kind: str = "mpct"  # "mpct" (multi-resolution parallel transformer) or "cnn" (residual CNN, for ablation)
    channels: int = 64  # C0: channels of the finest branch; the others have 2*C0 and 4*C0
    blocks: int = 2  # N: transformer blocks per branch and stage
    stages: int = 3  # S: stages, each followed by cross-scale fusion
    heads: tuple[int, int, int] = (1, 2, 4)  # attention heads per branch, finest first
    use_log: bool = True  # input feature: log(clamp(lq, 1e-3))
    use_he: bool = True  # input feature: per-channel histogram-equalised lq
    use_cr: bool = True  # input feature: colour-ratio map of lq
    use_noise: bool = True  # input feature: noise map (gradient magnitude of the CR map)


@dataclass(frozen=True)
class FlowConfig:
    levels: int = 3  # L: flow levels; each squeezes by 2, so the latent is at H / 2**L (3: what the encoders serve)
    steps: int = 12  # K: conditional flow steps per level
    hidden: int = 64  # hidden width of the coupling / injector networks
    cond_channels: int = 128  # channels of each level's condition from the encoder
    unconditional_steps: int = 2  # ActNorm + InvConv1x1 steps after each squeeze (LLFlow)
    split: bool = False  # factor out half the channels per level with a learned prior (LLFlow disables it)
    scale_fn: str = "softclamp"  # "softclamp" (bounded log-scale, ours) or "sigmoid" (LLFlow/SRFlow)


@dataclass(frozen=True)
class BaselineConfig:
    channels: int = 64  # width of the learned CNN baselines
    blocks: int = 8  # residual blocks of the learned CNN baselines


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "lolisrflow"  # "lolisrflow", or a learned baseline: "joint-cnn", "sequential-cnn"
    scale: int = 2  # super-resolution factor: 1 (enhancement only), 2 or 4
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    gamma: float = 1.5  # weight of the L1 term: loss = nll_weight * NLL + gamma * L1 (paper: 1 and 1.5)
    nll_weight: float = 1.0  # weight of the NLL term (0: an "L1 only" ablation, a deterministic network)
    rho: float = 0.2  # probability of using CR(gt) instead of the predicted CR map as prior mean (LLFlow)
    dequantize: bool = True  # add U(0, 1/256) noise to gt in training (LLFlow/SRFlow never do)
    skip: str = "none"  # "gain": the flow models gt minus the brightened, upscaled input (model/input_skip.py; ours)
    pad_multiple: int = 8  # LR inputs are reflect-padded to a multiple of this; must be a multiple of 2**levels = 8
    baseline: BaselineConfig = field(default_factory=BaselineConfig)  # used by the CNN baselines only


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 100_000  # optimiser steps
    batch_size: int = 16  # images per step (per process under torchrun)
    patch_size: int = 160  # HR patch side; the LR patch is patch_size / scale
    lr: float = 5e-4  # Adam learning rate after warm-up
    betas: tuple[float, float] = (0.9, 0.99)  # Adam betas, really applied (LLFlow passes them under ignored keys)
    weight_decay: float = 0.0  # Adam weight decay
    warmup_steps: int = 1000  # linear warm-up from 0 to lr
    decay_at: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95)  # fractions of steps where lr is halved
    ema_decay: float = 0.0  # keep a moving average of the weights with this decay, validated and shipped (0 = off)
    grad_clip: float = 10.0  # max global gradient norm (0 = off)
    augment: bool = True  # random 90-degree rotations and flips (paper)
    exposures: tuple[float, ...] | None = None  # train only on these EVs (None = all)
    bf16: bool = False  # bf16 autocast where native: CUDA, CPUs with AVX-512 BF16/AMX (fp16: NaN-prone, not offered)
    val_every: int = 5000  # validate on Val every N steps (0 = only at the end)
    val_images: int = 0  # number of Val images per validation (0 = all)
    select_by: str = "psnr"  # Val score choosing best.pt: "psnr", "psnr_exposure" (brightness from the EV), "ssim"
    checkpoint_every: int = 1000  # write a resumable checkpoint every N steps
    log_every: int = 1  # write a log line every N steps
    num_workers: int = 4  # DataLoader workers (notebooks use 0)
    seed: int = 0  # seeds model init, data order, crops and the CR-prior coin
    val_crop: int = 0  # centre-crop Val images to this HR side before scoring (0 = full size; e.g. 256 on CPU)
    data: str = "dataset"  # "dataset": crops of the data root's Train split; "simulated": lolisr_lib.data.simulated
    sim_items: int = 4096  # simulated pairs per epoch (train.data = "simulated")
    sim_scene_size: int = 256  # HR side of each simulated scene; crops are cut from it (HE on the whole scene)
    sim_jitter: float = 1.0  # spread of the simulated cameras around the calibrated one (0: no augmentation)
    sim_reexpose: bool = True  # re-expose each simulated target to RELLISUR's mean brightness (85..120 of 255)
    sim_channel_pedestal: float = 0.0  # spread of each camera's per-channel black-point shift (linear DN; 0: none)
    max_skipped_in_a_row: int = 50  # abort when this many consecutive steps had a NaN/Inf loss or gradient (0 = never)


@dataclass(frozen=True)
class Config:
    name: str = "custom"  # preset name this config came from
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Config:
        return config_from_dict(json.loads(text))


def _paper(scale: int) -> Config:
    return Config(name=f"paper-x{scale}", model=ModelConfig(scale=scale))


def _tiny(scale: int) -> Config:
    model = ModelConfig(
        scale=scale,
        encoder=EncoderConfig(channels=16, blocks=1, stages=2, heads=(1, 1, 2)),
        flow=FlowConfig(levels=3, steps=4, hidden=32, cond_channels=32),
    )
    train = TrainConfig(
        # about 4 minutes on the 2-core CPU machine; the HR patch is 64 at every scale (LR 16 at x4) so that
        # the flow, which dominates the cost, does the same work at x2 and x4
        steps=400,
        batch_size=8,
        patch_size=64,
        warmup_steps=50,
        val_every=200,
        val_images=8,
        checkpoint_every=100,
        num_workers=0,
    )
    return Config(name=f"tiny-x{scale}", model=model, train=train)


def _small(scale: int) -> Config:
    """The shipped models' preset (data/pretrained/README.md): the tiny architecture a little wider (encoder
    C0 24, flow hidden and conditions 48), on larger patches, for 3,000 steps (about an hour and a half on one
    CPU thread), on simulated pairs drawn afresh for every item."""
    tiny = _tiny(scale)
    m, t = tiny.model, tiny.train
    model = replace(m, encoder=replace(m.encoder, channels=24, heads=(1, 2, 2)),
                    flow=replace(m.flow, hidden=48, cond_channels=48))
    train = replace(t, steps=3000, patch_size=96, warmup_steps=200, decay_at=(0.6, 0.8, 0.9), val_every=250,
                    val_images=20, checkpoint_every=250, log_every=10, data="simulated", sim_items=8192)
    return Config(name=f"small-x{scale}", model=model, train=train)


def _wide(scale: int) -> Config:
    """``small`` with the encoder twice as wide (C0 48) for 4,000 steps (about an hour and forty minutes on two
    CPU threads), ``best.pt`` chosen by Val SSIM. Val PSNR mostly scores the brightness guess on one photograph
    (data/pretrained/README.md, "A wider encoder at x4"), so the checkpoint is chosen on structure. Seed 1: seed
    0's run of this recipe had been scored on Test before SSIM was chosen as the rule, so a fresh draw judges it."""
    small = _small(scale)
    model = replace(small.model, encoder=replace(small.model.encoder, channels=48))
    train = replace(small.train, steps=4000, select_by="ssim", seed=1)
    return Config(name=f"wide-x{scale}", model=model, train=train)


def _wide_ema(scale: int) -> Config:
    """``wide`` with a moving average of the weights (decay 0.998, about the last 500 steps), validated, chosen
    and shipped in place of the raw weights. The average removed every large Val dip of the ``small`` runs at both
    scales (data/pretrained/README.md, "The weight average at both scales"); same seed as ``wide``, so that the
    two runs differ by the average alone. Measured at x4 (not shipped): Val rose with no fall over 0.07 dB, Test
    18.26 dB / 0.596 (card, "A wider encoder at x4")."""
    wide = _wide(scale)
    return Config(name=f"wide-ema-x{scale}", model=wide.model, train=replace(wide.train, ema_decay=0.998))


def _wide_ema_long(scale: int) -> Config:
    """``wide-ema`` for 5,000 steps from a fresh seed (2): the shipped x4 model (data/pretrained/README.md).
    The average lags the last learning-rate halvings, and ``wide-ema-x4``'s Val SSIM still rose at its end, so
    the schedule is a quarter longer (its halvings at the same fractions of the run); seed 1's Test figures had
    been read, so a fresh draw judges the recipe."""
    wide_ema = _wide_ema(scale)
    train = replace(wide_ema.train, steps=5000, seed=2)
    return Config(name=f"wide-ema-long-x{scale}", model=wide_ema.model, train=train)


def _small_skip(scale: int) -> Config:
    """``small`` with the input skip (``model.skip = "gain"``: the flow models what the brightened capture lacks;
    docs/model.md, "The input skip") and the weight average of ``wide-ema`` (decay 0.998), 3,000 steps from seed 0:
    the same data, seed and schedule as ``small`` and its averaged run, so that the skip is what differs."""
    small = _small(scale)
    return Config(name=f"small-skip-x{scale}", model=replace(small.model, skip="gain"),
                  train=replace(small.train, ema_decay=0.998))


_KINDS = {"paper": _paper, "tiny": _tiny, "small": _small, "wide": _wide, "wide-ema": _wide_ema,
          "wide-ema-long": _wide_ema_long, "small-skip": _small_skip}
PRESETS = {f"{kind}-x{s}": (lambda s=s, kind=kind: _KINDS[kind](s)) for kind in _KINDS for s in SCALES}


def preset(name: str) -> Config:
    """The named preset: ``paper-x1|2|4``, ``small-x1|2|4``, ``wide-x1|2|4``, ``wide-ema-x1|2|4``,
    ``wide-ema-long-x1|2|4``, ``small-skip-x1|2|4`` or ``tiny-x1|2|4``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    return PRESETS[name]()


def _build(cls, data: dict, path: str):
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ConfigError(f"unknown config field(s) {', '.join(sorted(path + k for k in unknown))}")
    values = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        if dataclasses.is_dataclass(default):
            values[name] = _build(type(default), value, f"{path}{name}.")
        elif isinstance(value, list):  # JSON turns tuples into lists
            values[name] = tuple(value)
        else:
            values[name] = value
    return cls(**values)


def config_from_dict(data: dict) -> Config:
    """Rebuild a :class:`Config` from ``asdict`` output (e.g. a checkpoint's JSON); unknown fields are errors."""
    return _build(Config, data, "")


def _parse_value(text: str, current):
    """Parse a command-line value into the type of the field's current value."""
    if isinstance(current, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    if isinstance(current, str):
        return text
    # tuples and optional tuples: JSON or comma-separated numbers; "none" clears an optional field
    if text.lower() == "none":
        return None
    parsed = json.loads(text) if text.startswith("[") else [float(v) for v in text.split(",") if v]
    if current and all(isinstance(v, int) for v in current):
        parsed = [int(v) for v in parsed]
    return tuple(parsed)


def with_overrides(config: Config, overrides: list[str]) -> Config:
    """Apply ``"train.steps=50"``-style overrides (dotted paths; the section may be omitted when unique)."""
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip().lstrip("-")
        if not sep:
            raise ConfigError(f"override {item!r} is not of the form field=value (e.g. train.steps=50)")
        path = _resolve(config, key.split("."))
        config = _set(config, path, text, item)
    return config


def _resolve(config: Config, parts: list[str]) -> list[str]:
    """Full dotted path for ``parts``; a bare field name is looked up in every section."""
    candidates = []

    def walk(obj, prefix):
        for f in fields(obj):
            value = getattr(obj, f.name)
            here = prefix + [f.name]
            if here[-len(parts):] == parts:
                candidates.append(here)
            if dataclasses.is_dataclass(value):
                walk(value, here)

    walk(config, [])
    if len(candidates) != 1:
        what = "no" if not candidates else "an ambiguous"
        raise ConfigError(
            f"{what} config field {'.'.join(parts)!r}"
            + (f" (matches {', '.join('.'.join(c) for c in candidates)})" if candidates else "")
            + "; see lolisr_lib/config.py for the fields"
        )
    return candidates[0]


def _set(obj, path: list[str], text: str, item: str):
    head, rest = path[0], path[1:]
    current = getattr(obj, head)
    if rest:
        return replace(obj, **{head: _set(current, rest, text, item)})
    try:
        value = _parse_value(text, current)
    except ValueError:
        raise ConfigError(f"override {item!r}: cannot read {text!r} as {type(current).__name__}") from None
    return replace(obj, **{head: value})
