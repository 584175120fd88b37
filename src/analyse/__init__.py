"""analyse: evaluation toolkit for Territoires d'industrie and the acceleration fund."""

__version__ = "0.1.0"
