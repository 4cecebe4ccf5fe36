"""Strict JAX settings for every test: float64 available, no implicit rank promotion.

Fields stay float32 unless a test asks for float64 (the Grid carries the dtype), so both
precisions are exercised.

The tests use the CLI's persistent compilation cache (``~/.cache/hostsim/jax``, or
``JAX_COMPILATION_CACHE_DIR``; ``HOSTSIM_COMPILATION_CACHE=0`` turns it off) from the first
test on: most of the suite's time is compilation, and a second run, or a test that builds a
program an earlier one built (a study, then the same study resumed), loads it instead. Measured
on 2 cores: the whole default run takes ~24 min with an empty cache and much less with a warm
one (README, Validation).
"""

import jax

from hostsim.cli import enable_compilation_cache

enable_compilation_cache()
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
