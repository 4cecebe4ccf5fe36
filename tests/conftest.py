"""Strict JAX settings for every test: float64 available, no implicit rank promotion.

Fields stay float32 unless a test asks for float64 (the Grid carries the dtype), so both
precisions are exercised.

The tests run without JAX's persistent compilation cache (``HOSTSIM_COMPILATION_CACHE=0`` for
this process and the CLI processes it starts; set ``HOSTSIM_TEST_CACHE=1`` to use it). With the
cache on, a full session from an empty cache crashed deterministically inside XLA's executable
serialization (``put_executable_and_time``, a segfault in test_plating's gradient test, three
sessions; the test passes alone): serialising is what writing the cache does, so the session
no longer writes it. Not yet understood; the CLI itself keeps the cache (short processes).
"""

import os

if os.environ.get("HOSTSIM_TEST_CACHE", "0") != "1":
    os.environ["HOSTSIM_COMPILATION_CACHE"] = "0"

import jax  # noqa: E402

from hostsim.cli import enable_compilation_cache  # noqa: E402

enable_compilation_cache()
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
