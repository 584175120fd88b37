"""The run's ``index.html`` (a catalogue for readers) and ``run.html`` (the run's log page).

The catalogue lists the national review, then each région with its page and the sheets of its
Territoires d'industrie (collapsed, one ``<details>`` per région), with three published figures
per row read from the run's figures bundle (``cells.parquet``: the printed text and its
``data-cell`` key, so a value reads the same as on the pages), and an offline search by
territory, EPCI or commune name (a JSON index in the page, a few lines of vanilla JavaScript,
results built with ``textContent`` only). It links to HTML pages only. Statuses, durations,
parameters, sources and logs are on ``run.html``.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyse.files import write_text_atomic
from analyse.report.display import dump_script_json
from analyse.report.html import build_page
from analyse.report.meta import banner_for, format_date_only_fr, format_datetime_fr, page_meta

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
    "national": "Revue nationale",
    "region": "Régions",
    "territory": "Territoires d'industrie",
    "custom": "Autres rapports",
}
RUN_PAGE = "run.html"
#: Parameters shown once for the run (same for every report).
COMMON_PARAMETERS = ("processed_dir", "published_dir", "figures_dir")
#: The published figures of each catalogue row: (measure, column heading).
KEY_MEASURES = (
    ("n_projects", "Projets"),
    ("aid_eur", "Aide accordée"),
    ("investment_per_aid_eur", "€ investis par € d'aide"),
)
#: Régions of the overseas (listed after metropolitan France).
OVERSEAS = frozenset({"01", "02", "03", "04", "06"})

INDEX_CSS = """
.catalogue-lead { max-width: 46rem; }
.search { border: 1px solid var(--rule); border-radius: 4px; background: #f7f9fa;
          padding: .75rem 1rem; margin: 1rem 0 1.5rem; }
.search label { font-weight: 700; display: block; margin-bottom: .35rem; }
.search input { font: inherit; width: min(100%, 32rem); padding: .35rem .5rem;
                border: 1px solid #6b7680; border-radius: 3px; }
.search-results { list-style: none; padding: 0; margin: .5rem 0 0; }
.search-results li { padding: .2rem 0; border-bottom: 1px solid var(--rule); }
.search-results .kind { color: var(--muted); font-size: .85rem; }
details.region { border-bottom: 1px solid var(--rule); }
details.region > summary { padding: .45rem .25rem; display: flex; flex-wrap: wrap; gap: .25rem 1rem;
                           align-items: baseline; list-style: none; }
details.region > summary::-webkit-details-marker { display: none; }
details.region > summary::before { content: "▸"; color: var(--accent); width: 1rem; }
details.region[open] > summary::before { content: "▾"; }
.search-help { color: var(--muted); font-size: .9rem; margin: .35rem 0 0; }
details.region > summary .region-name { font-weight: 700; min-width: 15rem; }
details.region > summary .count { min-width: 13rem; }
details.region > summary .figures { color: var(--ink); font-size: .9rem; }
details.region[open] > summary { background: #f7f9fa; }
table.catalogue { width: 100%; margin: .25rem 0 1rem; }
table.catalogue td.num, table.catalogue th.num { text-align: right; white-space: nowrap; }
.status-note { color: var(--bad); font-weight: 600; }
@media print {
  .search { display: none; }
  details.region::details-content { content-visibility: visible; display: block; }
  details.region > summary::before { content: none; }
}
""".strip()

SEARCH_SCRIPT = """
(function () {
  "use strict";
  var box = document.getElementById("recherche");
  var list = document.getElementById("recherche-resultats");
  var status = document.getElementById("recherche-etat");
  var source = document.getElementById("recherche-index");
  if (!box || !list || !source) { return; }
  var data = JSON.parse(source.textContent);
  var entries = null;
  function norm(text) {
    return String(text).normalize("NFD").replace(/[\\u0300-\\u036f]/g, "")
      .toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
  }
  function build() {
    entries = [];
    data.regions.forEach(function (r) {
      entries.push({key: norm(r[0]), name: r[0], kind: "Région", href: r[1], note: ""});
    });
    data.territories.forEach(function (t) {
      entries.push({key: norm(t[0]), name: t[0], kind: "Territoire d'industrie", href: t[1],
                    note: t[2]});
    });
    data.epci.forEach(function (e) {
      var t = data.territories[e[1]];
      entries.push({key: norm(e[0]), name: e[0], kind: "Intercommunalité (EPCI)", href: t[1],
                    note: "Territoire d'industrie " + t[0] + " — " + t[2]});
    });
    data.communes.forEach(function (c) {
      var t = data.territories[c[1]];
      entries.push({key: norm(c[0]), name: c[0] + " (" + c[2] + ")", kind: "Commune",
                    href: t[1], note: "Territoire d'industrie " + t[0] + " — " + t[2]});
    });
  }
  function show() {
    if (entries === null) { build(); }
    var query = norm(box.value);
    while (list.firstChild) { list.removeChild(list.firstChild); }
    if (query.length < 2) { status.textContent = ""; return; }
    var first = [], other = [];
    for (var i = 0; i < entries.length; i++) {
      var at = entries[i].key.indexOf(query);
      if (at === 0) { first.push(entries[i]); }
      else if (at > 0 && entries[i].key.charAt(at - 1) === " ") { other.push(entries[i]); }
    }
    var found = first.concat(other);
    var shown = found.slice(0, 40);
    shown.forEach(function (e) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = e.href;
      a.textContent = e.name;
      li.appendChild(a);
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = " — " + e.kind + (e.note ? " · " + e.note : "");
      li.appendChild(kind);
      list.appendChild(li);
    });
    status.textContent = found.length === 0 ? "Aucun résultat."
      : found.length + " résultat" + (found.length > 1 ? "s" : "") +
        (found.length > shown.length ? " (les " + shown.length + " premiers affichés)." : ".");
  }
  box.addEventListener("input", show);
  if (box.value) { show(); }
})();
"""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _sort_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def region_name(code: str) -> str:
    """French name of a région (its code when unknown)."""
    from analyse.reference import REGION_NAMES

    return REGION_NAMES.get(code, code)


# ------------------------------------------------------------------------------ key figures


class KeyFigures:
    """Published values of the figures bundle, printed as on the pages (``data-cell`` spans)."""

    def __init__(self, figures_dir: str | Path | None) -> None:
        self.rows: dict[tuple[str, str], tuple[str, bool]] = {}
        path = Path(figures_dir) / "cells.parquet" if figures_dir else None
        if path is None or not path.is_file():
            return
        import polars as pl

        measures = [m for m, _ in KEY_MEASURES]
        frame = pl.read_parquet(path, columns=["cell_key", "measure", "printed", "is_masked"])
        frame = frame.filter(pl.col("measure").is_in(measures))
        for key, measure, printed, masked in frame.iter_rows():
            self.rows[(key, measure)] = (printed or "", bool(masked))

    @property
    def available(self) -> bool:
        return bool(self.rows)

    def value(self, key: str | None, measure: str) -> str:
        """The printed value (HTML) of one cell; ``0`` projects for an unpublished territory
        cell (no project), ``—`` otherwise."""
        found = self.rows.get((key, measure)) if key else None
        if found is None:
            return "0" if key and measure == "n_projects" and "ti_p" in key else "—"
        printed, masked = found
        inner = '<abbr title="secret statistique">s</abbr>' if masked else _esc(printed)
        return f'<span data-cell="{_esc(key)}" data-measure="{_esc(measure)}">{inner}</span>'

    def cells(self, key: str | None) -> str:
        """The row's figure cells (``<td>``)."""
        if not self.available:
            return ""
        return "".join(f'<td class="num">{self.value(key, m)}</td>' for m, _ in KEY_MEASURES)

    def heads(self) -> str:
        if not self.available:
            return ""
        return "".join(f'<th scope="col" class="num">{_esc(h)}</th>' for _, h in KEY_MEASURES)

    def inline(self, key: str | None) -> str:
        """The région's figures on its summary line."""
        if not self.available:
            return ""
        if key is None or (key, "n_projects") not in self.rows:
            return '<span class="figures">aucun projet du fonds</span>'
        parts = [
            f"{self.value(key, 'n_projects')} projets",
            f"{self.value(key, 'aid_eur')} d'aide",
            f"{self.value(key, 'investment_per_aid_eur')} € investis par € d'aide",
        ]
        return f'<span class="figures">{" · ".join(parts)}</span>'


def territory_cell_key(region_code: str, ti_id: str, phase: int) -> str:
    """Key of a territory's cell (``region_code=84;ti_p2=ti-8401``)."""
    from analyse.figures.scopes import cell_key

    return cell_key({"region_code": region_code, f"ti_p{phase}": ti_id})


# ------------------------------------------------------------------------------ geography


@dataclass
class Geography:
    """Names read from the run's snapshot: territories (phase, name, région), their EPCI and
    communes (for the search)."""

    territories: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    epci: list[tuple[str, str, int]] = field(default_factory=list)  # (name, ti_id, phase)
    communes: list[tuple[str, str, str, int]] = field(default_factory=list)  # name, dep, ti, ph

    @classmethod
    def read(cls, processed_dir: str | None, phases: set[int]) -> Geography:
        geo = cls()
        if not processed_dir:
            return geo
        try:
            from analyse.tables import read_core_table

            territories = read_core_table("territories", processed_dir)
        except Exception:  # noqa: BLE001 - a snapshot without geography: names from titles
            return geo
        for ti_id, phase, name, region in territories.select(
            "ti_id", "ti_phase", "ti_name", "region_code"
        ).iter_rows():
            geo.territories[(ti_id, int(phase))] = (name or ti_id, region or "")
        try:
            geo._read_search(processed_dir, phases)
        except Exception:  # noqa: BLE001 - the search is a convenience: the catalogue stands
            geo.epci, geo.communes = [], []
        return geo

    def _read_search(self, processed_dir: str, phases: set[int]) -> None:
        import polars as pl

        from analyse.tables import read_core_table

        members = read_core_table("territory_members", processed_dir)
        members = members.filter(pl.col("ti_phase").is_in(list(phases)))
        epci = read_core_table("epci", processed_dir).select("epci_siren", "epci_name")
        members = members.join(epci, on="epci_siren", how="left")
        for name, grouping, ti_id, phase in members.select(
            "epci_name", "grouping_name", "ti_id", "ti_phase"
        ).iter_rows():
            if name or grouping:
                self.epci.append((name or grouping, ti_id, int(phase)))
        links = read_core_table("commune_territories", processed_dir).filter(
            pl.col("ti_phase").is_in(list(phases))
        )
        communes = read_core_table("communes", processed_dir).select(
            "commune_insee", "commune_name", "departement_code"
        )
        joined = links.join(communes, on="commune_insee", how="inner").sort("commune_name")
        for name, dep, ti_id, phase in joined.select(
            "commune_name", "departement_code", "ti_id", "ti_phase"
        ).iter_rows():
            if name:
                self.communes.append((name, dep or "", ti_id, int(phase)))


# ------------------------------------------------------------------------------ catalogue


@dataclass
class _Entry:
    """A report of the catalogue."""

    report: ReportResult
    label: str
    region: str | None = None
    cell: str | None = None


def _status_attrs(report: ReportResult) -> str:
    return f'data-report="{_esc(report.name)}" data-status="{_esc(report.status)}"'


def _entry_link(entry: _Entry) -> str:
    report = entry.report
    if report.html and report.status in ("ok", "cached"):
        return f'<a href="{_esc(report.html)}">{_esc(entry.label)}</a>'
    label = STATUS_LABELS.get(report.status, report.status)
    error = f" : {_esc(report.error)}" if report.error else ""
    return (
        f'{_esc(entry.label)} <span class="status-note">(page non produite, {_esc(label)}'
        f"{error})</span>"
    )


def _entry_row(entry: _Entry, figures: KeyFigures) -> str:
    return (
        f'<tr {_status_attrs(entry.report)}><th scope="row">{_entry_link(entry)}</th>'
        f"{figures.cells(entry.cell)}</tr>"
    )


def _table(caption: str, rows: Sequence[str], figures: KeyFigures, first: str) -> str:
    return (
        f'<table class="catalogue"><caption>{_esc(caption)}</caption><thead><tr>'
        f'<th scope="col">{_esc(first)}</th>{figures.heads()}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )


def _classify(result: RunResult, geo: Geography) -> dict[str, Any]:
    """National entries, région entries by code, territory entries by région code, others."""
    national: list[_Entry] = []
    regions: dict[str, _Entry] = {}
    territories: dict[str, list[_Entry]] = {}
    others: list[_Entry] = []
    for report in result.reports:
        params = report.parameters
        if report.kind == "national":
            national.append(_Entry(report, "Revue nationale (France entière)", cell="*"))
        elif report.kind == "region" and params.get("region_code"):
            code = str(params["region_code"])
            regions[code] = _Entry(
                report, f"Page régionale : {region_name(code)}", code, f"region_code={code}"
            )
        elif report.kind == "territory" and params.get("ti_id"):
            ti_id, phase = str(params["ti_id"]), int(params.get("ti_phase") or 2)
            name, code = geo.territories.get((ti_id, phase), (report.title, ""))
            cell = territory_cell_key(code, ti_id, phase) if code else None
            territories.setdefault(code, []).append(_Entry(report, name, code, cell))
        else:
            others.append(_Entry(report, report.title or report.name))
    return {"national": national, "regions": regions, "territories": territories, "others": others}


def _region_order(codes: set[str]) -> list[str]:
    return sorted(codes, key=lambda c: (c in OVERSEAS, _sort_key(region_name(c)), c))


def _region_block(code: str, groups: Mapping[str, Any], figures: KeyFigures) -> str:
    region = groups["regions"].get(code)
    sheets = sorted(groups["territories"].get(code, []), key=lambda e: _sort_key(e.label))
    name = region_name(code) if code else "Territoires sans région connue"
    rows = [_entry_row(region, figures)] if region else []
    rows += [_entry_row(e, figures) for e in sheets]
    n = len(sheets)
    count = f"{n} territoire{'s' if n > 1 else ''} d'industrie"
    failed = any(e.report.status in ("failed", "interrupted") for e in [*sheets, region] if e)
    warn = ' <span class="status-note">(pages manquantes)</span>' if failed else ""
    cell = f"region_code={code}" if code else None
    return (
        f'<details class="region" id="region-{_esc(code or "nd")}"{" open" if failed else ""}>'
        f'<summary><span class="region-name">{_esc(name)}</span> <span class="count">{count}</span>'
        f"{figures.inline(cell) if region else ''}{warn}</summary>"
        + _table(f"{name} : page régionale et fiches des territoires", rows, figures, "Page")
        + "</details>"
    )


def _search_index(groups: Mapping[str, Any], geo: Geography) -> dict[str, list[Any]]:
    """Régions, territory sheets, their EPCI and communes, for the search box."""
    territories: list[list[Any]] = []
    position: dict[tuple[str, int], int] = {}
    for code, entries in groups["territories"].items():
        for entry in entries:
            params = entry.report.parameters
            if not (entry.report.html and entry.report.status in ("ok", "cached")):
                continue
            key = (str(params["ti_id"]), int(params.get("ti_phase") or 2))
            position[key] = len(territories)
            where = f"région {region_name(code)}" if code else ""
            territories.append([entry.label, entry.report.html, where])
    regions = [
        [region_name(code), e.report.html]
        for code, e in groups["regions"].items()
        if e.report.html and e.report.status in ("ok", "cached")
    ]
    epci = sorted(
        {(name, position[(ti, ph)]) for name, ti, ph in geo.epci if (ti, ph) in position},
        key=lambda item: _sort_key(item[0]),
    )
    communes = [
        [name, position[(ti, ph)], dep]
        for name, dep, ti, ph in geo.communes
        if (ti, ph) in position
    ]
    return {
        "regions": regions,
        "territories": territories,
        "epci": [list(e) for e in epci],
        "communes": communes,
    }


def _search_block(index: Mapping[str, list[Any]]) -> str:
    from analyse.formatting import format_int

    help_text = (
        f"{format_int(len(index['territories']))} fiches de territoire, "
        f"{format_int(len(index['epci']))} intercommunalités et "
        f"{format_int(len(index['communes']))} communes : tapez au moins deux lettres."
    )
    return (
        '<section class="search" role="search" aria-label="Recherche dans le catalogue">'
        '<label for="recherche">Rechercher un territoire, une intercommunalité (EPCI) ou une '
        "commune</label>"
        '<input type="search" id="recherche" autocomplete="off" spellcheck="false" '
        'aria-describedby="recherche-aide" aria-controls="recherche-resultats">'
        f'<p id="recherche-aide" class="search-help">{_esc(help_text)}</p>'
        '<p id="recherche-etat" role="status" aria-live="polite"></p>'
        '<ul id="recherche-resultats" class="search-results"></ul>'
        "<noscript><p>La recherche demande JavaScript ; le catalogue ci-dessous liste toutes "
        "les pages.</p></noscript>"
        '<script type="application/json" id="recherche-index">'
        f"{dump_script_json(index)}</script></section>"
    )


def _status_line(result: RunResult) -> str:
    produced = sum(r.status in ("ok", "cached") for r in result.reports)
    failed = result.failed
    text = f"{produced} page{'s' if produced > 1 else ''} sur {len(result.reports)}"
    line = (
        f'<p id="run-status" data-status="{_esc(result.to_dict()["status"])}">'
        f"<strong>{text}</strong> produites."
    )
    if failed:
        line += (
            f' <span class="status-note">{len(failed)} rapport'
            f"{'s' if len(failed) > 1 else ''} en échec ou interrompu"
            f"{'s' if len(failed) > 1 else ''}</span>."
        )
    return line + (
        f' Statut, durées, paramètres et journaux : <a href="{RUN_PAGE}">journal '
        "d'exécution</a>.</p>"
    )


def render_index(result: RunResult) -> str:
    """The catalogue page of a run, as HTML text."""
    phases = {
        int(r.parameters.get("ti_phase") or 2) for r in result.reports if r.kind == "territory"
    }
    geo = Geography.read(result.processed_dir, phases or {2})
    figures = KeyFigures(result.figures_dir)
    groups = _classify(result, geo)
    parts = [
        "<h1>Territoires d'industrie : revue à trois ans — catalogue des rapports</h1>",
        _status_line(result),
        '<p class="catalogue-lead">La revue nationale, puis chaque région avec sa page et les '
        "fiches de ses Territoires d'industrie (périmètre de la phase 2, 2023-2027, sauf mention "
        "contraire). Chiffres du fonds d'accélération : projets, aide accordée et euros "
        "d'investissement annoncé par euro d'aide (rapport descriptif entre montants déclarés, "
        "pas un effet de l'aide) ; « s » : secret statistique.</p>",
        _search_block(_search_index(groups, geo)),
    ]
    if groups["national"]:
        rows = [_entry_row(e, figures) for e in groups["national"]]
        parts += ['<h2 id="national">France</h2>', _table("Revue nationale", rows, figures, "Page")]
    codes = set(groups["regions"]) | set(groups["territories"])
    if codes:
        parts.append('<h2 id="regions">Régions et Territoires d\'industrie</h2>')
        parts += [_region_block(code, groups, figures) for code in _region_order(codes)]
    if groups["others"]:
        rows = [_entry_row(e, KeyFigures(None)) for e in groups["others"]]
        parts += [
            '<h2 id="autres">Autres rapports</h2>',
            _table("Autres rapports", rows, KeyFigures(None), "Page"),
        ]
    parts.append(f"<script>{SEARCH_SCRIPT}</script>")
    return build_page(
        "\n".join(parts),
        title="Catalogue des rapports",
        meta=page_meta(result.metadata, result.started_at, result.snapshot_id),
        banner=banner_for(result.metadata),
        bundle="none",
        toc=False,
        head_extra=f"<style>{INDEX_CSS}</style>",
    )


# ------------------------------------------------------------------------------ run page


def _format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".", ",")
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _format_parameters(parameters: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in parameters.items() if k not in COMMON_PARAMETERS}
    if not shown:
        return "—"
    return "<br>".join(f"<code>{_esc(k)}</code> = <code>{_esc(v)}</code>" for k, v in shown.items())


def _run_row(report: ReportResult) -> str:
    label = STATUS_LABELS.get(report.status, report.status)
    if report.reused_from:
        label += f" (exécution {report.reused_from})"
    page = (
        f'<a href="{_esc(report.html)}">{_esc(report.title)}</a>'
        if report.html
        else _esc(report.title)
    )
    log = f'<a href="{_esc(report.log)}">journal</a>' if report.log else ""
    notebook = f"<br><small><code>{_esc(report.notebook)}</code></small>" if report.notebook else ""
    size = f"<br><small>{report.html_bytes / 1024:.0f} ko</small>" if report.html_bytes else ""
    error = ""
    if report.error:
        error = f"<div>{_esc(report.error)}</div>"
        if report.traceback:
            error += (
                f"<details><summary>trace</summary><pre>{_esc(report.traceback)}</pre></details>"
            )
    return (
        f'<tr id="r-{_esc(report.name)}" class="{_esc(report.status)}" {_status_attrs(report)}>'
        f'<th scope="row">{page}<br><small>{_esc(report.name)}</small></th>'
        f'<td class="status-{_esc(report.status)}">{_esc(label)}</td>'
        f'<td class="num">{_format_duration(report.duration_s)}</td>'
        f"<td>{_format_parameters(report.parameters)}</td><td>{log}{notebook}{size}</td>"
        f"<td>{error}</td></tr>"
    )


def _sources_table(metadata: Mapping[str, Any]) -> str:
    sources = metadata.get("sources")
    if isinstance(sources, Mapping):
        items = list(sources.items())
    elif isinstance(sources, list):
        items = [(s.get("source_id") or s.get("id") or s.get("file", "?"), s) for s in sources]
    else:
        items = []
    rows = []
    for source_id, info in items:
        info = info if isinstance(info, Mapping) else {"vintage": str(info)}
        vintage = info.get("vintage_fr") or info.get("vintage") or info.get("date") or ""
        sha = str(info.get("sha256") or "")[:12]
        rows.append(
            f'<tr><th scope="row">{_esc(source_id)}</th><td>{_esc(vintage)}</td>'
            f"<td><code>{_esc(info.get('path') or info.get('file') or '')}</code></td>"
            f"<td><code>{_esc(sha)}</code></td></tr>"
        )
    if not rows:
        return ""
    return (
        '<h2 id="sources">Sources des données</h2><table><thead><tr><th scope="col">Source</th>'
        '<th scope="col">Millésime</th><th scope="col">Fichier</th><th scope="col">SHA-256'
        "</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _run_summary(result: RunResult) -> list[str]:
    data = result.to_dict()
    metadata = result.metadata or {}
    counts = ", ".join(
        f"{n} {STATUS_LABELS.get(s, s)}{'s' if n > 1 and s in ('ok', 'failed') else ''}"
        for s, n in sorted(data["counts"].items())
    )
    data_line = f"<li>Jeu de données <code>{_esc(result.snapshot_id or 'n.d.')}</code>"
    if metadata.get("cleaned_at"):
        data_line += f", nettoyé le {_esc(format_date_only_fr(str(metadata['cleaned_at'])))}"
    if metadata:
        data_line += (
            " — <strong>synthétiques</strong>" if metadata.get("synthetic") else " — réelles"
        )
    else:
        data_line += " (metadata.json absent : millésime inconnu)"
    items = [
        f"<li>Exécution <code>{_esc(result.run_id)}</code>, du "
        f"{_esc(format_datetime_fr(result.started_at))} au "
        f"{_esc(format_datetime_fr(result.finished_at))}, {result.workers} processus "
        f"(moteur {_esc(result.engine)}, exécutant {_esc(result.executor)}).</li>",
        data_line + f" ; dossier <code>{_esc(result.processed_dir)}</code>.</li>",
        f"<li>Chiffres publiés : <code>{_esc(result.figures_dir or 'aucun')}</code>.</li>",
        f"<li>Version du paquet : analyse {_esc(data['package_version'])}.</li>",
    ]
    if result.interrupted:
        items.append("<li><strong>Exécution interrompue</strong> avant la fin.</li>")
    return [
        "<h1>Journal d'exécution</h1>",
        '<p><a href="index.html">← Catalogue des rapports</a></p>',
        f'<p id="run-status" data-status="{_esc(data["status"])}"><strong>'
        f"{len(result.reports)} rapports</strong> : {_esc(counts)}.</p>",
        "<ul>",
        *items,
        "</ul>",
        _sources_table(metadata),
    ]


def render_run_page(result: RunResult) -> str:
    """The run's log page: statuses, durations, parameters, logs, sources."""
    parts = _run_summary(result)
    ordered = sorted(result.reports, key=lambda r: (KIND_ORDER.get(r.kind, 9), r.name))
    groups: dict[str, list[ReportResult]] = {}
    for report in ordered:
        groups.setdefault(report.kind, []).append(report)
    for kind, reports in groups.items():
        parts.append(f'<h2 id="rapports-{_esc(kind)}">{_esc(KIND_LABELS.get(kind, kind))}</h2>')
        parts.append(
            '<table class="reports"><thead><tr><th scope="col">Rapport</th><th scope="col">'
            'Statut</th><th scope="col" class="num">Durée</th><th scope="col">Paramètres</th>'
            '<th scope="col">Fichiers</th><th scope="col">Erreur</th></tr></thead><tbody>'
        )
        parts += [_run_row(r) for r in reports]
        parts.append("</tbody></table>")
    return build_page(
        "\n".join(parts),
        title="Journal d'exécution",
        meta=page_meta(result.metadata, result.started_at, result.snapshot_id),
        banner=banner_for(result.metadata),
        bundle="none",
    )


def write_index_html(result: RunResult, path: Path) -> int:
    """Write the catalogue (``path``) and the run page (``run.html`` beside it) atomically;
    return the catalogue's size in bytes."""
    write_text_atomic(path.parent / RUN_PAGE, render_run_page(result))
    return write_text_atomic(path, render_index(result))
