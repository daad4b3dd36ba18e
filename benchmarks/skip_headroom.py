"""Does the brightened capture still hold something a trained model's output lost? (the input skip's motivation)

Scores, on the miniature's Test split per EV (and at x2 on the two real pairs), a model, the model with its
brightness from the target, the oracle gain (one linear gain to the target's mean, then bicubic), and the average
of those two images (``AveragedWithOracleGain``). The last three read the target: references, not methods. Where
the average beats both, the model and the gained capture make different errors (docs/model.md, "The input skip").

    python benchmarks/skip_headroom.py --pretrained x2
    python benchmarks/skip_headroom.py runs/small-skip-x2/best.pt
"""

import argparse

from lolisr_lib.evaluate.card import card_tables, measure_card
from lolisr_lib.evaluate.headroom import AveragedWithOracleGain, BrightnessFromTarget
from lolisr_lib.model.pretrained import parse_model_arguments

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args, model = parse_model_arguments(parser)
    others = {
        "same, brightness from the target (reads gt mean)": BrightnessFromTarget(model),
        "mean of that and the oracle gain's image (reads gt mean)": AveragedWithOracleGain(model),
    }
    card = measure_card(model, model.scale, others=others)
    print(card_tables(card, model_label=f"LoLiSRFlow (skip: {getattr(model, 'skip', 'none')})"))
