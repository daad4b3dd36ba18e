"""``python -m lolisr_lib ...``: see :mod:`lolisr_lib.commands.cli`."""

import sys

from lolisr_lib.commands.cli import main

sys.exit(main())
