"""`python -m mnist_models ...`: see mnist_models.cli."""

import sys

from mnist_models.cli import main

sys.exit(main())
