"""``python -m clipbook``: list, run and build the book's chapters; print performance figures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from clipbook.book import runner


def _parse_pairs(pairs: list[list[str]]) -> dict:
    """``-p NAME VALUE`` pairs; values are YAML (3 -> int, 1.5 -> float, true -> bool, [1, 2] -> list)."""
    return {name: yaml.safe_load(value) for name, value in pairs}


def cmd_list(args) -> int:
    for chapter in runner.chapters():
        print(f"{chapter.number}  {chapter.slug}  ({chapter.title})")
        print(f"   profiles: default, {', '.join(chapter.profiles())}")
        for p in chapter.parameters.values():
            print(f"   {p.describe()}")
    return 0


def _report(chapter: runner.Chapter, out: Path) -> None:
    """What a reader wants from a run: where it is, how long it took, and each claim's verdict."""
    record = runner.read_record(out)
    print(f"{chapter.slug}: {out} ({record['run']['duration_s']} s)")
    for claim in record["claims"]:
        whose = "" if claim["origin"] == "paper" else ", this book's claim"
        print(f"   {claim['id']}: {claim['verdict']}{whose} ({claim['measured']})")


def cmd_run(args) -> int:
    chapter = runner.find_chapter(args.chapter)
    out = runner.run(chapter, _parse_pairs(args.parameter), profile=args.profile, files=[Path(f) for f in args.file],
                     output=args.output, force=args.force)
    _report(chapter, out)
    return 0


def cmd_book(args) -> int:
    from clipbook.book.site import build_site

    failures = []
    for chapter in runner.chapters():
        try:
            _report(chapter, runner.run(chapter, force=args.force))
        except runner.RunFailed as err:
            failures.append(str(err))
            print(f"FAILED {err}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} chapter(s) failed; the site was not built", file=sys.stderr)
        return 1
    if not args.no_build:
        html = build_site()
        print(f"The book is built: open {html / 'index.html'}")
    return 0


def cmd_bench(args) -> int:
    from clipbook.book.bench import bench

    print(json.dumps(bench(), indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="clipbook", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="chapters with their parameters and profiles").set_defaults(func=cmd_list)
    run = sub.add_parser("run", help="execute one chapter with parameters")
    run.add_argument("chapter", help="slug, number or file of the chapter")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("--profile", help="named parameter set: smoke, paper (notebooks/profiles/)")
    run.add_argument("-f", "--file", action="append", default=[], help="YAML file of parameters")
    run.add_argument("-o", "--output", type=Path, help="executed notebook path")
    run.add_argument("--force", action="store_true", help="run even if an up-to-date result exists")
    run.set_defaults(func=cmd_run)
    book = sub.add_parser("book", help="run changed chapters at their default profile, then build the site")
    book.add_argument("--force", action="store_true", help="rerun every chapter")
    book.add_argument("--no-build", action="store_true", help="only run the chapters")
    book.set_defaults(func=cmd_book)
    sub.add_parser("bench", help="performance figures as JSON").set_defaults(func=cmd_bench)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (runner.ParameterError, runner.RunFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, runner.ParameterError) else 1
