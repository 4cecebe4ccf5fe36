"""Physical constants, SI units."""

FARADAY = 96485.33  # C/mol (CODATA 2018: 96485.33212)
GAS_CONSTANT = 8.31446  # J/(mol K) (CODATA 2018: 8.314462618)
TEMPERATURE = 298.15  # K, 25 °C (reference temperature)
LI_MOLAR_VOLUME = 1.2998e-5  # m³/mol: 6.941 g/mol / 0.534 g/cm³ = 12.998 cm³/mol (not rounded to 1.300e-5: 3 mAh/cm² is 14.549 µm of dense Li only with the unrounded value)
