"""The strategies' comparison as one self-contained HTML page (no script, no file beside it).

A summary (a bar chart and a table: mean quality score, token fill, the share of each answer the
model did not write, the share the rules wrote), then each prompt with every strategy's answer side
by side: the spans the worker added marked by why it added them (the change report's `added`), the
score, the tokens against the budget and the negative prompt. Each figure carries `data-` names, so
a reader (or a test in a browser) can find it on the page.
"""

from __future__ import annotations

import json
from html import escape

from .compare import Comparison, Take

# The report's reasons for a unit the model did not write; any other reason names the element a
# stock phrase was added for ("lighting", "motion", ...).
_WHY = {
    "quality_tags": ("quality tags", "#e5e7eb"),
    "prompt_words": ("the user's words, put in", "#dbeafe"),
    "kept_term": ("a kept term, put back", "#ede9fe"),
    "worker": ("the worker's own text", "#fee2e2"),
    "rules_answer": ("the rules' answer (no model text)", "#fecaca"),
}
_STOCK = ("a stock phrase for a missing element", "#ffedd5")
_CHARTED = (
    ("mean_quality_score", "mean quality score"),
    ("mean_token_fill", "mean token fill (tokens / budget)"),
    ("mean_added_share", "share of the answer the model did not write"),
    ("rules_share", "answers written by the rules"),
)
_PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2")
_BAR = 420  # px for a value of 1.0
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#111827;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
.meta,.note{color:#4b5563;margin:2px 0}.note{max-width:70em}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d1d5db;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f3f4f6}
.legend span{display:inline-block;margin:0 12px 4px 0;padding:1px 6px;border-radius:3px}
.case{border-top:1px solid #d1d5db;padding:10px 0}.case h3{font-size:15px;margin:0}
.job{color:#6b7280;font-size:12px;margin:0 0 6px}
.takes{display:grid;gap:12px}.take{background:#f9fafb;border-radius:6px;padding:8px 10px}
.take h4{margin:0 0 4px;font-size:13px}.take h4 small{color:#6b7280;font-weight:normal}
.answer{margin:0 0 6px;white-space:pre-wrap}mark{border-radius:3px;padding:0 1px;color:inherit}
.figures{display:flex;flex-wrap:wrap;gap:4px 14px;margin:0;font-size:12px;color:#374151}
.figures div{display:flex;gap:4px}.figures dt{color:#6b7280}.figures dd{margin:0;font-variant-numeric:tabular-nums}
.fill{height:6px;background:#e5e7eb;border-radius:3px;margin:6px 0 0;overflow:hidden}
.fill span{display:block;height:100%;background:#10b981}.fill.over span{background:#dc2626}
.negative{font-size:12px;color:#6b7280;margin:6px 0 0}.error{color:#b91c1c}
details pre{background:#f3f4f6;padding:8px;white-space:pre-wrap}
"""


def render(comparison: Comparison) -> str:
    names = comparison.strategies
    summary = comparison.summary()
    title = f"Strategies compared: {' vs '.join(names)}"
    body = [
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="meta">{len(comparison.cases)} prompts &times; {len(names)} strategies &middot; model '
        f"{escape(comparison.model)} &middot; prompts from {escape(comparison.source)} &middot; "
        f"{comparison.seconds:.1f} s</p>",
        f'<p class="note">{escape(_note(comparison))}</p></header>',
        '<section id="summary"><h2>Summary</h2>',
        _chart(names, summary),
        _table(names, summary),
        "<details><summary>The strategies as the file defines them</summary><pre>"
        + escape(json.dumps(comparison.settings, indent=2, ensure_ascii=False)) + "</pre></details></section>",
        '<section id="legend" class="legend"><h2>Answers</h2><p>Marked: what the model did not write, by why '
        "the worker added it. Unmarked text is the model's.</p>"
        + "".join(f'<span style="background:{color}">{escape(label)}</span>' for label, color in
                  [*_WHY.values(), _STOCK]) + "</section>",
        '<section id="cases">',
        *(_case(case.prompt, case.job_type, [case.takes[n] for n in names if n in case.takes], len(names))
          for case in comparison.cases),
        "</section>",
    ]
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n")


def _note(comparison: Comparison) -> str:
    if comparison.replayed:
        return ("Replayed: every strategy got the same recorded model answer, so the answers differ only in "
                "what the worker does after generation (strength, stock phrases, negative prompt), not in "
                "system prompt or sampling.")
    return "Each strategy asked the model with its own system prompt, strength and sampling."


def _chart(names: list[str], summary: dict[str, dict]) -> str:
    """Horizontal bars, one group per figure, one bar per strategy; every figure is in 0..1."""
    label_width, row, gap = 300, 20, 16
    height = sum(gap + row * len(names) for _ in _CHARTED) + gap
    parts = [f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{label_width + _BAR + 70}" '
             f'height="{height}" role="img" aria-label="per-strategy summary">']
    y = gap
    for metric, label in _CHARTED:
        parts.append(f'<text x="0" y="{y + row * len(names) / 2 + 4}" font-size="12">{escape(label)}</text>')
        for index, name in enumerate(names):
            value = summary[name][metric] or 0.0
            color = _PALETTE[index % len(_PALETTE)]
            parts.append(
                f'<rect class="bar" data-strategy="{escape(name)}" data-metric="{metric}" data-value="{value}" '
                f'x="{label_width}" y="{y + 2}" width="{value * _BAR:.2f}" height="{row - 4}" fill="{color}">'
                f"<title>{escape(name)}: {value:.3f}</title></rect>"
                f'<text x="{label_width + value * _BAR + 4:.2f}" y="{y + row - 6}" font-size="11">'
                f"{escape(name)} {value:.3f}</text>")
            y += row
        y += gap
    parts.append("</svg>")
    return "".join(parts)


def _table(names: list[str], summary: dict[str, dict]) -> str:
    columns = (("answers", "answers"), ("errors", "errors"), ("mean_quality_score", "mean score"),
               ("mean_token_fill", "token fill"), ("within_budget", "within budget"),
               ("mean_added_share", "not the model's"), ("rules_share", "rules' answers"),
               ("missing_words", "prompt words missing"), ("latency_ms_p50", "latency p50 (ms)"))
    head = "".join(f"<th>{escape(label)}</th>" for _, label in columns)
    rows = []
    for name in names:
        cells = "".join(f'<td data-metric="{metric}">{_figure(summary[name][metric])}</td>' for metric, _ in columns)
        rows.append(f'<tr data-strategy="{escape(name)}"><td>{escape(name)}</td>{cells}</tr>')
    return (f'<table id="summary-table"><thead><tr><th>strategy</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _figure(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _case(prompt: str, job_type: str, takes: list[Take], columns: int) -> str:
    return (f'<article class="case" data-job-type="{escape(job_type)}"><h3 class="prompt">{escape(prompt)}</h3>'
            f'<p class="job">{escape(job_type)}</p>'
            f'<div class="takes" style="grid-template-columns:repeat({columns},minmax(0,1fr))">'
            + "".join(_take(t) for t in takes) + "</div></article>")


def _take(take: Take) -> str:
    template = f" <small>ran {escape(take.template)}</small>" if take.template != take.strategy else ""
    if take.error is not None:
        return (f'<div class="take" data-strategy="{escape(take.strategy)}"><h4>{escape(take.strategy)}</h4>'
                f'<p class="error">{escape(take.error)}</p></div>')
    figures = (("quality_score", "score", f"{take.quality_score:.3f}"),
               ("tokens", "tokens", f"{take.tokens}/{take.budget}"),
               ("source", "source", take.source),
               ("missing", "missing", ", ".join(take.missing) or "none"))
    over = " over" if take.tokens > take.budget else ""
    negative = (f'<p class="negative">negative: {escape(take.negative_prompt)}</p>' if take.negative_prompt else "")
    return (f'<div class="take" data-strategy="{escape(take.strategy)}"><h4>{escape(take.strategy)}{template}</h4>'
            f'<p class="answer">{_marked(take)}</p><dl class="figures">'
            + "".join(f'<div><dt>{label}</dt><dd data-figure="{name}">{escape(value)}</dd></div>'
                      for name, label, value in figures)
            + f'</dl><div class="fill{over}"><span style="width:{min(take.fill, 1) * 100:.1f}%"></span></div>'
            f"{negative}</div>")


def _marked(take: Take) -> str:
    """The answer with each added span in a <mark>, coloured by why it is there."""
    out, position = [], 0
    for unit in sorted(take.added, key=lambda a: a["span"][0]):
        start, end = unit["span"]
        label, color = _WHY.get(unit["why"], _STOCK)
        if unit["why"] not in _WHY:
            label = f"{label}: {unit['why']}"
        out.append(escape(take.text[position:start]))
        out.append(f'<mark data-why="{escape(unit["why"])}" style="background:{color}" title="{escape(label)}">'
                   f"{escape(take.text[start:end])}</mark>")
        position = end
    out.append(escape(take.text[position:]))
    return "".join(out)
