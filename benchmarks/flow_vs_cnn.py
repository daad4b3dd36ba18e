"""LoLiSRFlow against the joint CNN (and, optionally, the sequential CNN) trained at the same budget (issue 12:
"the paper says the flow wins").

All runs use the same preset, data, steps and seed (``--arch joint-cnn`` / ``--arch sequential-cnn`` swap the
model and its loss, L1); this scores each run's ``best.pt`` beside HE + bicubic and the oracle gain, on the
miniature's Test split (overall and per EV) and, at x2, on the two real pairs, and prints the Markdown tables of
the model card.

    OMP_NUM_THREADS=1 python -m lolisr_lib train --preset small-x2 --arch joint-cnn --out runs/cnn-x2
    OMP_NUM_THREADS=1 python -m lolisr_lib train --preset small-x2 --arch sequential-cnn --out runs/seq-x2
    python benchmarks/flow_vs_cnn.py runs/small-x2/best.pt runs/cnn-x2/best.pt --sequential runs/seq-x2/best.pt \
        --json benchmarks/results/flow-vs-cnn-x2.json
"""

import argparse

from lolisr_lib.evaluate.card import card_tables, measure_card, write_card
from lolisr_lib.model.build import load_model

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flow", help="LoLiSRFlow checkpoint (a run's best.pt, or a shipped file)")
    parser.add_argument("cnn", help="joint-CNN checkpoint trained at the same budget")
    parser.add_argument("--sequential", help="sequential-CNN checkpoint trained at the same budget (optional)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    flow = load_model(args.flow)
    others = {"joint CNN (same budget)": args.cnn}
    if args.sequential:
        others["sequential CNN (same budget)"] = args.sequential
    others = {label: load_model(path) for label, path in others.items()}
    for label, model in others.items():
        if model.scale != flow.scale:
            parser.error(f"the {label} is x{model.scale} but {args.flow} is x{flow.scale}")
    card = measure_card(flow, flow.scale, others=others)
    print(card_tables(card, model_label="LoLiSRFlow"))
    if args.json:
        print(f"figures: {write_card(card, args.json)}")
