"""Study-file pieces the design tests share: the tiny Cu skeleton they design on (3 × 4 × 2 µm
box, a 2 µm slab of 0.5 µm fibres on 0.25 µm voxels) and a short fast plate on it (0.05 mAh/cm²
at 4 mA/cm², time tolerance 0.2)."""

TINY_SKELETON = """[geometry]
family = "cu_skeleton"
width_um = 3.0
height_um = 4.0
thickness_um = 2.0
fibre_length_um = 2.0
voxel_size_um = 0.25
fibre_diameter_um = 0.5
"""

FAST_PLATE = """[[protocol.segment]]
kind = "plate"
current_mA_cm2 = 4.0
capacity_mAh_cm2 = 0.05
[numerics]
time_tolerance = 0.2
"""
