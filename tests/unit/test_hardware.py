"""The CPU a figure was measured on, read from /proc/cpuinfo."""

import os

from tradeoff.hardware import cpu

CPUINFO = """processor\t: 0
model name\t: Example CPU @ 2.0GHz
flags\t\t: fpu sse2 avx avx2 fma
processor\t: 1
model name\t: Example CPU @ 2.0GHz
flags\t\t: fpu sse2 avx avx2 fma
"""


def test_the_model_name_and_the_widest_vector_unit(tmp_path):
    (tmp_path / "cpuinfo").write_text(CPUINFO)
    assert cpu(tmp_path / "cpuinfo") == {"cpu": "Example CPU @ 2.0GHz", "cores": os.cpu_count(), "vector_isa": "avx2"}
    (tmp_path / "cpuinfo").write_text(CPUINFO.replace("avx2", "avx2 avx512f avx512bw"))
    assert cpu(tmp_path / "cpuinfo")["vector_isa"] == "avx512f"


def test_without_cpuinfo_the_vector_unit_is_unknown(tmp_path):
    info = cpu(tmp_path / "missing")
    assert info["vector_isa"] == "unknown" and info["cores"] == os.cpu_count() and info["cpu"]
