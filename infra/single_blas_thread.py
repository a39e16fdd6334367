"""Imported first by the `crm` command: BLAS runs on one thread unless told otherwise.

The BG/NBD fit (L-BFGS-B) makes a few small BLAS calls per iteration; OpenBLAS's threads
wake for each and spin on the other core, doubling the fit's CPU time on this machine
(docs/decisions/0008-one-blas-thread.md). Nothing here gains from BLAS threads. OpenBLAS reads the variable once,
when numpy is first imported, so this must run before that.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
