"""Grading: the grader port, the LLM grader, the offline grader and their helpers.

Numerical libraries must not start their own thread pools in this process: the matrices the
graders multiply are tiny, and BLAS worker threads that spin between calls take CPU from the
event loop (measured: the worst loop lag while grading doubled with OpenBLAS threads on a
2-core machine). An explicit setting in the environment wins.
"""

import os as _os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_variable, "1")
