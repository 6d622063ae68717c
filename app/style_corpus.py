"""The texts ``gyosei eval style`` measures false alarms on: documents written to the rules,
read from the data folder (``data_samples/``) with the ingest readers.

* the white paper (horizontal writing);
* the laws (e-Gov XML/HTML; vertical writing in origin, so their kanji numerals are right, and
  written under the 法制執務 rules, so the 考え方's sentence-length advice does not bind them);
* the written parts of the FAQs: the answers of the NTA Q&A and the Digital Agency FAQ, with
  Markdown furniture (tables, images, link targets) removed (:func:`eval.style_eval.written_parts`).
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.style_eval import Corpus, StyleEvalError, written_parts

__all__ = ["clean_corpora"]


def _documents_text(path: Path) -> str:
    from ingest.readers import read_path

    return "\n".join(s.text for doc in read_path(path, path.name) for s in doc.sections)


def clean_corpora(data_dir: Path) -> list[Corpus]:
    """The four kinds of text under ``data_dir``; StyleEvalError names what is missing."""
    data_dir = Path(data_dir)
    wanted = {"white_paper": data_dir / "white_paper", "laws": data_dir / "laws",
              "nta_faq": data_dir / "nta" / "nta_qa.jsonl", "digital_agency_faq": data_dir / "digital_agency" / "499_appendix_FAQ.md"}
    missing = [str(p) for p in wanted.values() if not p.exists()]
    if missing:
        raise StyleEvalError(f"誤検出の測定に使う文書が見つかりません（{', '.join(missing)}）。--data-dir に data_samples のフォルダを指定してください。")
    white = "\n".join(_documents_text(p) for p in sorted(wanted["white_paper"].glob("*.txt")))
    laws = "\n".join(_documents_text(p) for p in sorted(wanted["laws"].iterdir()) if p.suffix in (".xml", ".html"))
    answers = []
    for no, line in enumerate(wanted["nta_faq"].read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                answers.append(written_parts(json.loads(line)["answer"]))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise StyleEvalError(f"{wanted['nta_faq']} {no}行目: answer のある JSON として読めません（{exc}）。") from exc
    faq = written_parts(wanted["digital_agency_faq"].read_text(encoding="utf-8"))
    return [Corpus("white_paper", white), Corpus("laws", laws, horizontal=False, statute=True),
            Corpus("nta_faq", "\n".join(answers)), Corpus("digital_agency_faq", faq)]
