"""`python -m chaos` is the `chaosgate` command."""

import sys

from chaos.cli.main import main

sys.exit(main())
