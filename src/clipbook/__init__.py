"""clipbook: the library behind *Why CLIP generalizes*.

Chapters (``notebooks/``) stay thin and call into this package; everything a chapter computes
lives here, with a unit test.

Importing the package (before torch) shortens how long torch's idle OpenMP threads spin before
they sleep (``GOMP_SPINCOUNT``, unless already set). By default they spin for ~300,000 turns,
which on a shared CPU burns the cores another process needs: two chapter runs side by side on
2 cores each took 10 times as long as one alone (Chapter 5's smoke profile: 224 s vs 22 s).
At 1,000 turns the pair took 60 s, and one run alone lost at most 5% (Chapters 1 and 2 at
their default profiles); ``OMP_WAIT_POLICY=PASSIVE`` degraded a pair least (47 s) but cost up
to 23% alone. Child processes (papermill kernels, ``open_clip_train``) inherit the setting.
"""

import os

os.environ.setdefault("GOMP_SPINCOUNT", "1000")

__version__ = "0.1.0"
