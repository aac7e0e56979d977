"""`python -m chaos` is the `chaosgate` command."""

import sys

from chaos.cli import main

sys.exit(main())
