"""``python -m framepipe``: the command line."""

from .cli import main

raise SystemExit(main())
