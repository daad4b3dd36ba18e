"""The training loop of LoLiSRFlow and the learned baselines: one plain PyTorch loop (docs/model.md section 7).

``train(config, out_dir=...)`` runs it from a notebook, a terminal or papermill alike; ``python -m lolisr_lib
train`` is its command line and ``torchrun`` its multi-GPU launcher. Each step: a batch of random crops, the
model's ``forward(lq, gt)["loss"]`` (through the module, so ``DistributedDataParallel`` sees it), backward,
gradient-norm clipping, Adam with the configured betas, the warm-up / step-decay schedule. A step whose loss
or gradient is NaN/Inf is skipped (weights and Adam state untouched) and counted. The model runs
channels-last (``fastpath.prepare_for_training``). bf16 autocast (``train.bf16``) is used where the device
computes bf16 natively (CUDA GPUs from Ampere on; CPUs with AVX-512 BF16 or AMX); elsewhere the option is
ignored with a warning.

Exact resume: a run killed at any moment (even ``kill -9``) and resumed from ``out_dir/last.pt`` ends with
bit-identical weights on CPU. Everything a step depends on is either a pure function of saved numbers (the
batch order and crops: ``batches.py``; the learning rate: ``schedule.py``) or saved state (weights, Adam
moments, every random generator: ``state.py``). On CUDA some kernels are not deterministic, so resumed runs
agree statistically but not bit for bit.
"""

from __future__ import annotations

import inspect
import json
import random
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from lolisr_lib.checkpoint import checkpoint_config
from lolisr_lib.config import Config
from lolisr_lib.errors import CheckpointError, ConfigError, UserError
from lolisr_lib.model.build import build_model
from lolisr_lib.runtime import fastpath
from lolisr_lib.runtime.device import resolve_device
from lolisr_lib.runtime.files import atomic_write_text
from lolisr_lib.train import run_folder
from lolisr_lib.train.average import WeightAverage
from lolisr_lib.train.batches import batches_per_epoch, rellisur_train_set, training_loader
from lolisr_lib.train.distributed import (
    any_rank,
    barrier,
    broadcast_state,
    gather_objects,
    setup_distributed,
    teardown_distributed,
)
from lolisr_lib.train.log import StepLog
from lolisr_lib.train.schedule import make_optimizer, make_scheduler
from lolisr_lib.train.state import capture_rng_state, restore_rng_state, seed_from
from lolisr_lib.train.validate import score_images, shard, summarise_scores, val_indices

_NOISE = 3  # tag mixed into the seed of the loop's own generator (dequantisation noise, CR-prior coin)


# Val scores that can choose best.pt (train.select_by). Val is one photograph at several exposures, so its PSNR
# mostly follows the brightness guess; psnr_exposure and ssim measure the restoration (data/pretrained/README.md).
SELECTABLE_SCORES = ("psnr", "psnr_exposure", "ssim")


class TrainingDiverged(UserError):
    """Too many consecutive steps with a non-finite loss or gradient: the run has diverged."""


@dataclass(frozen=True)
class TrainResult:
    step: int  # global step reached
    out_dir: Path  # the run folder
    last_checkpoint: Path  # out_dir/last.pt: the final, resumable state
    best_checkpoint: Path | None  # out_dir/best.pt (best Val score of train.select_by), None before any validation
    best_psnr: float | None  # Val PSNR of best.pt
    skipped_steps: int  # steps skipped for a NaN/Inf loss or gradient, over the whole run
    seconds: float  # training wall time, all segments of a resumed run together
    resumed_from: Path | None  # the checkpoint this call continued, None for a fresh run


def train(config: Config | None = None, *, data_root=None, out_dir, device: str = "auto",
          resume: bool | str = False, steps: int | None = None, progress: bool = True,
          model: nn.Module | None = None) -> TrainResult:
    """Train ``config.model`` on RELLISUR's Train split, validating on Val; files go to ``out_dir``.

    ``data_root``: a RELLISUR copy (default: the bundled miniature). ``resume``: ``True`` continues
    ``out_dir/last.pt`` (``config`` may then be ``None``: the stored one is used); ``"auto"`` continues it
    when it exists and starts afresh otherwise. ``steps``: stop once this global step is reached (default
    ``train.steps``); the schedule is still laid out over ``train.steps``, so a run stopped early and resumed
    follows the same curve. ``model``: train this module instead of ``build_model(config)`` (same interface).
    Writes ``last.pt``, ``prev.pt``, ``best.pt``, ``config.json``, ``log.csv``/``.jsonl``, ``val.csv``/``.jsonl``.
    """
    trainer = Trainer(config, data_root=data_root, out_dir=out_dir, device=device, resume=resume,
                      progress=progress, model=model)
    try:
        return trainer.run(steps)
    finally:
        trainer.close()


class Trainer:
    """The state of a training run and its loop; :func:`train` is the usual entry point."""

    def __init__(self, config: Config | None, *, data_root=None, out_dir, device: str = "auto",
                 resume: bool | str = False, progress: bool = True, model: nn.Module | None = None):
        self.out_dir = Path(out_dir)
        self.progress = progress
        self._t0 = None  # start of the current run() call; None between calls
        self.dist, self.device = setup_distributed(resolve_device(device))
        try:
            self._setup(config, data_root, resume, model)
        except BaseException:
            self.close()
            raise

    def _setup(self, config: Config | None, data_root, resume: bool | str, model: nn.Module | None) -> None:
        payload = self._open(resume)
        if payload is not None:
            config = run_folder.resume_config(config, checkpoint_config(payload, self.resumed_from),
                                               self.resumed_from, step=int(payload["step"]))
        if config is None:
            raise ConfigError("train needs a config (e.g. lolisr_lib.config.preset('tiny-x2')) unless resuming")
        self.config = config
        self._check_config()
        t = config.train
        self._seed_globals(t.seed)
        self.model = (model if model is not None else build_model(config)).to(self.device)
        # the fast path's layout (fastpath.py): NHWC convolutions, 3-6 % faster per step on CPU; same maths
        fastpath.prepare_for_training(self.model)
        self.optimizer = make_optimizer(self.model.parameters(), t)
        self.scheduler = make_scheduler(self.optimizer, t)
        self.generator = torch.Generator(device=self.device).manual_seed(seed_from(t.seed, self.dist.rank, _NOISE))
        self.step = self.epoch = self.batch = self.skipped_steps = self._skipped_in_row = 0
        self.best_psnr, self.best_step, self.seconds_before = None, None, 0.0
        self.best_score = None  # best.pt's Val score of train.select_by (its PSNR when that is "psnr")
        self._term_sums, self._term_count = {}, 0  # loss terms summed on the device between log lines
        self.average = None  # the weight average (train.ema_decay), made after the first step (ActNorm's init)
        self.train_set = self._train_set(data_root)
        self._val_set = None
        if payload is not None:
            self._load(payload)
        self._marks = {"val": self.step, "save": self.step} if payload is not None else {}
        self.net = self._wrap(self.model)
        accepted = inspect.signature(self.model.forward).parameters
        self._forward_kwargs = {"generator": self.generator} if "generator" in accepted else {}
        # the whole input's equalisation, cropped by the dataset, and its linear mean (the input skip's gain)
        self._whole_input_keys = [key for key in ("lq_he", "lq_mean") if key in accepted]
        if self.dist.is_main:
            self._start_files(keep_until=self.step if payload is not None else None)
        barrier(self.dist)

    # ------------------------------------------------------------------------------------------ setting up
    def _open(self, resume: bool | str) -> dict | None:
        """The checkpoint payload to continue (or None), refusing to overwrite a run by accident."""
        self.resumed_from = None
        last = self.out_dir / run_folder.LAST
        has_run = last.is_file() or (self.out_dir / run_folder.PREV).is_file()
        if resume not in (True, False, "auto"):
            raise ConfigError(f"resume={resume!r}: use True, False or 'auto'")
        if resume is True and not has_run:  # killed before its first checkpoint: nothing to lose, start over
            warnings.warn(f"{self.out_dir} holds no checkpoint ({run_folder.LAST} or {run_folder.PREV}): the run "
                          "stopped before its first one, so it starts over from step 0 (its old logs are "
                          "truncated)", stacklevel=4)
            return None
        if not resume or (resume == "auto" and not has_run):
            if last.is_file():
                raise UserError(f"{last} already exists; resume that run (--resume) or choose another out_dir")
            return None
        self.resumed_from, payload, note = run_folder.open_for_resume(self.out_dir, map_location="cpu")
        self._say(note or f"resuming {self.resumed_from} at step {payload['step']}")
        return payload

    def _check_config(self) -> None:
        t, scale = self.config.train, self.config.model.scale
        if t.batch_size < 1 or t.log_every < 1:
            raise ConfigError("train.batch_size and train.log_every must be at least 1")
        if t.select_by not in SELECTABLE_SCORES:
            raise ConfigError(f"train.select_by={t.select_by!r}: choose best.pt by one of "
                              f"{', '.join(SELECTABLE_SCORES)}")
        if not 0.0 <= t.ema_decay < 1.0:
            raise ConfigError(f"train.ema_decay={t.ema_decay} must lie in [0, 1) (0 switches the weight average off)")
        if t.patch_size % scale or (t.patch_size // scale) < 1:
            raise ConfigError(f"train.patch_size={t.patch_size} must be a positive multiple of the scale {scale}")
        self.bf16 = t.bf16 and fastpath.native_bf16(self.device)
        if t.bf16 and not self.bf16:
            warnings.warn(f"train.bf16 is ignored on {self.device}: it has no native bf16 (CUDA GPUs from Ampere on, "
                          "CPUs with AVX-512 BF16 or AMX), so bf16 would only be emulated; training in float32",
                          stacklevel=3)

    @staticmethod
    def _seed_globals(seed: int) -> None:
        """Seed the global generators, so the model's initial weights follow from ``train.seed``."""
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)

    def _train_set(self, data_root):
        from lolisr_lib.data import default_root

        if data_root is None:  # the first process builds the miniature, the others wait and reuse it
            if self.dist.is_main:
                data_root = default_root()
            barrier(self.dist)
            data_root = default_root()
        self.data_root = Path(data_root)
        t = self.config.train
        if t.data == "simulated":
            from lolisr_lib.data.simulated import SimulatedPairs

            return SimulatedPairs(self.config.model.scale, t.patch_size, length=t.sim_items,
                                  scene_size=t.sim_scene_size, jitter=t.sim_jitter, seed=t.seed,
                                  reexpose=t.sim_reexpose, channel_pedestal=t.sim_channel_pedestal)
        if t.data != "dataset":
            raise ConfigError(f"train.data={t.data!r}: use 'dataset' (the Train split) or 'simulated'")
        return rellisur_train_set(self.config, self.data_root)

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.dist.enabled:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def _start_files(self, keep_until: int | None) -> None:
        config_json = json.dumps(asdict(self.config), indent=2, sort_keys=True) + "\n"
        atomic_write_text(self.out_dir / "config.json", config_json)
        self.log = StepLog(self.out_dir, "log", keep_until)
        self.val_log = StepLog(self.out_dir, "val", keep_until)

    # ------------------------------------------------------------------------------------------ state
    def _state(self) -> dict:
        """Everything besides the weights that a resumed run needs; a collective call under torchrun."""
        rng = gather_objects(capture_rng_state({"noise": self.generator}), self.dist)
        return {
            "step": self.step,
            "data": {"epoch": self.epoch, "batch": self.batch, "items": len(self.train_set)},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng,  # one entry per process, in rank order
            "skipped_steps": self.skipped_steps,
            "best_psnr": self.best_psnr,
            "best_score": self.best_score,
            "best_step": self.best_step,
            "seconds": self._seconds(),
            "world_size": self.dist.world_size,
            "log_interval": {"count": self._term_count, "sums": {k: v.cpu() for k, v in self._term_sums.items()}},
            **({"ema": self.average.state_dict()} if self.average is not None else {}),
        }

    def _load(self, payload: dict) -> None:
        try:
            self.model.load_state_dict(payload["model"])
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise CheckpointError(f"{self.resumed_from}: the weights do not fit this model ({first})") from None
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        # The schedule depends on train.steps, which a resume may change: recompute the current lr from this
        # run's schedule instead of keeping the one stored in the optimiser (identical when nothing changed).
        sched = self.scheduler
        for group, base_lr, factor in zip(self.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas):
            group["lr"] = base_lr * factor(sched.last_epoch)
        sched._last_lr = [group["lr"] for group in self.optimizer.param_groups]
        self.step, self.skipped_steps = payload["step"], payload["skipped_steps"]
        self.epoch, self.batch = payload["data"]["epoch"], payload["data"]["batch"]
        self.best_psnr, self.best_step = payload["best_psnr"], payload["best_step"]
        self.best_score = payload.get("best_score", self.best_psnr)  # runs from before select_by chose by PSNR
        self.seconds_before = payload["seconds"]
        interval = payload.get("log_interval") or {"count": 0, "sums": {}}
        self._term_count = interval["count"]
        self._term_sums = {k: v.to(self.device) for k, v in interval["sums"].items()}
        if payload.get("ema") and self.config.train.ema_decay:
            self.average = WeightAverage(self.model, self.config.train.ema_decay)
            self.average.load_state_dict(payload["ema"])
        rng = payload["rng"]
        if len(rng) != self.dist.world_size or payload["data"]["items"] != len(self.train_set):
            warnings.warn(f"{self.resumed_from} was written by {len(rng)} process(es) on {payload['data']['items']} "
                          f"training images, this run has {self.dist.world_size} on {len(self.train_set)}: the "
                          "continuation will not be bit-identical to an uninterrupted run", stacklevel=3)
        restore_rng_state(rng[min(self.dist.rank, len(rng) - 1)], {"noise": self.generator})

    def _save(self) -> None:
        state = self._state()
        if self.dist.is_main:
            run_folder.save_last(self.out_dir, self.config, self.model.state_dict(), **state)
        self._marks["save"] = self.step
        barrier(self.dist)

    # ------------------------------------------------------------------------------------------ the loop
    def run(self, steps: int | None = None) -> TrainResult:
        """Train until global step ``steps`` (default ``train.steps``); validate and save at the end."""
        t = self.config.train
        stop = t.steps if steps is None else steps
        if not 0 <= stop <= t.steps:
            raise ConfigError(f"steps={stop} is outside 0..train.steps={t.steps}; to train longer raise "
                              "train.steps (the learning-rate schedule is laid out over it)")
        self._t0 = self._interval_t0 = time.perf_counter()
        self._interval_steps = 0
        quiet = {} if self.progress and self.dist.is_main else {"disable": True}  # else TQDM_DISABLE decides
        bar = tqdm(total=stop, initial=self.step, desc="train", unit="step", **quiet)
        batches = self._batches()
        try:
            while self.step < stop:
                terms, lr, skipped = self._train_step(next(batches))
                self._after_step(terms, lr, skipped, bar)
            if self._marks.get("val") != self.step:
                self._validate()
            if self._marks.get("save") != self.step:
                self._save()
        finally:
            bar.close()
            batches.close()  # ends the epoch's DataLoader (and its worker processes) now
        self.seconds_before, self._t0 = self._seconds(), None
        return self._result()

    def _batches(self):
        """Batches forever from the saved position (``_after_step`` advances it), one loader and one set of
        workers across epochs (``batches.py``)."""
        t = self.config.train
        if self.batch >= batches_per_epoch(len(self.train_set), t.batch_size, self.dist.world_size):
            self.epoch, self.batch = self.epoch + 1, 0  # resumed with fewer batches per epoch than saved
        yield from training_loader(self.train_set, t.batch_size, seed=t.seed, epoch=self.epoch, start=self.batch,
                                   rank=self.dist.rank, world_size=self.dist.world_size,
                                   num_workers=t.num_workers, pin_memory=self.device.type == "cuda")

    def _train_step(self, batch: dict) -> tuple[dict, float, bool]:
        """One optimiser step; returns the scalar loss terms, the learning rate used and whether it was skipped."""
        t = self.config.train
        lq = batch["lq"].to(self.device, non_blocking=True)  # (B, 3, h, w)
        gt = batch["gt"].to(self.device, non_blocking=True)  # (B, 3, s*h, s*w)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            extra = dict(self._forward_kwargs)
            for key in self._whole_input_keys:
                if key in batch:
                    extra[key] = batch[key].to(self.device, non_blocking=True)
            out = self.net(lq, gt, **extra)
        loss = out["loss"]
        loss.backward()  # on every process even when the loss is NaN: DDP's gradient averaging needs all
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip or float("inf"))
        bad = any_rank(not bool(torch.isfinite(loss) & torch.isfinite(grad_norm)), self.dist, self.device)
        lr = self.optimizer.param_groups[0]["lr"]
        if bad:
            self.optimizer.zero_grad(set_to_none=True)
        else:
            self.optimizer.step()
        self.scheduler.step()  # the schedule follows the step count, skipped steps included
        terms = {k: v.detach() for k, v in out.items() if torch.is_tensor(v) and v.dim() == 0}
        terms["grad_norm"] = grad_norm.detach()
        return terms, lr, bad

    def _after_step(self, terms: dict, lr: float, skipped: bool, bar) -> None:
        t = self.config.train
        fresh_start = self.step == 0
        self.step += 1
        self.batch += 1
        if self.batch >= batches_per_epoch(len(self.train_set), t.batch_size, self.dist.world_size):
            self.epoch, self.batch = self.epoch + 1, 0
        if fresh_start:
            broadcast_state(self.model, self.dist)  # replicas agree after data-dependent init (ActNorm)
        if t.ema_decay and not skipped:
            if self.average is None:
                self.average = WeightAverage(self.model, t.ema_decay)
            self.average.update(self.model)
        self._interval_steps += 1
        self._count_skip(skipped)
        if not skipped:
            self._accumulate(terms)
        if self.dist.is_main:
            bar.update(1)
            if skipped or self.step % t.log_every == 0:
                self._log(terms if skipped else self._interval_means(), lr)
        self._check_divergence()
        if t.val_every and self.step % t.val_every == 0:
            self._validate()
        if t.checkpoint_every and self.step % t.checkpoint_every == 0:
            self._save()

    def _count_skip(self, skipped: bool) -> None:
        if not skipped:
            self._skipped_in_row = 0
            return
        self.skipped_steps += 1
        self._skipped_in_row += 1
        self._say(f"step {self.step}: non-finite loss or gradient, update skipped "
                  f"({self.skipped_steps} skipped so far)")

    def _check_divergence(self) -> None:
        limit = self.config.train.max_skipped_in_a_row
        if limit and self._skipped_in_row >= limit:
            raise TrainingDiverged(
                f"{self._skipped_in_row} consecutive steps up to step {self.step} had a NaN/Inf loss or gradient: "
                f"the run diverged. Lower train.lr or keep train.grad_clip on, then resume from "
                f"{self.out_dir / run_folder.LAST} or start again"
            )

    def _accumulate(self, terms: dict) -> None:
        """Add a step's loss terms to the interval's sums, on the device: no synchronisation with the host."""
        if not self._term_sums:
            self._term_sums = {k: v.detach().double().clone() for k, v in terms.items()}
        else:
            for k, v in terms.items():
                self._term_sums[k] += v.detach()
        self._term_count += 1

    def _interval_means(self) -> dict:
        """The loss terms averaged over the steps since the last log line; one host read for all of them."""
        names = list(self._term_sums)
        means = (torch.stack([self._term_sums[k] for k in names]) / max(self._term_count, 1)).tolist()
        self._term_sums, self._term_count = {}, 0
        return dict(zip(names, means))

    def _log(self, terms: dict, lr: float) -> None:
        now = time.perf_counter()
        elapsed = max(now - self._interval_t0, 1e-9)
        images = self._interval_steps * self.config.train.batch_size * self.dist.world_size
        hr_pixels = images * self.config.train.patch_size**2
        values = {k: (v.item() if torch.is_tensor(v) else v) for k, v in terms.items()}
        row = {"step": self.step, **values, "lr": lr,
               "skipped_steps": self.skipped_steps, "seconds": round(self._seconds(), 3),
               "images_per_s": images / elapsed, "hr_mpix_per_s": hr_pixels / 1e6 / elapsed}
        self.log.write(row)
        self._interval_t0, self._interval_steps = now, 0

    def _validate(self) -> None:
        """Score Val, each process its share of the images; rank 0 logs and writes best.pt when the score that
        ``train.select_by`` names improved."""
        improved = False
        dataset, indices = self._val_data()
        mine = shard(indices, self.dist.rank, self.dist.world_size)
        rows = score_images(self._inference_model(), dataset, mine, self.device, scale=self.config.model.scale,
                            crop=self.config.train.val_crop)
        shares = gather_objects(rows, self.dist)
        if self.dist.is_main:
            scores = summarise_scores([row for share in shares for row in share])
            score = scores[self.config.train.select_by]
            improved = self.best_score is None or score > self.best_score
            if improved:
                self.best_score, self.best_psnr, self.best_step = score, scores["psnr"], self.step
            self.val_log.write({"step": self.step, **scores, "best_psnr": self.best_psnr})
        self._marks["val"] = self.step
        if any_rank(improved, self.dist, self.device):
            state = self._state()
            if self.dist.is_main:
                run_folder.save_best(self.out_dir, self.config, self.model.state_dict(), **state)
        barrier(self.dist)
        self._interval_t0 = time.perf_counter()  # keep validation time out of the throughput

    def _inference_model(self) -> nn.Module:
        """The model that is validated and shipped: the weight average when the run keeps one."""
        return self.average.model if self.average is not None else self.model

    def _val_data(self) -> tuple:
        """The Val dataset (full-size pairs, built once) and the indices scored at each validation."""
        if self._val_set is None:
            from lolisr_lib.data import RellisurDataset

            dataset = RellisurDataset(self.data_root, "Val", self.config.model.scale)
            self._val_set = dataset, val_indices(len(dataset), self.config.train.val_images)
        return self._val_set

    # ------------------------------------------------------------------------------------------ reporting
    def _seconds(self) -> float:
        return self.seconds_before + (time.perf_counter() - self._t0 if self._t0 is not None else 0.0)

    def _say(self, message: str) -> None:
        if self.dist.is_main:
            tqdm.write(message, file=sys.stderr)

    def _result(self) -> TrainResult:
        best = self.out_dir / run_folder.BEST
        return TrainResult(
            step=self.step, out_dir=self.out_dir, last_checkpoint=self.out_dir / run_folder.LAST,
            best_checkpoint=best if self.best_step is not None else None, best_psnr=self.best_psnr,
            skipped_steps=self.skipped_steps, seconds=self.seconds_before, resumed_from=self.resumed_from,
        )

    def close(self) -> None:
        """Leave the process group if this trainer joined it (not one its caller had set up)."""
        if self.dist.owns_group:
            teardown_distributed()
