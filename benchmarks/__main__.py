"""``python -m benchmarks`` is ``modelprint``."""

from benchmarks.cli import main

raise SystemExit(main())
