"""`python -m tradai_nb` is the same as the tradai-nb command."""

from tradai_nb.cli import main

raise SystemExit(main())
