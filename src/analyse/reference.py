"""Stable reference codes of the French administrative geography (INSEE COG 2023).

Names of the 18 régions: the COG composition file carries codes only.
"""

from __future__ import annotations

REGION_NAMES: dict[str, str] = {
    "01": "Guadeloupe",
    "02": "Martinique",
    "03": "Guyane",
    "04": "La Réunion",
    "06": "Mayotte",
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}

OVERSEAS_REGIONS: frozenset[str] = frozenset({"01", "02", "03", "04", "06"})

#: Label announcement date of Territoires d'industrie (Conseil national de l'industrie).
LABEL_DATE = "2018-11-22"
#: First quarter of treatment in the quarterly labour panel (the label falls in 2018-Q4).
LABEL_PERIOD = "2018-T4"

#: Baromètre indicator counting industrial firms supported by France Relance investment aid.
RELANCE_FIRMS_INDICATOR = "nb-entreprises-industrielles-agricoles"
