"""Keys of the fund's published cells, shared by the figures stage, the secrecy solver, the pages
and the audit: a cell is the set of projects with given values of a few dimensions.

``cell_key({"ti_p2": "ti-8401", "region_code": "84"}) == "region_code=84;ti_p2=ti-8401"``; France
(no dimension) is ``*``. Dimensions always appear in :data:`DIM_ORDER`, so one set of projects has
one key whatever the order in which its dimensions were given.
"""

from __future__ import annotations

from collections.abc import Mapping

from analyse.errors import ParameterError

#: Order of the dimensions in keys and tables.
DIM_ORDER: tuple[str, ...] = (
    "region_code",
    "ti_p1",
    "ti_p2",
    "in_ti_p1",
    "in_ti_p2",
    "sector",
    "firm_size",
    "decision_year",
)
#: Value of a dimension the project does not give (sector, firm size, decision date unknown).
NOT_GIVEN = "nr"
#: ``ti_pX`` value of a project outside every territory of phase X.
OUTSIDE = "hors"
#: Key of France (the scope with no dimension).
FRANCE = "*"

Scope = Mapping[str, str]


class UnknownDimensionError(KeyError, ParameterError):
    """A scope naming a dimension that is not one of :data:`DIM_ORDER`."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def cell_key(scope: Scope) -> str:
    """Canonical key of a scope: ``region_code=84;ti_p2=ti-8401``, ``*`` for France."""
    unknown = set(scope) - set(DIM_ORDER)
    if unknown:
        raise UnknownDimensionError(
            f"unknown dimensions {sorted(unknown)}; known: {list(DIM_ORDER)}"
        )
    parts = [f"{d}={scope[d]}" for d in DIM_ORDER if scope.get(d) is not None]
    return ";".join(parts) if parts else FRANCE


def parse_cell_key(key: str) -> dict[str, str]:
    """The scope of a key (inverse of :func:`cell_key`); ParameterError on a malformed key."""
    if key.strip() == FRANCE:
        return {}
    scope: dict[str, str] = {}
    for part in key.split(";"):
        dim, sep, value = part.strip().partition("=")
        if not sep or dim not in DIM_ORDER or not value or dim in scope:
            raise ParameterError(
                f"malformed cell key {key!r} (expected dim=value;... in {DIM_ORDER})"
            )
        scope[dim] = value
    return scope
