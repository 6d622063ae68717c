"""Charts and the "hardest queries" section next to a report (PNG files beside the JSON).

* retrieval: grouped bars of nDCG@k / Recall@k / MRR@k per system (the product's modes and the
  baselines), and the hardest queries (worst rank of a gold document, with what came instead) as
  a Markdown section appended to the report's ``.md``;
* answers: bars of the answer metrics that are shares (0-1);
* nli: the confusion matrix as a heat map.

matplotlib is imported lazily (Agg backend, no display). Japanese labels need a Japanese font
(IPA Gothic from ``fonts-ipafont``, or any Noto/Takao CJK font matplotlib knows); without one the
charts use the ASCII system keys and English titles, and a warning says how to install the font.

Usage::

    paths, warnings = write_charts(report, Path("eval/reports/20261122-040856-retrieval-nta_faq.json"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_charts", "retrieval_chart", "answers_chart", "nli_chart", "hardest_queries", "hardest_markdown",
           "japanese_font", "FONT_CANDIDATES"]

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
)
_FONT_NAMES = ("IPAPGothic", "IPAGothic", "Noto Sans CJK JP", "Noto Sans JP", "TakaoPGothic", "VL PGothic")
NO_FONT_WARNING = ("日本語フォントが見つからないため、グラフの文字は英語（システム名はキー）で表示します。"
                   "日本語で表示するには fonts-ipafont を入れてください（apt-get install fonts-ipafont）。")
_COLORS = ("#1f4e79", "#2e86c1", "#85c1e9", "#c0392b", "#7f8c8d")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def japanese_font(candidates: tuple[str, ...] = FONT_CANDIDATES) -> str | None:
    """Register and select a Japanese font for matplotlib; its family name, or None if none."""
    _pyplot()
    from matplotlib import font_manager, rcParams

    for path in candidates:
        if Path(path).is_file():
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
            break
    else:
        known = {f.name for f in font_manager.fontManager.ttflist}
        name = next((n for n in _FONT_NAMES if n in known), None)
    if name is not None:
        rcParams["font.family"] = [name, "DejaVu Sans"]
    return name


def _metric_names(report: dict[str, Any]) -> list[str]:
    k = report.get("config", {}).get("k", 10)
    wanted = [f"ndcg@{k}", f"recall@{k}", f"mrr@{k}"]
    return [m for m in wanted if m in report["metric_names"]]


def retrieval_chart(report: dict[str, Any], path: Path, japanese: bool = True) -> Path:
    """Grouped bars: one group per system, one bar per metric (nDCG@k, Recall@k, MRR@k)."""
    from eval.report import SYSTEM_LABELS

    plt = _pyplot()
    systems, metrics = report["systems"], _metric_names(report)
    labels = [SYSTEM_LABELS.get(s, s) if japanese else s for s in systems]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(systems) + 2), 4.2), dpi=110)
    width = 0.8 / max(1, len(metrics))
    for j, metric in enumerate(metrics):
        xs = [i + (j - (len(metrics) - 1) / 2) * width for i in range(len(systems))]
        values = [report["metrics"][s][metric] for s in systems]
        bars = ax.bar(xs, values, width, label=metric, color=_COLORS[j % len(_COLORS)])
        ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    ax.set_xticks(range(len(systems)), labels, rotation=15 if japanese else 0, ha="right" if japanese else "center", fontsize=8)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("スコア" if japanese else "score")
    name = report["dataset"]["name"]
    ax.set_title(f"検索評価: {name}（文書単位）" if japanese else f"retrieval: {name} (document level)")
    ax.legend(loc="upper center", ncol=len(metrics), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, plt, path)


def answers_chart(report: dict[str, Any], path: Path, japanese: bool = True) -> Path:
    """Horizontal bars of the answer metrics that are shares (latency and counts left out)."""
    from eval.answers_eval import METRIC_LABELS

    plt = _pyplot()
    names = [n for n in report["metric_names"] if not n.startswith("latency") and n != "sentences_per_answer"]
    values = [report["metrics"][n] for n in names]
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(names) + 1.4), dpi=110)
    bars = ax.barh([METRIC_LABELS.get(n, n) if japanese else n for n in names], values, color=_COLORS[1])
    ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    m, name = report["metrics"], report["dataset"]["name"]
    latency = f"p50 {m['latency_p50_s']:.2f}s / p95 {m['latency_p95_s']:.2f}s"
    ax.set_title(f"回答評価: {name}（{latency}）" if japanese else f"answers: {name} ({latency})", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, plt, path)


def nli_chart(report: dict[str, Any], path: Path, japanese: bool = True) -> Path:
    """The confusion matrix (rows: gold, columns: predicted) as a heat map with counts."""
    plt = _pyplot()
    confusion = report["metrics"]["confusion"]
    labels = list(confusion)
    grid = [[confusion[g][p] for p in labels] for g in labels]
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=110)
    ax.imshow(grid, cmap="Blues")
    top = max(max(row) for row in grid) or 1
    for i, row in enumerate(grid):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", color="white" if count > top / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("予測" if japanese else "predicted")
    ax.set_ylabel("正解" if japanese else "gold")
    judge, name, acc = report["config"]["judge"]["name"], report["dataset"]["name"], report["metrics"]["accuracy"]
    ax.set_title(f"NLI: {name}（{judge}、正解率 {acc:.3f}）" if japanese else f"NLI: {name} ({judge}, accuracy {acc:.3f})", fontsize=10)
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split()).replace("|", "｜")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hardest_queries(report: dict[str, Any], n: int = 10, system: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The ``n`` queries whose gold document ranked worst for ``system`` (default: hybrid, else
    the first system), with the query text and what was retrieved instead (texts from the
    dataset folder when it can still be read)."""
    systems = report["systems"]
    system = system or ("hybrid" if "hybrid" in systems else systems[0])
    rows = [r for r in report["per_query"] if r["system"] == system]
    rows.sort(key=lambda r: (-(r["first_gold_rank"] or 10**9), r["query_id"]))  # not found = worst
    texts: dict[str, str] = {}
    titles: dict[str, str] = {}
    try:
        from eval.beir import load_beir

        ds = load_beir(Path(report["dataset"]["path"]))
        texts = {q.query_id: q.text for q in ds.queries}
        titles = {d.doc_id: d.title.strip() or d.text for d in ds.corpus}
    except Exception:  # the set moved or changed: ids are still useful  # noqa: BLE001
        pass
    out = []
    for r in rows[:n]:
        out.append({
            "query_id": r["query_id"], "query": texts.get(r["query_id"], ""), "rank": r["first_gold_rank"],
            "gold": [{"id": g, "title": titles.get(g, "")} for g in r["gold"]],
            "retrieved": [{"id": d, "title": titles.get(d, "")} for d in r["retrieved"][:3]],
        })
    return system, out


def hardest_markdown(system: str, rows: list[dict[str, Any]]) -> str:
    """The hardest queries as a Markdown section (rank "圏外" when the gold was not retrieved)."""
    from eval.report import SYSTEM_LABELS

    lines = [f"## 難しい質問（{SYSTEM_LABELS.get(system, system)}: 正解文書の順位が最も低いもの）", "",
             "| 質問ID | 質問 | 正解の順位 | 正解文書 | 代わりに上位に来た文書 |", "|---|---|---:|---|---|"]
    for r in rows:
        rank = str(r["rank"]) if r["rank"] is not None else "圏外"  # not among any document retrieved
        gold = "<br>".join(f"`{g['id']}` {_short(g['title'], 30)}" for g in r["gold"][:3])
        got = "<br>".join(f"`{d['id']}` {_short(d['title'], 30)}" for d in r["retrieved"])
        lines.append(f"| {r['query_id']} | {_short(r['query'], 60)} | {rank} | {gold} | {got} |")
    return "\n".join(lines) + "\n"


def write_charts(report: dict[str, Any], json_path: Path, hardest: int = 10) -> tuple[list[Path], list[str]]:
    """Draw the report's charts beside ``json_path`` (``<stem>.metrics.png`` / ``<stem>.confusion.png``);
    for retrieval also append the hardest queries to ``<stem>.md``. Returns (files, warnings)."""
    json_path = Path(json_path)
    stem = json_path.with_suffix("")
    warnings: list[str] = []
    japanese = japanese_font() is not None
    if not japanese:
        warnings.append(NO_FONT_WARNING)
    files: list[Path] = []
    kind = report["kind"]
    if kind == "retrieval":
        files.append(retrieval_chart(report, Path(f"{stem}.metrics.png"), japanese))
        if report.get("per_query"):
            system, rows = hardest_queries(report, hardest)
            md = Path(f"{stem}.md")
            section = hardest_markdown(system, rows)
            text = md.read_text(encoding="utf-8") if md.exists() else ""
            if "## 難しい質問" not in text:  # drawing twice must not repeat the section
                md.write_text(text + ("\n" if text else "") + section, encoding="utf-8")
                files.append(md)
    elif kind == "answers":
        files.append(answers_chart(report, Path(f"{stem}.metrics.png"), japanese))
    elif kind == "nli":
        files.append(nli_chart(report, Path(f"{stem}.confusion.png"), japanese))
    return files, warnings
