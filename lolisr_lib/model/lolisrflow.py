"""LoLiSRFlow: joint low-light enhancement and super-resolution with a conditional normalizing flow.

Yue et al., "LoLiSRFlow", arXiv 2402.18871 (2024); built on LLFlow (Wang et al., AAAI 2022) and SRFlow
(Lugmayr et al., ECCV 2020). See ``docs/model.md``.

- The encoder E turns the dark low-resolution input ``lq`` into one condition tensor per flow level and a
  predicted colour-ratio map ``cr_hat`` at HR.
- The flow F maps the normal-light HR image ``gt`` to a latent ``z = F(gt; E(lq))`` at ``H / 2**L``.
- The prior is ``N(mu, I)`` with ``mu = squeeze_L(cr_hat)`` (the CR prior); in training the ground-truth map
  ``CR(gt)`` replaces ``cr_hat`` with probability ``rho`` (LLFlow).
- Loss: ``NLL + gamma * L1(clamp(F^-1(mu; x)), gt)``, NLL in bits per pixel position (LLFlow's scale).
- Prediction: ``F^-1(mu; x)`` (temperature 0); samples ``F^-1(mu + tau * eps; x)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lolisr_lib.checkpoint import checkpoint_config, expect_scale, read_checkpoint, restore, write_checkpoint
from lolisr_lib.config import SCALES, Config, ModelConfig
from lolisr_lib.encoder import build_encoder, encoder_features
from lolisr_lib.encoder.heads import LEVELS, MULTIPLE
from lolisr_lib.errors import CheckpointError, ConfigError, UserError
from lolisr_lib.flow import ConditionalFlow, Squeeze
from lolisr_lib.flow.likelihood import bits_per_dim, dequantize, gaussian_log_prob, nll_bits_per_pixel
from lolisr_lib.image.color import cr_map
from lolisr_lib.image.exposure import capture_linear_mean
from lolisr_lib.model.input_skip import SKIPS, brightened_capture
from lolisr_lib.runtime.tiling import available_memory, choose_tile, tiled_apply


def validate_model_config(config: Config) -> None:
    """Raise a ConfigError naming the field where LoLiSRFlow cannot run ``config.model``'s geometry.

    Called when the model is built, so that a bad value fails there and not at the first forward pass.
    """
    m = config.model
    if m.flow.levels != LEVELS:
        raise ConfigError(f"model.flow.levels={m.flow.levels}: the encoder serves {LEVELS} levels (one condition "
                          f"each); set model.flow.levels={LEVELS}")
    if m.skip not in SKIPS:
        raise ConfigError(f"model.skip={m.skip!r} is not one of {', '.join(SKIPS)}; use \"none\" (the paper's "
                          "model) or \"gain\" (the input skip, docs/model.md)")
    # The flow squeezes HR by 2 per level (HR / 2**levels) and the encoder takes LR sides that are multiples of
    # MULTIPLE = 2**levels at every scale (its coarsest branch is LR / 8 at x1); padding LR to such a multiple
    # satisfies both, since HR = scale * LR.
    if m.pad_multiple < 1 or m.pad_multiple % MULTIPLE:
        raise ConfigError(
            f"model.pad_multiple={m.pad_multiple} must be a positive multiple of 2**levels={MULTIPLE}: the encoder "
            f"takes LR sides that divide by {MULTIPLE} at every scale, and the flow squeezes HR by 2 at each of its "
            f"{LEVELS} levels"
        )


class LoLiSRFlow(nn.Module):
    """Conditional encoder + multi-level conditional flow + colour-ratio prior (see the module docstring)."""

    def __init__(self, config: Config | ModelConfig):
        super().__init__()
        if isinstance(config, ModelConfig):
            config = Config(model=config)
        self.config = config
        m = config.model
        if m.scale not in SCALES:
            raise UserError(f"model.scale={m.scale} is not supported; use 1, 2 or 4")
        # a config the encoder or the flow cannot run fails here, naming the field, not at the first forward
        validate_model_config(config)
        self.scale = m.scale
        self.levels = m.flow.levels
        # LR inputs are padded to a multiple of this, so that every encoder branch and flow level has an
        # integer size (docs/model.md section 1): validate_model_config checks it is a multiple of 2**levels.
        self.pad_multiple = m.pad_multiple
        self.skip = m.skip
        e = m.encoder
        self.encoder = build_encoder(
            e.kind,
            m.scale,
            channels=e.channels,
            blocks=e.blocks,
            stages=e.stages,
            heads=e.heads,
            cond_channels=m.flow.cond_channels,
            use_log=e.use_log,
            use_he=e.use_he,
            use_cr=e.use_cr,
            use_noise=e.use_noise,
        )
        f = m.flow
        self.flow = ConditionalFlow(
            3,
            levels=f.levels,
            steps=f.steps,
            cond_channels=f.cond_channels,
            hidden=f.hidden,
            split=f.split,
            scale_fn=f.scale_fn,
            unconditional_steps=f.unconditional_steps,
        )
        self.squeeze = Squeeze()
        prior_channels = 3 * 4**f.levels
        latent_channels = self.flow.latent_shape(1, 2**f.levels, 2**f.levels)[1]
        # With splits the final latent has fewer channels than the squeezed CR map: a learned 1x1 projection
        # gives its mean (ours; docs/model.md section 5). Without splits the squeezed map is the mean as it is.
        self.prior_proj = (
            nn.Conv2d(prior_channels, latent_channels, 1) if latent_channels != prior_channels else None
        )

    # ----------------------------------------------------------------------------------------------- shapes
    def _pad(self, lq: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Reflect-pad ``lq`` (B, 3, h, w) at the bottom/right to a multiple of ``pad_multiple`` (of 2**levels)."""
        if lq.dim() != 4 or lq.shape[1] != 3:
            raise UserError(f"lq must be a (B, 3, h, w) tensor, got shape {tuple(lq.shape)}")
        h, w = lq.shape[-2:]
        ph, pw = (-h) % self.pad_multiple, (-w) % self.pad_multiple
        if ph or pw:
            # reflect padding needs pad < size; replicate covers tiny inputs
            mode = "reflect" if ph < h and pw < w else "replicate"
            lq = F.pad(lq, (0, pw, 0, ph), mode=mode)
        return lq, (h, w)

    def _pad_gt(self, gt: torch.Tensor, lq_padded: torch.Tensor, lq_size: tuple[int, int]) -> torch.Tensor:
        h, w = lq_size
        s = self.scale
        if gt.shape[-2:] != (s * h, s * w) or gt.shape[:2] != (lq_padded.shape[0], 3):
            raise UserError(
                f"gt has shape {tuple(gt.shape)}; expected ({lq_padded.shape[0]}, 3, {s * h}, {s * w}) "
                f"for lq of size {h}x{w} at scale {s}"
            )
        ph, pw = s * lq_padded.shape[-2] - s * h, s * lq_padded.shape[-1] - s * w
        if ph or pw:
            mode = "reflect" if ph < s * h and pw < s * w else "replicate"
            gt = F.pad(gt, (0, pw, 0, ph), mode=mode)
        return gt

    def input_skip(self, lq_p: torch.Tensor, lq: torch.Tensor,
                   capture_mean: torch.Tensor | None = None) -> torch.Tensor | float:
        """What the flow's output is added to, at HR (``model.skip``; model/input_skip.py): the padded input
        ``lq_p`` brightened by the gain that the whole capture's linear mean calls for (``capture_mean`` (B,), by
        default that of the unpadded ``lq``) and upscaled, or 0 without the skip (nothing is computed then)."""
        if self.skip == "none":
            return 0.0
        mean = capture_linear_mean(lq) if capture_mean is None else capture_mean
        return brightened_capture(lq_p, self.scale, mean)

    def _squeeze_levels(self, img: torch.Tensor) -> torch.Tensor:
        for _ in range(self.levels):
            img, _ = self.squeeze(img)
        return img  # (B, 3 * 4**L, H / 2**L, W / 2**L)

    def prior_mean(self, cr: torch.Tensor) -> torch.Tensor:
        """Mean of the final latent's Gaussian prior from a colour-ratio map at HR (the CR prior)."""
        mean = self._squeeze_levels(cr)
        return self.prior_proj(mean) if self.prior_proj is not None else mean

    # ----------------------------------------------------------------------------------------------- training
    def forward(self, lq: torch.Tensor, gt: torch.Tensor, generator: torch.Generator | None = None,
                lq_he: torch.Tensor | None = None, lq_mean: torch.Tensor | None = None) -> dict:
        """Loss terms for a batch: ``loss = nll + gamma * l1`` plus ``bpd``, the log-likelihood terms and ``sr``.

        ``nll``: bits per HR pixel position (LLFlow's normalisation); ``bpd``: bits per dimension with the
        dequantisation constant, comparable across papers and image sizes. ``lq_he``: the histogram
        equalisation of each crop's *whole* input image, cropped with it (the datasets provide it), so that
        training sees the same encoder input as inference on whole images; ``lq_mean`` (B,): the linear mean of
        each crop's whole input, for the input skip's gain, for the same reason (default: the crop's own).
        """
        m = self.config.model
        lq_p, size = self._pad(lq)
        gt_p = self._pad_gt(gt, lq_p, size)
        he_p = self._pad(lq_he)[0] if lq_he is not None else None
        conds, cr_hat = self.encoder(lq_p, he_p)
        skip = self.input_skip(lq_p, lq, lq_mean)
        x = dequantize(gt_p, generator=generator) if (self.training and m.dequantize) else gt_p
        latents, logdet, split_log_prob = self.flow(x - skip, conds)  # a shift given x: no log-det term
        cr_prior = cr_hat
        if self.training and m.rho > 0:
            use_gt = torch.rand(gt.shape[0], 1, 1, 1, device=gt.device, generator=generator) < m.rho
            cr_prior = torch.where(use_gt, cr_map(gt_p), cr_hat)
        log_prob = gaussian_log_prob(latents[-1], self.prior_mean(cr_prior)) + split_log_prob
        H, W = gt_p.shape[-2:]
        nll = nll_bits_per_pixel(log_prob, logdet, H, W)  # (B,)
        bpd = bits_per_dim(log_prob, logdet, 3 * H * W)  # (B,)
        # The reverse pass at the prior mean, with gradient, is the paper's L1 term (it trains the flow to put
        # the most likely image at the mean, and the encoder through the conditions and the CR head).
        sr, _ = self.flow.inverse(self.prior_mean(cr_hat), conds, temperature=0.0)
        sr = (sr + skip)[..., : gt.shape[-2], : gt.shape[-1]]
        finite = torch.isfinite(sr)
        diff = (sr.clamp(0, 1) - gt).abs()
        l1 = torch.where(finite, diff, torch.zeros_like(diff)).sum() / finite.sum().clamp(min=1)
        nll_mean = nll.mean()
        return {
            "loss": m.nll_weight * nll_mean + m.gamma * l1,
            "nll": nll_mean,
            "l1": l1,
            "bpd": bpd.mean(),
            "log_prob": log_prob.mean(),
            "logdet": logdet.mean(),
            "sr": sr.detach(),
        }

    # ------------------------------------------------------------------------------------------ flow access
    def encode(self, lq: torch.Tensor, gt: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The latents of ``gt`` given ``lq`` and the flow's log-det ``(B,)``. The latents are a list: one factored
        half per split level (none when the flow does not split), the final latent last."""
        lq_p, size = self._pad(lq)
        conds, _ = self.encoder(lq_p)
        skip = self.input_skip(lq_p, lq)
        latents, logdet, _ = self.flow(self._pad_gt(gt, lq_p, size) - skip, conds)
        return latents, logdet

    def decode(self, lq: torch.Tensor, z) -> torch.Tensor:
        """The image ``F^-1(z; E(lq))``, unclamped, cropped to ``scale`` times the size of ``lq``."""
        lq_p, (h, w) = self._pad(lq)
        conds, _ = self.encoder(lq_p)
        x, _ = self.flow.inverse(z, conds)
        return (x + self.input_skip(lq_p, lq))[..., : self.scale * h, : self.scale * w]

    # ---------------------------------------------------------------------------------------------- inference
    def _generate(self, lq_p, temperature, eps=None, features=None, generator=None) -> torch.Tensor:
        """One pass on a padded LR input: conditions, prior mean, optional noise, inverse flow."""
        if features is None:
            conds, cr_hat = self.encoder(lq_p)
        else:
            conds, cr_hat = self.encoder.forward_features(features)
        mean = self.prior_mean(cr_hat)
        if temperature > 0:
            if eps is None:
                eps = torch.randn(mean.shape, device=mean.device, dtype=mean.dtype, generator=generator)
            mean = mean + temperature * eps
        x, _ = self.flow.inverse(mean, conds, temperature=temperature)
        return x

    @torch.no_grad()
    def enhance(
        self,
        lq: torch.Tensor,
        temperature: float = 0.0,
        *,
        tile: int | str | None = "auto",
        overlap: int = 16,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Enhance and upscale ``lq`` (B, 3, h, w) in [0, 1] to (B, 3, scale*h, scale*w) in [0, 1].

        Any input size (reflect padding, cropped back). ``temperature=0`` is the deterministic prediction at
        the prior mean. ``tile`` (LR pixels, a multiple of 8) processes overlapping tiles one at a time, for
        images too large for memory; ``"auto"`` (default) tiles only when the image would not fit
        (:func:`lolisr_lib.runtime.tiling.choose_tile`, from :meth:`inference_bytes_per_hr_pixel`), ``None`` or
        ``"off"`` never. The latent noise is drawn once for the whole image, so tiled and untiled results agree
        (up to the tiles' limited context; see the tests for the tolerance).
        """
        if lq.dim() == 3:
            return self.enhance(lq[None], temperature, tile=tile, overlap=overlap, generator=generator)[0]
        lq_p, (h, w) = self._pad(lq)
        budget = available_memory(lq_p.device) if tile == "auto" else None  # read only when it decides
        tile = choose_tile(tile, lq_p.shape[-2:], self.scale, self.inference_bytes_per_hr_pixel() * lq_p.shape[0],
                           budget, overlap=overlap, align=self.pad_multiple)
        if tile is None or (tile >= lq_p.shape[-2] and tile >= lq_p.shape[-1]):
            out = self._generate(lq_p, temperature, generator=generator)
        else:
            out = self._enhance_tiled(lq_p, temperature, tile, overlap, generator)
        out = out + self.input_skip(lq_p, lq)  # of the whole image, tiled or not
        return out[..., : self.scale * h, : self.scale * w].clamp(0, 1)

    def inference_bytes_per_hr_pixel(self) -> float:
        """Estimated peak memory of :meth:`enhance` per output pixel (float32, one image, no gradient).

        Fitted to measured peaks on CPU (``benchmarks/inference_memory.py``: paper-x4 1,281, paper-x2 1,347,
        small-x2 510, tiny-x4 305 bytes per HR pixel): the widest live tensors are each level's condition and
        the coupling networks' inputs, so the cost follows the condition width first, the hidden width second.
        """
        flow = self.config.model.flow
        return 4.0 * (2.42 * flow.cond_channels + 0.24 * flow.hidden)

    def _enhance_tiled(self, lq_p, temperature, tile, overlap, generator) -> torch.Tensor:
        # Global statistics (the histogram-equalised input) come from the whole image, not from each tile.
        features = encoder_features(lq_p, **self._feature_switches())
        eps = None
        latent_factor = 2**self.levels  # HR pixels per latent pixel
        if temperature > 0:
            # One draw for the whole image, cropped per tile, so tiles agree where they overlap. (With splits,
            # the factored-out halves are still drawn per tile.)
            H, W = self.scale * lq_p.shape[-2], self.scale * lq_p.shape[-1]
            shape = self.flow.latent_shape(lq_p.shape[0], H, W)
            eps = torch.randn(shape, device=lq_p.device, dtype=lq_p.dtype, generator=generator)

        def run(lq_tile, window):
            top, left, th, tw = window
            feats = features[..., top : top + th, left : left + tw]
            tile_eps = None
            if eps is not None:
                f = self.scale / latent_factor  # latent pixels per LR pixel
                tile_eps = eps[..., int(top * f) : int((top + th) * f), int(left * f) : int((left + tw) * f)]
            return self._generate(lq_tile, temperature, eps=tile_eps, features=feats)

        return tiled_apply(run, lq_p, self.scale, tile, overlap, align=self.pad_multiple)

    def _feature_switches(self) -> dict:
        e = self.config.model.encoder
        return dict(use_log=e.use_log, use_he=e.use_he, use_cr=e.use_cr, use_noise=e.use_noise)

    @torch.no_grad()
    def sample(
        self, lq: torch.Tensor, n: int, temperature: float = 0.8, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` samples per input: (B, n, 3, scale*h, scale*w) in [0, 1], drawn at ``temperature``."""
        lq_p, (h, w) = self._pad(lq)
        conds, cr_hat = self.encoder(lq_p)
        mean = self.prior_mean(cr_hat)
        skip = self.input_skip(lq_p, lq)
        outs = []
        for _ in range(n):
            z = mean + temperature * torch.randn(mean.shape, device=mean.device, dtype=mean.dtype,
                                                 generator=generator)
            x, _ = self.flow.inverse(z, conds, temperature=temperature)
            outs.append((x + skip)[..., : self.scale * h, : self.scale * w].clamp(0, 1))
        return torch.stack(outs, dim=1)

    # -------------------------------------------------------------------------------------------- checkpoints
    def save(self, path: str | Path) -> Path:
        """Write weights + config (JSON) atomically; read back with :meth:`load` or ``model.build.load_model``."""
        return write_checkpoint(path, self.config, self.state_dict())

    @classmethod
    def load(cls, path: str | Path, map_location=None, *, expected_scale: int | None = None) -> LoLiSRFlow:
        """Rebuild a model from :meth:`save` output or a training checkpoint, in eval mode."""
        payload = read_checkpoint(path, map_location)
        config = checkpoint_config(payload, path)
        if config.model.arch != "lolisrflow":
            raise CheckpointError(f"{path} holds a {config.model.arch} model, not a LoLiSRFlow; use "
                                  "lolisr_lib.model.build.load_model for any model")
        expect_scale(config, expected_scale, path)
        return restore(cls(config), payload, path, map_location)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
