"""``python -m nextbest.cli``: the same as the ``nextbest`` command."""

import sys

from nextbest.cli import main

sys.exit(main())
