"""``python -m autograder``: the same command line as the ``autograder`` script."""

from autograder.cli import main

raise SystemExit(main())
