"""Strict JAX settings for every test: float64 available, no implicit rank promotion.

Fields stay float32 unless a test asks for float64 (the Grid carries the dtype), so both
precisions are exercised.

A persistent compilation cache in a fresh temporary directory for the session: tests that build
the same program again (a study run, then the same study resumed) load it instead of compiling
it again, and nothing leaks between sessions or into the user's cache (the CLI's own cache
helper honours ``JAX_COMPILATION_CACHE_DIR``).
"""

import os
import tempfile

import jax

_CACHE = tempfile.mkdtemp(prefix="hostsim-test-jax-cache-")
os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
