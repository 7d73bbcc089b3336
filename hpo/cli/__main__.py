"""``python -m hpo.cli``: what worker processes run."""

from __future__ import annotations

import sys

from hpo.cli.entry import main

sys.exit(main())
