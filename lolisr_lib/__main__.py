"""``python -m lolisr_lib ...``: see :mod:`lolisr_lib.cli`."""

import sys

from lolisr_lib.cli import main

sys.exit(main())
