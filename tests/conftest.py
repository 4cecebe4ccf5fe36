"""Strict JAX settings for every test: float64 available, no implicit rank promotion.

Fields stay float32 unless a test asks for float64 (the Grid carries the dtype), so both
precisions are exercised.
"""

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
