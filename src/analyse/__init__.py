"""analyse: evaluation toolkit for Territoires d'industrie and the acceleration fund."""

import os
import sys

__version__ = "0.1.0"

# jsonschema (imported by Altair and nbformat) loads the optional ``rfc3987_syntax`` IRI checker
# when it is installed (JupyterLab's jupyter-events pulls it in). That module compiles a Lark
# grammar at import and costs ~3.5 s in every report kernel, i.e. most of a territory sheet's run.
# Neither Altair nor nbformat validates IRI formats, so mark the module unavailable before they
# are imported (jsonschema then skips that optional checker). ANALYSE_KEEP_RFC3987=1 opts out.
if "rfc3987_syntax" not in sys.modules and not os.environ.get("ANALYSE_KEEP_RFC3987"):
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
