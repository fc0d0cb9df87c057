"""Importing clipbook makes torch's OpenMP threads yield soon, so that two runs on one CPU
degrade gracefully (the measurement is in ``clipbook.__doc__``)."""

import os
import subprocess
import sys

PROBE = "import sys, os, clipbook; print(os.environ.get('GOMP_SPINCOUNT'), 'torch' in sys.modules)"


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    return subprocess.run([sys.executable, "-c", PROBE], env=clean | env, capture_output=True, text=True,
                          check=True).stdout.split()


def test_import_sets_a_short_spin_before_torch_is_loaded():
    # libgomp reads GOMP_SPINCOUNT once, when torch loads it: the package must not import torch first
    assert _probe() == ["30000", "False"]


def test_a_spin_count_the_reader_set_wins():
    assert _probe(GOMP_SPINCOUNT="50000") == ["50000", "False"]


def _mkl(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    probe = "import os, clipbook; print(os.environ.get('MKL_CBWR'))"
    return subprocess.run([sys.executable, "-c", probe], env=clean | env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_mkl_s_branch_follows_the_cpu_s_widest_instruction_set_not_its_vendor():
    from clipbook import _mkl_branch

    assert _mkl_branch("processor : 0\nflags\t\t: fpu sse2 avx2 avx512f avx512dq\n") == "AVX512"
    assert _mkl_branch("flags\t\t: fpu sse2 avx avx2 fma\n") == "AVX2"
    assert _mkl_branch("flags\t\t: fpu sse2\n") is None and _mkl_branch("") is None
    assert _mkl_branch("bogomips : 1\nflags : avx2\nflags : avx512f\n") == "AVX2"  # the first flags line
    if os.path.exists("/proc/cpuinfo"):
        assert _mkl() == (_mkl_branch(open("/proc/cpuinfo").read()) or "None")


def test_an_mkl_branch_the_reader_set_wins():
    assert _mkl(MKL_CBWR="COMPATIBLE") == "COMPATIBLE"
