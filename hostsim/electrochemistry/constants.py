"""Physical constants (SPEC 4), SI units."""

FARADAY = 96485.33  # C/mol (CODATA 2018: 96485.33212)
GAS_CONSTANT = 8.31446  # J/(mol K) (CODATA 2018: 8.314462618)
TEMPERATURE = 298.15  # K, 25 °C (SPEC 4 reference)
LI_MOLAR_VOLUME = 1.2998e-5  # m³/mol: 6.941 g/mol / 0.534 g/cm³ = 12.998 cm³/mol (SPEC 4 rounds it to 1.300e-5; SPEC 6.1 quotes 14.549 µm for 3 mAh/cm², which needs the unrounded value)
