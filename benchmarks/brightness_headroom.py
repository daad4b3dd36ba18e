"""What a trained model would score with the right global brightness (lolisr_lib/evaluate/headroom.py).

Scores the model, the model with its brightness taken from the target (a reference that reads the answer,
like the oracle gain), HE + bicubic and the oracle gain, on the miniature's Test split per EV and, at x2, on the
two real pairs. The gap between the first two rows is what a perfect brightness guess would add.

    python benchmarks/brightness_headroom.py --pretrained x2
    python benchmarks/brightness_headroom.py runs/small-x4/best.pt
"""

import argparse

from lolisr_lib.evaluate.card import card_tables, measure_card
from lolisr_lib.evaluate.headroom import BrightnessFromTarget
from lolisr_lib.model.build import load_model
from lolisr_lib.model.pretrained import load

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", help="a model file or a run's best.pt")
    parser.add_argument("--pretrained", choices=["x2", "x4"], help="a shipped model instead of a checkpoint")
    args = parser.parse_args()
    if (args.checkpoint is None) == (args.pretrained is None):
        parser.error("give a checkpoint or --pretrained x2|x4")
    model = load(args.pretrained) if args.pretrained else load_model(args.checkpoint)
    others = {"same, brightness from the target (reads gt mean)": BrightnessFromTarget(model)}
    print(card_tables(measure_card(model, model.scale, others=others), model_label="LoLiSRFlow"))
