"""The rebuild's peak memory is its own, not the bench process's that started it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.rebuild import own_peak_mib

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)


def test_a_fresh_process_reports_its_own_peak_not_its_parents() -> None:
    # Step: this process holds 300 MB, then starts a small one.
    held = bytearray(300 * 2**20)
    held[::4096] = b"x" * len(held[::4096])  # touch every page: resident
    assert own_peak_mib() >= 300
    code = "from bench.rebuild import own_peak_mib; print(own_peak_mib())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    # Step: the child's figure is its own few tens of MB (ru_maxrss said 300+).
    assert float(done.stdout) < 150
    del held
