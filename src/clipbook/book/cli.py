"""``python -m clipbook``: list, run and build the book's chapters; print performance figures."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from clipbook.book import runner
from clipbook.book.parameters import parse_pairs
from clipbook.book.seed_sets import check_count, run_seed_sets


def cmd_list(args) -> int:
    broken = 0
    for chapter in runner.chapters():
        print(f"{chapter.number}  {chapter.slug}  ({chapter.title})")
        try:
            parameters = chapter.parameters
        except (runner.ParameterError, SyntaxError) as err:
            where = f"line {err.lineno} of its parameters cell: {err.msg}" if isinstance(err, SyntaxError) else str(err)
            print(f"   error: {chapter.source.name}, {where}")
            broken += 1
            continue
        print(f"   profiles: default, {', '.join(chapter.profiles())}")
        for p in parameters.values():
            print(f"   {p.describe()}")
    return 1 if broken else 0


def _report(chapter: runner.Chapter, out: Path) -> None:
    """What a reader wants from a run: where it is, how long it took, and each claim's verdict."""
    record = runner.read_record(out)
    print(f"{chapter.slug}: {out} ({record['run']['duration_s']} s)")
    for claim in record["claims"]:
        whose = "" if claim["origin"] == "paper" else ", this book's claim"
        why = f"; {claim['diagnosis']}" if claim.get("diagnosis") else ""
        print(f"   {claim['id']}: {claim['verdict']}{whose} ({claim['measured']}{why})")


def cmd_run(args) -> int:
    chapter = runner.find_chapter(args.chapter)
    if args.seed_sets:
        if args.parameter or args.profile or args.file or args.output:
            raise runner.ParameterError("--seed-sets reruns the default parameters at other first seeds; it takes "
                                        "no -p, -f, --profile or -o")
        for out in run_seed_sets(chapter, args.seed_sets, force=args.force):
            _report(chapter, out)
        return 0
    out = runner.run(chapter, parse_pairs(args.parameter, chapter.parameters), profile=args.profile,
                     files=[Path(f) for f in args.file], output=args.output, force=args.force)
    _report(chapter, out)
    return 0


def cmd_book(args) -> int:
    from clipbook.book.site import SiteBuildFailed, build_pdf, build_site

    if args.seed_sets:
        check_count(args.seed_sets)
    failures = []
    for chapter in runner.chapters():
        try:
            for out in run_seed_sets(chapter, args.seed_sets, force=args.force) if args.seed_sets else []:
                _report(chapter, out)
            _report(chapter, runner.run(chapter, force=args.force))  # after its seed sets: its prose cites them
        except runner.RunFailed as err:
            failures.append(str(err))
            print(f"FAILED {err}", file=sys.stderr)
    if failures:
        print(f"{len(failures)} chapter(s) failed; the site was not built", file=sys.stderr)
        return 1
    try:
        if not args.no_build:
            html = build_site()
            print(f"The book is built: open {html / 'index.html'}")
        if args.pdf:
            print(f"The PDF is built: {build_pdf()}")
    except SiteBuildFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_bench(args) -> int:
    from clipbook.book.bench import FIGURES, bench

    if args.only is not None and args.only not in FIGURES:
        raise runner.ParameterError(f"no figure {args.only!r}; figures: {', '.join(FIGURES)}")
    print(json.dumps(bench(args.only), indent=2))
    return 0


def cmd_gpu_check(args) -> int:
    from clipbook.book.gpu_check import gpu_check

    report = gpu_check()
    if report is not None:
        print(json.dumps(report, indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="clipbook", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="chapters with their parameters and profiles").set_defaults(func=cmd_list)
    run = sub.add_parser(
        "run", help="execute one chapter with parameters", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Execute one chapter. Values given with -p are YAML: numbers are numbers (3, 1.5, 1e-3), "
                    "true/false are booleans, [1, 2] is a list; a str parameter takes the text as typed.",
        epilog="examples:\n"
               "  python -m clipbook run intra-class-contrasting -p n_seeds 3 -p p_spurious_test 0.0\n"
               "  python -m clipbook run 1 --profile smoke -p first_seed 1000\n"
               "  python -m clipbook run 4 -p lr 1e-3 -p diverse_fractions '[0.0, 0.5, 1.0]' -o /tmp/ch4.ipynb\n"
               "  python -m clipbook run 2 -f my_parameters.yaml")
    run.add_argument("chapter", help="slug, number or file of the chapter")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("--profile", help="named parameter set: smoke, paper (notebooks/profiles/)")
    run.add_argument("-f", "--file", action="append", default=[], help="YAML file of parameters")
    run.add_argument("-o", "--output", type=Path, help="executed notebook path")
    run.add_argument("--force", action="store_true", help="run even if an up-to-date result exists")
    run.add_argument("--seed-sets", type=int, metavar="N", help="instead, the default run at first_seed 0, 1000, "
                     "2000 (the first N), each recorded in runs/ for the Results page")
    run.set_defaults(func=cmd_run)
    book = sub.add_parser("book", help="run changed chapters at their default profile, then build the site")
    book.add_argument("--force", action="store_true", help="rerun every chapter")
    book.add_argument("--no-build", action="store_true", help="only run the chapters")
    book.add_argument("--seed-sets", type=int, metavar="N", help="also run every chapter at N other seed sets "
                      "(first_seed 0, 1000, 2000), shown per claim on the Results page")
    book.add_argument("--pdf", action="store_true", help="also build the PDF (needs LaTeX: make pdf installs it)")
    book.set_defaults(func=cmd_book)
    bench = sub.add_parser("bench", help="performance figures as JSON")
    bench.add_argument("--only", metavar="NAME", help="one figure: renderer, batched_linear_trainer, "
                                                      "trainer_vs_open_clip_train, side_by_side_training, "
                                                      "utilisation, levers, compile or chapter_run_time_s")
    bench.set_defaults(func=cmd_bench)
    sub.add_parser("gpu-check", help="the CUDA / bf16 path on a GPU, as a short JSON report (skips without one)"
                   ).set_defaults(func=cmd_gpu_check)
    return top


def _interrupt(signum, frame) -> None:
    """SIGTERM ends a run the way Ctrl-C does: through the runner's clean-up."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.func(args)
    except (runner.ParameterError, runner.RunFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, runner.ParameterError) else 1
    except KeyboardInterrupt:
        print("interrupted: the unfinished run was discarded; every finished notebook is untouched", file=sys.stderr)
        return 130
