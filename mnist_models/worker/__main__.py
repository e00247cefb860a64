"""`python -m mnist_models.worker`: the worker process the job queue starts (see entry.py)."""

import sys

from mnist_models.worker.entry import main

sys.exit(main())
