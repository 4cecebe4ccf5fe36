"""Host geometry builders and importers (depends on hostsim, never the reverse).

For now: :func:`load_volume` (re-exported from :mod:`hostsim.io`) and
:func:`bicontinuous` — a thresholded Gaussian random field in physical units, the model of
dealloyed porous Cu (Yun et al., Adv. Mater. 28, 6932 (2016)). The other host families of SPEC
section 9 arrive with later issues.
"""

from hostsim.io import load_volume

from .bicontinuous import bicontinuous

__all__ = ["bicontinuous", "load_volume"]
