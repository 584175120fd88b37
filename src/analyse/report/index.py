"""The run's ``index.html``: every report with status, duration, parameters and data vintage."""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyse.files import write_text_atomic
from analyse.report.html import build_page
from analyse.report.meta import banner_for

if TYPE_CHECKING:
    from analyse.report.jobs import ReportResult, RunResult

STATUS_LABELS = {
    "ok": "réussi",
    "cached": "réutilisé",
    "failed": "échec",
    "interrupted": "interrompu",
}
KIND_ORDER = {"national": 0, "region": 1, "territory": 2}
KIND_LABELS = {
    "national": "National",
    "region": "Régions",
    "territory": "Territoires d'industrie",
    "custom": "Autres rapports",
}
#: Parameters shown elsewhere on the page (same for every report of a run).
COMMON_PARAMETERS = ("processed_dir", "published_dir", "figures_dir")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _link(href: str | None, text: str) -> str:
    return f'<a href="{_esc(href)}">{_esc(text)}</a>' if href else _esc(text)


def _format_parameters(parameters: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in parameters.items() if k not in COMMON_PARAMETERS}
    if not shown:
        return "—"
    return "<br>".join(
        f"<code>{_esc(k)}</code> = <code>{_esc(v)!s}</code>" for k, v in shown.items()
    )


def _format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".", ",")
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _report_row(report: ReportResult) -> str:
    status = report.status
    label = STATUS_LABELS.get(status, status)
    if report.reused_from:
        label += f" (run {report.reused_from})"
    files = [_link(report.notebook, "notebook"), _link(report.log, "journal")]
    files = [f for f, rel in zip(files, (report.notebook, report.log), strict=True) if rel]
    error = ""
    if report.error:
        error = f'<div class="error">{_esc(report.error)}</div>'
        if report.traceback:
            error += (
                f"<details><summary>trace</summary><pre>{_esc(report.traceback)}</pre></details>"
            )
    size = f"{report.html_bytes / 1024:.0f} ko" if report.html_bytes else ""
    return (
        f'<tr class="{_esc(status)}" data-report="{_esc(report.name)}" data-status="{_esc(status)}">'
        f"<td>{_link(report.html, report.title)}<br><small>{_esc(report.name)}</small></td>"
        f'<td class="status-{_esc(status)}">{_esc(label)}</td>'
        f"<td>{_format_duration(report.duration_s)}</td>"
        f"<td>{_format_parameters(report.parameters)}</td>"
        f"<td>{' · '.join(files)}<br><small>{size}</small></td>"
        f"<td>{error}</td></tr>"
    )


def _sources_table(metadata: Mapping[str, Any]) -> str:
    sources = metadata.get("sources")
    rows = []
    if isinstance(sources, Mapping):
        items = list(sources.items())
    elif isinstance(sources, list):
        items = [(s.get("source_id") or s.get("id") or s.get("file", "?"), s) for s in sources]
    else:
        items = []
    for source_id, info in items:
        if isinstance(info, Mapping):
            vintage = info.get("vintage") or info.get("date") or ""
            file = info.get("file") or info.get("path") or ""
            sha = str(info.get("sha256") or "")[:12]
        else:
            vintage, file, sha = str(info), "", ""
        rows.append(
            f"<tr><td>{_esc(source_id)}</td><td>{_esc(vintage)}</td>"
            f"<td><code>{_esc(file)}</code></td><td><code>{_esc(sha)}</code></td></tr>"
        )
    if not rows:
        return ""
    return (
        "<details><summary>Sources des données</summary><table><thead><tr><th>source</th>"
        "<th>millésime</th><th>fichier</th><th>sha256</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></details>"
    )


def _run_summary(result: RunResult) -> list[str]:
    """The summary section: counts, run, data vintage and snapshot, package version."""
    data = result.to_dict()
    metadata = result.metadata or {}
    summary = ", ".join(
        f"{n} {STATUS_LABELS.get(s, s)}{'s' if n > 1 and s in ('ok', 'failed') else ''}"
        for s, n in sorted(data["counts"].items())
    )
    parts = [
        '<section class="run-summary">',
        f'<p id="run-status" data-status="{_esc(data["status"])}">'
        f"<strong>{len(result.reports)} rapports</strong> : {_esc(summary)}.</p>",
        "<ul>",
        f"<li>Exécution <code>{_esc(result.run_id)}</code>, du {_esc(result.started_at)} "
        f"au {_esc(result.finished_at)}, {result.workers} processus.</li>",
        f"<li>Données : <code>{_esc(result.processed_dir)}</code>",
    ]
    if result.snapshot_id:
        parts.append(f", instantané <code>{_esc(result.snapshot_id)}</code>")
    if metadata:
        if metadata.get("cleaned_at"):
            parts.append(f", nettoyées le {_esc(metadata['cleaned_at'])}")
        if metadata.get("package_version"):
            parts.append(f" par analyse {_esc(metadata['package_version'])}")
        parts.append(
            " — <strong>synthétiques</strong>" if metadata.get("synthetic") else " — réelles"
        )
    else:
        parts.append(" (metadata.json absent : millésime inconnu)")
    parts.append(f"</li><li>Version du paquet : analyse {_esc(data['package_version'])}.</li>")
    if result.interrupted:
        parts.append("<li><strong>Exécution interrompue</strong> avant la fin.</li>")
    parts.append("</ul>")
    if metadata:
        parts.append(_sources_table(metadata))
    parts.append("</section>")
    return parts


def _report_tables(result: RunResult) -> list[str]:
    """Failures first, then one table of reports per kind."""
    parts: list[str] = []
    if result.failed:
        parts.append('<section class="failures"><h2 id="echecs">Échecs</h2><ul>')
        parts.extend(
            f'<li><a href="#r-{_esc(r.name)}">{_esc(r.title)}</a> : {_esc(r.error or r.status)}</li>'
            for r in result.failed
        )
        parts.append("</ul></section>")
    ordered = sorted(result.reports, key=lambda r: (KIND_ORDER.get(r.kind, 9), r.name))
    groups: dict[str, list[ReportResult]] = {}
    for report in ordered:
        groups.setdefault(report.kind, []).append(report)
    for kind, reports in groups.items():
        anchor = f"rapports-{kind}"
        parts.append(f'<h2 id="{_esc(anchor)}">{_esc(KIND_LABELS.get(kind, kind))}</h2>')
        parts.append(
            '<table class="reports"><thead><tr><th>rapport</th><th>statut</th><th>durée</th>'
            "<th>paramètres</th><th>fichiers</th><th>erreur</th></tr></thead><tbody>"
        )
        parts.extend(
            _report_row(r).replace("<tr ", f'<tr id="r-{_esc(r.name)}" ', 1) for r in reports
        )
        parts.append("</tbody></table>")
    return parts


def render_index(result: RunResult) -> str:
    """The index page of a run, as HTML text."""
    return build_page(
        "\n".join([*_run_summary(result), *_report_tables(result)]),
        title=f"Rapports — exécution {result.run_id}",
        banner=banner_for(result.metadata),
        bundle="none",
    )


def write_index_html(result: RunResult, path: Path) -> int:
    """Write the index page atomically; return its size in bytes."""
    return write_text_atomic(path, render_index(result))
