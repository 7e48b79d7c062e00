"""``python -m nextbest.localstack up|down|status``."""

import sys

from nextbest.localstack import main

sys.exit(main())
