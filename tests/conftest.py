"""Strict JAX settings for every test: float64 available, no implicit rank promotion.

Fields stay float32 unless a test asks for float64 (the Grid carries the dtype), so both
precisions are exercised.

Compiled programs are released after every test module (``jax.clear_caches()``). Each XLA CPU
executable holds ~17 memory mappings while it is alive, and a full session compiles thousands
of them: without the release a session reached Linux's ``vm.max_map_count`` (65,530) in
test_plating and XLA segfaulted in its next compilation or cache write (measured: 61,016 maps
just before the crash; test_design alone adds ~27,000). The persistent compilation cache stays
on, so a released program comes back from disk, not from a recompilation.
"""

import gc
import os

# The tests run on the CPU (the GPU is measured by scripts/bench_gpu.sh). Set before JAX starts: the
# CUDA plugin of the test extra then registers without CUDA, for compiling to a GPU target (the
# program audit), and looks for no GPU.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest

from hostsim.cli import enable_compilation_cache  # noqa: E402

enable_compilation_cache()
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Free every compiled program a test module leaves behind (see the module docstring)."""
    yield
    jax.clear_caches()
    gc.collect()
