"""Make a shipped model from a finished run and print its model-card tables (data/pretrained/README.md).

    OMP_NUM_THREADS=2 python benchmarks/ship_pretrained.py runs/small-x2 2
"""

import sys

from lolisr_lib.evaluate.card import card_tables
from lolisr_lib.model.pretrained import ship

if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python benchmarks/ship_pretrained.py RUN_DIR SCALE")
    card = ship(sys.argv[1], int(sys.argv[2]))
    print(card_tables(card))
    print(f"\nfloat32 checkpoint: {card['float32_psnr']:.3f} dB, float16 file: {card['mini']['model']['psnr']:.3f} dB "
          f"(step {card['checkpoint_step']}, {card['file_bytes'] / 2**20:.2f} MiB)")
