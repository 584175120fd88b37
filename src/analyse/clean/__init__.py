"""Clean raw sources into core tables: one reader per source, ``run_clean`` for them all.

Modules: :mod:`~analyse.clean.geography` (INSEE COG), :mod:`~analyse.clean.territories`
(Territoires d'industrie perimeters), :mod:`~analyse.clean.labour` (unemployment by zone
d'emploi), :mod:`~analyse.clean.relance` (France Relance baromètre),
:mod:`~analyse.clean.typologies` (ANCT commune typologies), :mod:`~analyse.clean.projects`
(project lists) and :mod:`~analyse.clean.pipeline` (``run_clean``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyse.clean.pipeline import build_core_tables, run_clean

__all__ = ["build_core_tables", "run_clean"]


def __getattr__(name: str) -> Any:
    # lazy, so that importing one reader (or analyse.clean.projects) does not load them all
    if name in __all__:
        from analyse.clean import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'analyse.clean' has no attribute {name!r}")
