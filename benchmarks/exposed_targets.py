"""Would the plain model beat the oracle gain if the miniature's targets were exposed as RELLISUR's are?

RELLISUR's targets are auto-exposed photographs, mean code values about 90 to 110 (``REAL_TARGET_MEAN``); the
models train on targets exposed into 85 to 120 (``data/simulated.py``). The bundled miniature keeps each
photograph's own exposure, and its three rocket scenes are darker (62 to 86), so a model that answers with a
normal exposure loses there (data/pretrained/README.md, the per-scene table). This script builds the same
miniature, same crops, seeds and exposures, with every target outside 90 to 110 exposed into that range
(``make_mini_rellisur(..., target_means=(90, 110))``) in a scratch folder, and scores a model, HE + bicubic and
the oracle gain on its Test split, and the model with its brightness from the target (a reference: what it
restores apart from the brightness guess). The bundled miniature, which every other figure uses, is not touched.

    python benchmarks/exposed_targets.py --pretrained x2
    python benchmarks/exposed_targets.py runs/wide-ema-long-x4/best.pt
"""

import argparse
import tempfile

from lolisr_lib.data import make_mini_rellisur
from lolisr_lib.evaluate.card import card_tables, measure_card
from lolisr_lib.evaluate.headroom import BrightnessFromTarget
from lolisr_lib.model.pretrained import parse_model_arguments

RELLISUR_TARGET_MEANS = (90.0, 110.0)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args, model = parse_model_arguments(parser)
    with tempfile.TemporaryDirectory(prefix="mini-exposed-") as scratch:
        root = make_mini_rellisur(scratch, target_means=RELLISUR_TARGET_MEANS)
        others = {"same, brightness from the target (reads gt mean)": BrightnessFromTarget(model)}
        card = measure_card(model, model.scale, mini_root=root, real=False, others=others)
    print(f"Targets exposed into {RELLISUR_TARGET_MEANS[0]:.0f}..{RELLISUR_TARGET_MEANS[1]:.0f} (RELLISUR's); "
          + card_tables(card, model_label="LoLiSRFlow"))
    oracle = card["mini"]["oracle-gain"]
    print(f"\nmodel - oracle gain: {card['mini']['model']['psnr'] - oracle['psnr']:+.2f} dB")
