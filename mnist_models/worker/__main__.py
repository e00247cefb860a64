"""`python -m mnist_models.worker`: the worker process the job queue starts (see entry.py)."""

import os
import sys

from mnist_models.worker.entry import main

code = main()
# Everything the job wrote is in the run folder by now (event files closed, the model saved), so the process ends
# at once instead of through TensorFlow's interpreter teardown, which took 1.6 s here (2 to 4 s on a busy machine):
# the queue starts the next job when this process has ended.
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
