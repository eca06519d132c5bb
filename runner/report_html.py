"""The HTML pieces of `train-tune results ID --html`: the page's style and scripts, tables, the figures
(plotly's JavaScript inlined once) and the decision log, collapsed, with a filter.

Pure string building; `runner.report` assembles the page.
"""

from __future__ import annotations

import html
import math
from typing import Any

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f4f4f4;position:sticky;top:0}pre{background:#f8f8f8;padding:1em;overflow:auto}
.meta td:first-child{font-weight:600}.note{color:#555;font-size:.9em}.scroll{max-height:420px;overflow:auto}
.cards{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}.cards>div{min-width:220px}
.plots{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:1em 2em}.plots>.wide{grid-column:1/-1}
details{margin:1em 0}summary{cursor:pointer;font-weight:600;font-size:1.2em}
#js-errors:empty{display:none}#js-errors{color:#b00;border:1px solid #b00;padding:.5em}
.filter{margin:.5em 0;display:flex;gap:.5em}.filter input{width:24em}"""

ERRORS_SCRIPT = """<script>window.addEventListener('error',function(e){var box=document.getElementById('js-errors');
if(box){box.textContent+='script error: '+e.message+'\\n';}});</script>"""
"""Put first in the page: a script that fails says so in the page (`#js-errors`) instead of leaving a
blank figure; the report's test reads it from the rendered DOM."""

FILTER_SCRIPT = """<script>function filterDecisions(){
var q=document.getElementById('decision-filter').value.toLowerCase().trim(),k=document.getElementById('decision-kind').value,
shown=0,rows=document.querySelectorAll('#decisions tbody tr');
rows.forEach(function(r){var ok=(!k||r.cells[0].textContent===k)&&(!q||r.textContent.toLowerCase().indexOf(q)>=0);
r.style.display=ok?'':'none';shown+=ok?1:0;});
document.getElementById('decision-count').textContent=shown+' of '+rows.length+' shown';}
(function(){var m=/^#decisions=(.*)$/.exec(location.hash);if(m){document.getElementById('decision-filter').value=
decodeURIComponent(m[1]);document.getElementById('decision-log').open=true;}filterDecisions();})();</script>"""
"""The decision log's filter: rows whose text contains the query and whose kind is the chosen one; a link
ending in `#decisions=QUERY` opens the log filtered."""


def cell(value: Any) -> str:
    """A value as a table cell's text: floats to 4 decimals (NaN empty), dicts as `k=v ...`."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    if isinstance(value, dict):
        return html.escape(" ".join(f"{k}={cell(v)}" for k, v in sorted(value.items())))
    return html.escape(str(value))


def table(rows: list[dict[str, Any]], columns: list[str], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(row.get(c, ''))}</td>" for c in columns) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def collapsed(details_id: str, summary: str, body: str, open_: bool = False) -> str:
    return (f"<details id='{details_id}'{' open' if open_ else ''}><summary>{html.escape(summary)}</summary>"
            f"{body}</details>")


def decision_log(rows: list[dict[str, Any]]) -> str:
    """Every decision in order, in a collapsed section with a text filter and a kind filter."""
    kinds = sorted({str(row["kind"]) for row in rows})
    options = "".join(f"<option>{html.escape(k)}</option>" for k in kinds)
    controls = ("<div class='filter'><input id='decision-filter' type='search' oninput='filterDecisions()' "
                "placeholder='filter: trial number, kind or any text (e.g. startup_random)'>"
                f"<select id='decision-kind' onchange='filterDecisions()'><option value=''>every kind</option>{options}"
                "</select><span id='decision-count' class='note'></span></div>")
    body = controls + "<div class='scroll'>" + table(rows, ["kind", "trial", "rung", "proposed by", "detail"],
                                                      "decisions") + "</div>"
    return collapsed("decision-log", f"Decision log ({len(rows)} decisions)", body) + FILTER_SCRIPT


def figures_html(figures: dict[str, Any], titles: dict[str, str], wide: set[str]) -> str:
    """Each figure under its heading, two to a row (`wide` ones across), plotly's JavaScript inlined with
    the first; a `str` in place of a figure is a note saying why there is none."""
    out, first = [], True
    for name, figure in figures.items():
        heading = f'<h2 id="plot-{name}">{html.escape(titles.get(name, name.replace("_", " ").capitalize()))}</h2>'
        if isinstance(figure, str):
            body = f"<p class='note' id='{name}-note'>{html.escape(figure)}</p>"
        else:
            body = figure.to_html(full_html=False, include_plotlyjs=first, div_id=f"fig-{name}",
                                  config={"responsive": True, "displaylogo": False})
            first = False
        out.append(f"<div class='{'wide' if name in wide else ''}'>{heading}{body}</div>")
    return "<div class='plots'>" + "".join(out) + "</div>"
