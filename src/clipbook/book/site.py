"""The website: generated Results and Reproducibility pages, and the Jupyter Book build."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from clipbook.book.api_pages import api_pages
from clipbook.book.claims import ORIGIN_LABELS
from clipbook.book.evidence import evidence_table
from clipbook.book.runner import BOOK, CHAPTERS_OUT, ROOT, chapters, read_record
from clipbook.book.records import recorded_at
from clipbook.book.seed_sets import across_seed_sets, shown_seed_sets


def published_records() -> list[dict]:
    """The run records of the executed chapters (the published default runs), with their stored seed sets."""
    out = []
    for chapter in chapters():
        record = read_record(CHAPTERS_OUT / f"{chapter.stem}.ipynb")
        if record is not None:
            out.append(record | {"stem": chapter.stem, "number": chapter.number, "seed_sets": shown_seed_sets(chapter)})
    return out


def joint_evidence_table(findings: dict) -> pd.DataFrame:
    """The answer table from the published chapters' records with a run's own joint-world
    ``findings``: what Chapter 7 shows before its own record exists (without site links)."""
    return evidence_table(published_records(), findings, links=False)


def _md_table(frame: pd.DataFrame) -> str:
    cells = frame.astype(str).replace({r"\|": r"\\|", r"\n": " "}, regex=True)
    header = "| " + " | ".join(cells.columns) + " |\n|" + "---|" * len(cells.columns)
    return header + "\n" + "\n".join("| " + " | ".join(row) + " |" for row in cells.to_numpy())


def _label(claim: dict) -> str:
    return "undecided (instrument)" if claim.get("why", "").startswith("instrument") else claim["verdict"]


def _counts(claims: list[dict]) -> dict[str, int]:
    return {v: sum(c["verdict"] == v for c in claims) for v in ("reproduced", "not reproduced", "undecided")}


SUMMARY_HEADERS = {"paper": "paper: reproduced / not / undecided", "book": "this book's: reproduced / not / undecided"}


def summary_table(records: list[dict]) -> pd.DataFrame:
    """One row per chapter: the paper's claims by verdict and this book's ("reproduced / not
    reproduced / undecided" counts), with a link to the chapter's claims section: what a reader
    takes in at a glance, narrow enough for a phone."""
    rows = []
    for r in records:
        row = {"chapter": f"[{r['number']}. {r['run']['title']}](chapters/{r['stem']}.ipynb#claims)"}
        for origin, header in SUMMARY_HEADERS.items():
            counts = _counts([c for c in r["claims"] if c["origin"] == origin])
            row[header] = " / ".join(str(n) for n in counts.values())
        rows.append(row)
    return pd.DataFrame(rows, columns=["chapter", *SUMMARY_HEADERS.values()])


def _details(claim: dict, seed_sets: dict[int, dict]) -> str:
    """A claim's source, rule, measurement, diagnosis and verdicts at other seed sets: one list
    item, which wraps on any screen."""
    why = f" *Why:* {claim['diagnosis']}" if claim.get("diagnosis") else ""
    elsewhere = across_seed_sets(claim["id"], seed_sets)
    elsewhere = f" *Other seed sets:* {elsewhere}." if elsewhere else ""
    return (f"- **{claim['id']}.** *Source:* {claim['source']}. *Rule:* {claim['test']}. "
            f"*Measured:* {claim['measured'] or 'nothing (not run)'}.{why}{elsewhere}")


def _power(claim: dict) -> str:
    power = claim.get("power")
    if power is None or power != power:  # NaN
        return "n/a"
    return f"{power:.2f}" + (f" ({claim['needed']} {claim.get('unit', 'seeds')} for 0.8)" if claim.get("needed") else "")


def results_page(records: list[dict]) -> str:
    """Every chapter's claims table: the claim, whose it is (the paper's or this book's), the rule,
    what we measured, the design's power, the verdict and, for an undecided claim, why; the counts
    of each kind first, and every rule changed after a result was seen last."""
    parts = ["# Results: claims vs. reproduced\n",
             "Each chapter states its source paper's claims, decides each with a rule written from the claim "
             "before the experiment ran, and reports the verdict in three words ({doc}`deciding`): "
             "*reproduced* (the interval clears the threshold in the paper's direction), *not reproduced* (the "
             "data rule out the smallest effect of interest: evidence against the claim) or *undecided* (neither: "
             "too few seeds, or an instrument that failed its control). This page gathers those tables from the "
             "executed chapters; the introduction's [answer table](intro.md#the-answer-so-far) sums up, per "
             "mechanism, what they support.\n"]
    claims = [c for r in records for c in r["claims"]]
    parts.append(f"Across {len(records)} chapter(s):\n")
    for origin, whose in (("paper", "the papers' claims"), ("book", "this book's own claims")):
        counts = _counts([c for c in claims if c["origin"] == origin])
        parts.append(f"- {whose}: **{counts['reproduced']} reproduced, {counts['not reproduced']} not reproduced, "
                     f"{counts['undecided']} undecided**")
    weak = sum(1 for c in claims if c.get("power") == c.get("power") and (c.get("power") or 1) < 0.5)
    parts.append(f"- designs with power below 0.5 at their smallest effect of interest: {weak}")
    parts.append("\n" + _md_table(summary_table(records)) + "\n")
    parts.append("\nA claim of *this book* extends its paper (a control, a finer dose-response, a prediction "
                 "the paper does not make): its verdict is not the paper's. *Power* is the chance the rule says "
                 "reproduced when the true effect is the smallest effect of interest, at the observed spread; "
                 "beside it, the seeds that would raise it to 0.8. Under each chapter's table, every claim's "
                 "source, rule, measurement and, where it has one, diagnosis.\n")
    for r in records:
        parts.append(f"## Chapter {r['number']}: {r['run']['title']}\n")
        sets = r.get("seed_sets", {})
        stored = [s for s in sets.values() if "commit" in s]
        also = f" (stored records, {recorded_at({i: s for i, s in enumerate(stored)})})" if stored else ""
        also = (f" Also run at first_seed {', '.join(map(str, sets))}{also}: each claim's verdicts there are listed "
                "beneath the table." if sets else "")
        parts.append(f"Source: [the chapter](chapters/{r['stem']}.ipynb), run at the "
                     f"`{r['run']['profile']}` profile.{also}\n")
        frame = pd.DataFrame([{"claim": f"**{c['id']}.** {c['statement']}", "claim of": ORIGIN_LABELS[c["origin"]],
                               "verdict": f"**{_label(c)}**", "power": _power(c)} for c in r["claims"]])
        parts.append(_md_table(frame) + "\n")
        parts.append("\n".join(_details(c, r.get("seed_sets", {})) for c in r["claims"]) + "\n")
    changes = [{"chapter": r["number"], "claim": c["id"], **change} for r in records for c in r["claims"]
               for change in c.get("history", [])]
    parts.append("## Rules changed after a result was seen\n")
    if changes:
        parts.append("Each change, what the rule was and is, why, and the commit that made it; the chapters show "
                     "them with their claims.\n")
        parts.append(_md_table(pd.DataFrame(changes)) + "\n")
    else:
        parts.append("None.\n")
    return "\n".join(parts)


def reproducibility_page(records: list[dict]) -> str:
    """Environment, parameters and run time of every executed chapter, from its run record."""
    parts = ["# Reproducibility\n",
             "Every number in this book comes from the executed chapters listed here. To rerun one:\n",
             "```bash\npython -m clipbook run CHAPTER [-p NAME VALUE ...] [--profile smoke|paper]\n```\n",
             "## Environment\n"]
    envs = pd.DataFrame([{"chapter": r["run"]["chapter"]} | r["environment"] for r in records if "environment" in r])
    if not envs.empty:
        parts.append(_md_table(envs.drop(columns="platform")) + "\n")
        parts.append("Platforms: " + "; ".join(f"`{p}`" for p in envs["platform"].unique()) + "\n")
    parts.append("## Runs\n")
    runs = pd.DataFrame([{"chapter": r["run"]["chapter"], "profile": r["run"]["profile"],
                          "run time (s)": r["run"]["duration_s"], "finished (UTC)": r["run"]["finished"],
                          "cache key": f"`{r['run']['cache_key']}`"} for r in records])
    if not runs.empty:
        parts.append(_md_table(runs) + "\n")
    for r in records:
        parts.append(f"### {r['run']['title']}: parameters\n")
        params = pd.DataFrame([{"parameter": f"`{k}`", "value": f"`{v!r}`"} for k, v in r["run"]["parameters"].items()])
        parts.append(_md_table(params) + "\n")
    return "\n".join(parts)


ANSWER = BOOK / "_answer.md"
"""The introduction's answer table (included under "The answer, so far"; not a page of its own)."""


def answer_text(records: list[dict]) -> str:
    """The answer table of :func:`~clipbook.book.evidence.evidence_table`, or what stands in for it
    before any chapter ran."""
    if not records:
        return "No chapter has been executed yet: run `make book` to fill this table.\n"
    return _md_table(evidence_table(records)) + "\n"


def write_generated_pages() -> None:
    records = published_records()
    ANSWER.write_text(answer_text(records))
    (BOOK / "results.md").write_text(results_page(records))
    (BOOK / "reproducibility.md").write_text(reproducibility_page(records))
    shutil.rmtree(BOOK / "api", ignore_errors=True)  # a page of a package that is gone goes too
    (BOOK / "api").mkdir()
    for name, text in api_pages().items():
        (BOOK / "api" / name).write_text(text)


class SiteBuildFailed(RuntimeError):
    """Jupyter Book stopped: the message names the first page and problem it reported, and its log."""


def first_problem(log: str) -> str:
    """The first line of a Jupyter Book log that reports a problem (a Sphinx warning or error,
    which names its page), else its last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    problem = next((line for line in lines if re.search(r"\b(WARNING|ERROR|CRITICAL)\b|Error:", line)), None)
    return problem or (lines[-1] if lines else "no output")


def _jupyter_book(output: Path, *options: str) -> None:
    write_generated_pages()
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(BOOK), "--config", str(ROOT / "_config.yml"),
           "--toc", str(BOOK / "_toc.yml"), "--path-output", str(output), *options]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    log = output / "_build" / "jupyter-book.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SiteBuildFailed(f"the site build failed: {first_problem(done.stdout + done.stderr)} (the whole log: {log})")


def build_site(output: Path = ROOT) -> Path:
    """Jupyter Book 1 build with warnings as errors; returns the HTML folder."""
    _jupyter_book(output, "--warningiserror", "--keep-going")
    return output / "_build" / "html"


def build_pdf(output: Path = ROOT) -> Path:
    """The book as one PDF through Sphinx's LaTeX builder (``latexmk``, ``pdflatex``; ``make pdf``
    installs them from Debian); returns the PDF's path."""
    if shutil.which("latexmk") is None:
        raise RuntimeError("building the PDF needs LaTeX: run `make pdf` (installs texlive-latex-extra, "
                           "texlive-fonts-recommended, texlive-xetex and latexmk from Debian when run as root)")
    _jupyter_book(output, "--builder", "pdflatex")
    return output / "_build" / "latex" / "why-clip-generalizes.pdf"
