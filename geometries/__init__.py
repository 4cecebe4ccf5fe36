"""Host geometry builders and importers (depends on hostsim, never the reverse).

Every family of the 3D-host literature is an :class:`equinox.Module` whose continuous
parameters are differentiable leaves; ``family.fields()`` returns :class:`HostFields`
(``s``, ``k``, ``l``, ``theta`` on a hostsim grid) and :func:`build` adds a
:class:`HostReport`. Families (``geometries.FAMILIES``):

* ``foil`` — :class:`PlanarFoil` (baseline);
* ``cu_skeleton`` — :class:`CuSkeleton` (Yang et al. 2015);
* ``cu_nanowires`` — :class:`CuNanowires` (Lu et al. 2016);
* ``dealloyed_cu`` — :class:`DealloyedCu` (Yun et al. 2016);
* ``layered_rgo`` — :class:`LayeredRGO` (Lin et al. 2016);
* ``fibre_scaffold`` — :class:`CoatedFibreScaffold` (Liu et al. 2016; Liang et al. 2016);
* ``seeded_capsules`` — :class:`SeededCapsules` (Yan et al. 2016);
* ``graded`` — :class:`GradedHost` (porosity / conductivity / lithiophilicity profiles);
* ``hollow_sphere_layer`` — :class:`HollowSphereLayer` (Zheng et al. 2014: porous insulating
  hollow carbon spheres on Cu);
* ``membrane`` — :class:`DefectiveMembrane` (Yan et al. 2014: an h-BN layer over Cu, open at its
  defects).

Importers: :func:`import_volume` (voxel stacks with a label → material map),
:func:`voxelize_mesh` (surface meshes), :func:`save_host_vti` / :func:`load_host_vti`.
"""

from hostsim.run.io import load_volume

from ._case import case_hosts, default_hosts, geometry_host
from ._host import HostFamily, HostFields, Parameter
from ._registry import FAMILIES, Host, build, describe_families, family_parameters, make_family
from .capsules import SeededCapsules
from .cu_skeleton import CuSkeleton
from .dealloyed import DealloyedCu
from .fibre_scaffold import CoatedFibreScaffold
from .foil import PlanarFoil
from .graded import GradedHost
from .hollow_spheres import HollowSphereLayer
from .importers import (
    fields_from_labels,
    import_volume,
    load_host_vti,
    parse_labels,
    read_host_vti_metadata,
    save_host_vti,
    voxelize_mesh,
)
from .materials import MATERIALS, Material, material
from .membrane import DefectiveMembrane
from .nanowires import CuNanowires
from .report import HostReport, host_report
from .rgo import LayeredRGO

__all__ = [
    "FAMILIES", "MATERIALS", "CoatedFibreScaffold", "CuNanowires", "CuSkeleton", "DealloyedCu", "DefectiveMembrane", "GradedHost",
    "HollowSphereLayer", "Host", "HostFamily", "HostFields", "HostReport", "LayeredRGO", "Material", "Parameter", "PlanarFoil",
    "SeededCapsules", "build", "case_hosts", "default_hosts", "describe_families", "family_parameters", "fields_from_labels", "geometry_host", "host_report",
    "import_volume", "load_host_vti", "load_volume", "make_family", "material", "parse_labels",
    "read_host_vti_metadata", "save_host_vti",
    "voxelize_mesh",
]
