"""The HTML report: one self-contained file (inline CSS and SVG; no scripts, fonts or links to
fetch). It is built from :attr:`EvaluationResult.metrics` only, which holds aggregates: shares per
bin or category, association matrices, scores and counts — never a training record or a PII value.
"""

from __future__ import annotations

import datetime as _dt
from html import escape
from typing import Any

from . import svg
from .core import EvaluationResult
from .grading import privacy_grade, quality_grade

EXPLAIN = {
    "column_distribution_stability": "How closely each column's distribution matches the training data "
    "(mean Jensen-Shannon distance over columns).",
    "column_correlation_stability": "How well relationships between pairs of columns are kept "
    "(difference of Pearson r / chance-adjusted Theil's U / correlation ratio, off-diagonal, each pair "
    "weighted by how strong the relationship is in either table).",
    "deep_structure_stability": "Whether the multivariate structure is kept: both tables projected on the "
    "training data's first two principal components and compared.",
    "text_semantic_similarity": "Whether free text means similar things without copying (sentence-embedding "
    "nearest-neighbour similarities, KS tests for under- and overfitting).",
    "text_structure_similarity": "Whether free text has the same shape: sentences per record, words per "
    "sentence, characters per word.",
    "membership_inference_protection": "How hard it is to tell, from the synthetic data alone, whether a "
    "record was in the training data (distance attack, training vs holdout records).",
    "attribute_inference_protection": "How hard it is to infer a training record's other attributes from "
    "a few known ones using the synthetic data (5 nearest synthetic neighbours).",
}
TITLES = {
    "column_distribution_stability": "Column Distribution Stability",
    "column_correlation_stability": "Column Correlation Stability",
    "deep_structure_stability": "Deep Structure Stability",
    "text_semantic_similarity": "Text Semantic Similarity",
    "text_structure_similarity": "Text Structure Similarity",
    "membership_inference_protection": "Membership Inference Protection",
    "attribute_inference_protection": "Attribute Inference Protection",
}

CSS = """
*{box-sizing:border-box}body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;
background:#f4f6f9;color:#26313d;font-size:14px;line-height:1.45}
header{background:#1f2d3d;color:#fff;padding:22px 32px}header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;color:#c7d0da}main{max-width:1180px;margin:0 auto;padding:18px 24px 40px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:18px 22px;margin:16px 0}
h2{margin:0 0 10px;font-size:19px;border-bottom:2px solid #e5e9ef;padding-bottom:6px}
h3{font-size:15px;margin:16px 0 6px}.gauges{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-end}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}th,td{text-align:left;padding:5px 8px;
border-bottom:1px solid #e5e9ef;vertical-align:top}th{background:#f0f3f7;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#6b7785}.small{font-size:12px}
.warn{background:#fff4e5;border-left:4px solid #e09b2d;padding:8px 12px;margin:6px 0;border-radius:4px}
.bad{background:#fdecea;border-left:4px solid #c8453b}.grid{display:flex;flex-wrap:wrap;gap:14px}
.card{border:1px solid #e5e9ef;border-radius:6px;padding:8px 10px;background:#fff}
.card h4{margin:0 0 4px;font-size:13px}.kpi{font-size:22px;font-weight:700}
details summary{cursor:pointer;font-weight:600;margin:8px 0}.pill{display:inline-block;padding:1px 8px;
border-radius:10px;background:#e5e9ef;font-size:12px}
svg.chart{display:block;max-width:100%;height:auto}
"""


def _score(v: Any) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def _num(v: Any, fmt: str = "{:,}") -> str:
    if v is None:
        return "—"
    try:
        return fmt.format(v)
    except (ValueError, TypeError):
        return escape(str(v))


def _ci(ci: Any, fmt: str = "{:.2f}") -> str:
    if not ci:
        return ""
    return f" [{fmt.format(ci[0])}, {fmt.format(ci[1])}]"


def _notes(notes: list[str] | None) -> str:
    if not notes:
        return ""
    return "".join(f'<div class="small muted">{escape(n)}</div>' for n in notes)


def _overview(result: EvaluationResult, m: dict) -> str:
    ds = m.get("dataset", {})
    rows, cols = ds.get("rows", {}), ds.get("columns", {})
    warnings = "".join(f'<div class="warn bad">{escape(w)}</div>' for w in m.get("warnings", []))
    ref = m.get("real_data_reference", {})
    ref_sqs = ref.get("reference_sqs")
    dp = m.get("differential_privacy", {})
    dp_text = (
        f'<span class="pill">DP on: ε spent {_num(dp.get("epsilon_spent"), "{:.3g}")}, δ {_num(dp.get("delta"), "{:.2g}")}</span>'
        if dp.get("enabled")
        else '<span class="pill">DP off</span>'
    )
    return f"""
<section id="overview"><h2>Overview</h2>
<div class="gauges">
{svg.gauge(result.sqs, "Synthetic Quality Score (SQS)", quality_grade(result.sqs), 230)}
{svg.gauge(result.dps, "Data Privacy Score (DPS)", privacy_grade(result.dps), 230)}
<div><div class="muted small">Real-data reference SQS (holdout vs training)</div>
<div class="kpi">{_score(ref_sqs)}</div><div class="small muted">what real unseen data of the synthetic sample's size scores</div>
<div style="margin-top:8px">{dp_text}</div></div>
</div>
{warnings or '<div class="small muted">No warnings.</div>'}
<h3>Dataset statistics</h3>
<table><tr><th></th><th class="num">training</th><th class="num">holdout</th><th class="num">synthetic</th></tr>
<tr><td>rows</td><td class="num">{_num(rows.get("train"))}</td><td class="num">{_num(rows.get("holdout"))}</td>
<td class="num">{_num(rows.get("synthetic"))}</td></tr>
<tr><td>rows evaluated (SQS sample)</td><td class="num">{_num(ds.get("rows_evaluated", {}).get("train"))}</td>
<td class="num">{_num(ds.get("rows_evaluated", {}).get("holdout"))}</td>
<td class="num">{_num(ds.get("rows_evaluated", {}).get("synthetic"))}</td></tr>
<tr><td>columns</td><td class="num">{_num(cols.get("train"))}</td><td class="num">—</td>
<td class="num">{_num(cols.get("synthetic"))}</td></tr>
<tr><td>missing cells</td><td class="num">{_num(ds.get("missing_cell_fraction", {}).get("train"), "{:.1%}")}</td>
<td class="num">—</td><td class="num">{_num(ds.get("missing_cell_fraction", {}).get("synthetic"), "{:.1%}")}</td></tr>
<tr><td>exact copies of training rows</td><td class="num">—</td><td class="num">—</td>
<td class="num">{_num(m.get("privacy", {}).get("exact_copies", {}).get("synthetic_rows_copying_train"))}</td></tr>
</table>
<div class="small muted">Columns evaluated: {_num(cols.get("evaluated"))} of {_num(cols.get("shared"))} shared;
kinds: {escape(", ".join(f"{k} {v}" for k, v in ds.get("column_kinds", {}).items()))}.</div>
{_notes(m.get("notes"))}
</section>"""


def _quality(m: dict) -> str:
    q = m.get("quality", {})
    ref = m.get("real_data_reference", {}).get("components", {})
    rows = []
    for name, comp in q.items():
        r = ref.get(name, {}) if isinstance(ref.get(name), dict) else {}
        flag = (
            ' <span class="pill" style="background:#fdecea">too good to be true</span>'
            if r.get("too_good_to_be_true")
            else ""
        )
        ref_cell = (
            f"{_score(r.get('reference_score'))}{_ci(r.get('reference_score_ci95'), '{:.1f}')}"
            if r.get("reference_score") is not None
            else '<span class="muted">—</span>'
        )
        rows.append(
            f"<tr><td><b>{escape(TITLES.get(name, name))}</b><div class='small muted'>{escape(EXPLAIN.get(name, ''))}</div>"
            f"{_notes(comp.get('notes'))}</td>"
            f"<td class='num'>{_score(comp.get('score'))}<br>{svg.score_bar(comp.get('score'), 110)}</td>"
            f"<td class='num'>{ref_cell}{flag}</td>"
            "</tr>"
        )
    ref_meta = m.get("real_data_reference", {})
    ref_note = (
        f"Real-data reference: the holdout ({ref_meta.get('rows')} rows) scored against the training data the same "
        f"way, its distances rescaled to the synthetic sample size ({ref_meta.get('synthetic_rows')} rows, factor "
        f"{ref_meta.get('size_factor')}: sampling noise shrinks like √(1/n + 1/N)), so it shows what an independent "
        f"real sample of that size scores (at the holdout's own size: SQS {_score(ref_meta.get('holdout_sqs'))}); "
        f"95% range from {ref_meta.get('bootstrap_replicates')} bootstrap replicates. Synthetic distances below "
        "that range are flagged as too good to be true."
        if "rows" in ref_meta
        else f"Real-data reference: {escape(str(ref_meta.get('skipped', 'not available')))}."
    )
    return f"""
<section id="quality"><h2>Synthetic quality</h2>
<table><tr><th>component</th><th class="num">score</th><th class="num">real-data reference [95% range]</th>
</tr>{"".join(rows)}</table>
<div class="small muted">{ref_note}</div>
</section>"""


def _columns_table(m: dict) -> str:
    rows = []
    for c in m.get("columns", []):
        js = c.get("distribution_js")
        rows.append(
            f"<tr><td>{escape(str(c['name']))}</td><td>{escape(c['kind'])}</td>"
            f"<td class='num'>{_num(c.get('n_unique'))}</td><td class='num'>{_num(c.get('missing_fraction'), '{:.1%}')}</td>"
            f"<td class='num'>{'—' if js is None else f'{js:.3f}'}</td><td>{escape(c.get('pii_entity') or '')}</td>"
            f"<td class='small muted'>{escape(c.get('note') or '')}</td></tr>"
        )
    return f"""
<section id="columns"><h2>Columns</h2>
<details><summary>{len(rows)} evaluated columns (type, distinct values, missing share, distribution distance)</summary>
<table><tr><th>column</th><th>kind</th><th class="num">distinct</th><th class="num">missing</th>
<th class="num">JS distance</th><th>PII entity</th><th>note</th></tr>{"".join(rows)}</table></details>
</section>"""


def _correlation(m: dict) -> str:
    c = m.get("charts", {}).get("correlation")
    if not c:
        return (
            '<section id="correlation"><h2>Correlations</h2><div class="muted">Not available (fewer than two '
            "numeric or categorical columns).</div></section>"
        )
    names = c["columns"]
    return f"""
<section id="correlation"><h2>Correlations</h2>
<div class="small muted">Pearson r for number pairs, Theil's U for category pairs, correlation ratio for mixed pairs.
{escape(c.get("note") or "")}</div>
<div class="grid">
<div class="card">{svg.heatmap(c["reference"], names, "Training")}</div>
<div class="card">{svg.heatmap(c["synthetic"], names, "Synthetic")}</div>
<div class="card">{svg.heatmap(c["difference"], names, "|Difference|", diverging=False)}</div>
</div></section>"""


def _pca(m: dict) -> str:
    p = m.get("charts", {}).get("pca")
    if not p:
        return ""
    return f"""
<section id="pca"><h2>Deep structure (PCA)</h2>
<div class="small muted">Both tables projected on the training data's first two principal components; binned densities
(cells with fewer than {p["min_count"]} records are not drawn).</div>
<div class="grid">
<div class="card">{svg.density(p["reference"], p["x_range"], p["y_range"], "Training", svg.REAL)}</div>
<div class="card">{svg.density(p["synthetic"], p["x_range"], p["y_range"], "Synthetic", svg.SYNTH)}</div>
</div></section>"""


def _distributions(m: dict) -> str:
    charts = m.get("charts", {}).get("columns", {})
    js = {c["name"]: c.get("distribution_js") for c in m.get("columns", [])}
    cards = []
    for name, ch in charts.items():
        d = js.get(name)
        head = (
            f"<h4>{escape(name)} <span class='muted small'>JS {'—' if d is None else f'{d:.3f}'}</span></h4>"
        )
        if ch["type"] == "numeric":
            body = svg.histogram(ch["edges"], ch["reference"], ch["synthetic"])
            miss = ch.get("missing", [0, 0])
            if miss[0] or miss[1]:
                body += (
                    f"<div class='small muted'>missing: {miss[0]:.1%} training, {miss[1]:.1%} synthetic</div>"
                )
        else:
            body = svg.paired_bars(ch["labels"], ch["reference"], ch["synthetic"])
        cards.append(f'<div class="card">{head}{body}</div>')
    first, rest = cards[:12], cards[12:]
    more = (
        f"<details><summary>{len(rest)} more columns</summary><div class='grid'>{''.join(rest)}</div></details>"
        if rest
        else ""
    )
    return f"""
<section id="distributions"><h2>Column distributions</h2>{svg.legend()}
<div class="small muted">Shares per bin or category (categories seen fewer than 5 times are pooled into "(other)";
PII columns show ranks, not values).</div>
<div class="grid">{"".join(first)}</div>{more}</section>"""


def _text(m: dict) -> str:
    q = m.get("quality", {})
    sem = q.get("text_semantic_similarity", {})
    struct = q.get("text_structure_similarity", {})
    charts = m.get("charts", {}).get("text_structure", {})
    if not charts and sem.get("score") is None and struct.get("score") is None:
        return (
            '<section id="text"><h2>Text</h2><div class="muted">No free-text columns.</div>'
            f"{_notes(sem.get('notes'))}</section>"
        )
    rows = []
    for col in charts:
        s = sem.get("per_column", {}).get(col, {})
        t = struct.get("per_column", {}).get(col, {})
        rows.append(
            f"<tr><td>{escape(col)}</td><td class='num'>{_score(s.get('score'))}</td>"
            f"<td class='num'>{_num(s.get('ks_under'), '{:.3f}')}</td><td class='num'>{_num(s.get('ks_over'), '{:.3f}')}</td>"
            f"<td class='num'>{_score(t.get('score'))}</td></tr>"
        )
    cards = []
    for col, stats in charts.items():
        for stat, h in stats.items():
            cards.append(
                f'<div class="card"><h4>{escape(col)}: {escape(stat.replace("_", " "))}</h4>'
                f"{svg.histogram(h['edges'], h['reference'], h['synthetic'], width=300)}</div>"
            )
    return f"""
<section id="text"><h2>Text</h2>
<table><tr><th>column</th><th class="num">semantic score</th><th class="num">KS underfit</th>
<th class="num">KS overfit</th><th class="num">structure score</th></tr>{"".join(rows)}</table>
{_notes(sem.get("notes"))}{_notes(struct.get("notes"))}
{svg.legend()}<div class="grid">{"".join(cards)}</div></section>"""


def _privacy(result: EvaluationResult, m: dict) -> str:
    p = m.get("privacy", {})
    mia = p.get("membership_inference_protection", {})
    aia = p.get("attribute_inference_protection", {})
    dcr = p.get("dcr", {})
    copies = p.get("exact_copies", {})
    pii = p.get("pii_replay", {})
    dp = m.get("differential_privacy", {})
    out = [
        '<section id="privacy"><h2>Privacy</h2><div class="gauges">',
        svg.gauge(result.dps, "DPS", privacy_grade(result.dps), 190),
        svg.gauge(mia.get("score"), "Membership inference", privacy_grade(mia.get("score")), 190),
        svg.gauge(aia.get("score"), "Attribute inference", privacy_grade(aia.get("score")), 190),
        "</div>",
        "<h3>Membership inference</h3>",
        f"<div class='small muted'>{escape(EXPLAIN['membership_inference_protection'])}</div>",
    ]
    if mia.get("score") is not None:
        grades = mia.get("attack_grades", {})
        colours = {
            "Excellent": "#2f9e5b",
            "Very Good": "#8bb04a",
            "Good": "#c2b93a",
            "Moderate": "#e09b2d",
            "Poor": "#c8453b",
        }
        out.append(
            f"<table><tr><th>attack ROC AUC [95% CI]</th><th>TPR at 1% FPR [95% CI]</th><th>members / non-members</th></tr>"
            f"<tr><td>{_num(mia.get('auc'), '{:.3f}')}{_ci(mia.get('auc_ci95'), '{:.3f}')} <span class='muted small'>(0.5 = no signal)</span></td>"
            f"<td>{_num(mia.get('tpr_at_1pct_fpr'), '{:.3f}')}{_ci(mia.get('tpr_at_1pct_fpr_ci95'), '{:.3f}')} "
            f"<span class='muted small'>(0.01 = chance)</span></td>"
            f"<td>{_num(mia.get('n_members'))} / {_num(mia.get('n_nonmembers'))}</td></tr></table>"
            "<div class='small'>Grades of the 360 threshold attacks:</div>"
            + svg.stacked_bar([(k, v, colours[k]) for k, v in grades.items()])
        )
    out.append(_notes(mia.get("notes")))
    out.append("<h3>Distance to closest record</h3>")
    if "share_closer_to_train" in dcr:
        h = dcr["histogram"]
        out.append(
            f"<div>Share of synthetic records closer to the training sample than to an equal-size holdout sample: "
            f"<b>{dcr['share_closer_to_train']:.3f}</b>{_ci(dcr.get('share_ci95'), '{:.3f}')} "
            "<span class='muted small'>(0.5 = no memorisation)</span></div>"
            f"<div class='small muted'>median distance to training {dcr['median_dcr_train']:.4g}, to holdout "
            f"{dcr['median_dcr_holdout']:.4g}; {dcr['share_zero_distance_train']:.1%} at distance 0 from a training record</div>"
            + svg.legend(labels=("distance to training", "distance to holdout"), width=320)
            + svg.histogram(h["edges"], h["to_train"], h["to_holdout"], width=520, height=160)
        )
    else:
        out.append(f"<div class='muted'>{escape(str(dcr.get('skipped', 'not available')))}</div>")
    out.append(
        f"<div class='small'>Exact copies: {_num(copies.get('synthetic_rows_copying_train'))} synthetic rows copy a training row "
        f"({_num(copies.get('unique_train_rows_copied'))} distinct); holdout rows matching a training row: "
        f"{_num(copies.get('holdout_rows_copying_train'))} (population baseline).</div>"
    )
    out.append("<h3>Attribute inference</h3>")
    out.append(f"<div class='small muted'>{escape(EXPLAIN['attribute_inference_protection'])}</div>")
    if aia.get("per_column"):
        items = sorted(((k, v.get("score")) for k, v in aia["per_column"].items()), key=lambda kv: kv[1] or 0)
        out.append(
            f"<div class='small'>{aia.get('n_attacks')} attacks, {aia.get('quasi_identifiers')} quasi-identifiers each; "
            "protection per column (lower = more inferable):</div>" + svg.hbars(items[:60])
        )
    out.append(_notes(aia.get("notes")))
    out.append("<h3>PII replay</h3>")
    if pii.get("rows"):
        rows = "".join(
            f"<tr><td>{escape(str(r['column']))}</td><td>{escape(str(r['entity']))}</td><td>{escape(r['source'])}</td>"
            f"<td class='num'>{_num(r.get('unique_ref'))}</td><td class='num'>{_num(r.get('unique_synth'))}</td>"
            f"<td class='num'>{_num(r.get('total_synth'))}</td><td class='num'>{_num(r.get('replay_share'), '{:.1%}')}</td></tr>"
            for r in pii["rows"]
        )
        out.append(
            "<table><tr><th>column</th><th>entity</th><th>where</th><th class='num'>distinct training values</th>"
            "<th class='num'>of them in synthetic</th><th class='num'>synthetic rows/cells</th><th class='num'>replayed</th></tr>"
            f"{rows}</table><div class='small muted'>Counts only; values are never shown.</div>"
        )
    out.append(_notes(pii.get("notes")))
    out.append("<h3>Differential privacy</h3>")
    if dp.get("enabled"):
        rows = "".join(
            f"<tr><td>{escape(k.replace('_', ' '))}</td><td class='num'>{escape(str(v))}</td></tr>"
            for k, v in dp.items()
            if k != "enabled"
        )
        out.append(f"<table><tr><th>DP-SGD ledger</th><th class='num'>value</th></tr>{rows}</table>")
    else:
        out.append("<div class='muted'>Trained without differential privacy.</div>")
    out.append("</section>")
    return "".join(out)


def _utility(m: dict) -> str:
    u = m.get("utility", {})
    if u.get("skipped") or not u.get("metric"):
        return f"<section id='utility'><h2>Utility</h2><div class='muted'>Skipped: {escape(str(u.get('skipped', 'not available')))}</div></section>"
    syn, real = u.get("train_synthetic_test_real") or {}, u.get("train_real_test_real") or {}
    keys = ["accuracy", "auc"] if u["task"] == "classification" else ["r2"]
    rows = "".join(
        f"<tr><td>{k.upper() if k != 'r2' else 'R²'}</td><td class='num'>{_num(syn.get(k), '{:.3f}')}</td>"
        f"<td class='num'>{_num(real.get(k), '{:.3f}')}</td></tr>"
        for k in keys
    )
    return f"""
<section id="utility"><h2>Utility (train synthetic, test real)</h2>
<div class="small muted">Gradient-boosted model predicting <b>{escape(u["target"])}</b> ({escape(u["task"])}) from
{u.get("n_features")} columns, tested on {_num(u.get("n_test"))} holdout rows.</div>
<table><tr><th>metric</th><th class="num">trained on synthetic</th><th class="num">trained on real</th></tr>{rows}</table>
<div>Utility ratio ({escape(u["metric"])}): <b>{_num(u.get("utility_ratio"), "{:.3f}")}</b></div>
</section>"""


def _time_series(m: dict) -> str:
    """Time-series similarity (evaluation/time_series.py), synthetic beside the holdout; empty when
    the run was not in time-series mode."""
    ts = m.get("time_series")
    if not ts:
        return ""
    syn, hold = ts.get("synthetic") or {}, ts.get("holdout") or {}
    labels = [
        ("autocorrelation_similarity", "Autocorrelation similarity (lags 1..k)"),
        ("cross_correlation_similarity", "Cross-correlation similarity"),
        ("step_distribution_similarity", "Per-step value distributions (1 − TV, mean over steps)"),
        ("interval_regularity", "Interval regularity (share of steps on the grid)"),
        ("series", "Series"),
        ("median_series_length", "Median series length"),
    ]
    rows = "".join(
        f"<tr><td>{escape(label)}</td><td class='num'>{_num(syn.get(key), '{:.3f}' if key != 'series' else '{:,}')}</td>"
        f"<td class='num'>{_num(hold.get(key), '{:.3f}' if key != 'series' else '{:,}') if hold else '—'}</td></tr>"
        for key, label in labels
    )
    columns = ", ".join(escape(c) for c in ts.get("columns", [])) or "none"
    syn_curve, hold_curve = (
        syn.get("step_distribution_by_step") or [],
        hold.get("step_distribution_by_step") or [],
    )
    step_rows = "".join(
        f"<tr><td>{b + 1}</td><td class='num'>{_num(v, '{:.3f}')}</td>"
        f"<td class='num'>{_num(hold_curve[b], '{:.3f}') if b < len(hold_curve) else '—'}</td></tr>"
        for b, v in enumerate(syn_curve)
    )
    steps = (
        f"""<h3>Value distributions by step</h3><div class="small muted">Steps of a series in {len(syn_curve)}
equal buckets (1 = the first records); per bucket, 1 − total variation of the binned values, mean over columns.</div>
<table><tr><th>step bucket</th><th class="num">synthetic</th><th class="num">holdout</th></tr>{step_rows}</table>"""
        if syn_curve
        else ""
    )
    return f"""
<section id="time-series"><h2>Time series</h2>
<div class="small muted">Numeric columns: {columns}; grid interval {_num(ts.get("interval_seconds"), "{:g}")} s;
max lag {syn.get("max_lag")}. Compared with the training series; the holdout column is the level of unseen
real series. Not part of SQS.</div>
<table><tr><th>metric</th><th class="num">synthetic</th><th class="num">holdout</th></tr>{rows}</table>
{steps}
</section>"""


def _footer(m: dict) -> str:
    t = m.get("timings_seconds", {})
    skipped = m.get("skipped_columns", {})
    sk = "".join(f"<li>{escape(k)}: {escape(v or '')}</li>" for k, v in skipped.items())
    return f"""
<section id="notes"><h2>Notes</h2>
{"<h3>Skipped columns</h3><ul class='small'>" + sk + "</ul>" if sk else ""}
<div class="small muted">Evaluation time {t.get("total", 0):.1f} s; seed {m.get("seed")}. Formulas: see the
docstrings of safe_synthesizer.evaluation's modules. This report contains aggregates only.</div>
</section>"""


def render_report(result: EvaluationResult, title: str) -> str:
    """The self-contained HTML report of one evaluation."""
    m = result.metrics
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if m.get("skipped"):
        body = f"<section><h2>Evaluation skipped</h2><p>{escape(str(m['skipped']))}</p></section>"
    else:
        body = "".join(
            [
                _overview(result, m),
                _quality(m),
                _columns_table(m),
                _correlation(m),
                _pca(m),
                _distributions(m),
                _text(m),
                _privacy(result, m),
                _utility(m),
                _time_series(m),
                _footer(m),
            ]
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body><header><h1>{escape(title)}</h1><p>Safe Synthesizer evaluation report · {now}</p></header>
<main>{body}</main></body></html>
"""
