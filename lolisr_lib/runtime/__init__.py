"""Running fast on the hardware at hand: device choice (``device.py``), the fast layout and bf16
(``fastpath.py``), host memory (``hostmem.py``), tiled inference (``tiling.py``). Nothing here changes the maths."""
