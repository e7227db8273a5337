"""bench/profile_summary.py: shares of a py-spy raw profile, inclusive, exclusive and grouped."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.profile_summary import read, summarise, within  # noqa: E402


def test_shares_count_each_stack_once_per_frame(tmp_path):
    raw = tmp_path / "prof.txt"
    raw.write_text(
        "main (a.py:1);step (a.py:2);mkl_blas_sgemm (libmkl.so);mkl_blas_sgemm (libmkl.so) 3\n"
        "main (a.py:1);step (a.py:2);at::native::bernoulli_ (libtorch.so) 1\n"
        "not a sample line\n",
        encoding="utf-8",
    )
    stacks = read(raw)
    assert stacks[0] == (["main", "step", "mkl_blas_sgemm", "mkl_blas_sgemm"], 3)
    lines = summarise(stacks, top=5)
    assert lines[0] == "4 samples"
    assert "   75.0%  matrix multiplies (sgemm, with its packing)" in lines  # a recursive frame counts once
    assert "   25.0%  dropout masks (bernoulli)" in lines
    assert "  100.0%  main" in lines
    assert lines[lines.index("exclusive (where samples end):") + 1] == "   75.0%  mkl_blas_sgemm"


def test_an_empty_profile_is_an_error(tmp_path):
    raw = tmp_path / "prof.txt"
    raw.write_text("", encoding="utf-8")
    with pytest.raises(SystemExit, match="no samples"):
        summarise(read(raw), top=5)


def test_within_keeps_the_samples_under_a_frame(tmp_path):
    raw = tmp_path / "prof.txt"
    raw.write_text(
        "main (a.py:1);score_questions (s.py:9);mkl_blas_sgemm (libmkl.so) 3\nthread_run (t.py:1);poll (libc.so) 5\n",
        encoding="utf-8",
    )
    kept = within(read(raw), "score_q")
    assert kept == [(["main", "score_questions", "mkl_blas_sgemm"], 3)]
    assert summarise(kept, top=3)[0] == "3 samples"
