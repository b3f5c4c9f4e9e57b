"""The `voc` command line (docs/contract.md). It only does input and output: the work is in nlp/, models/, training/
and the api/ packages it calls. `main` reads the Settings once and hands them to the command."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from api.batch.score import score_file
from api.batch.topics import add_topics
from api.report.aggregate import aggregate
from api.report.render import render
from api.settings import Settings
from models import registry
from models.analyzer import Analyzer
from models.runtime.embedder import shared_embedder
from models.runtime.hardware import blas_on_one_thread
from models.schema import ItemError
from models.topics import TopicError, TopicModel, discover
from nlp.chat import ChatFormatError
from nlp.document import TextError
from nlp.files import BadRow, InputError, iter_rows, missing_column
from training.data import log_skipped, read_labeled

# Imported by the commands that need them, so that every other command starts without them: the database drivers
# and Alembic (~0.6 s: `voc score --store`), scikit-learn (~1.4 s: `voc eval`), torch and transformers (~2.5 s:
# `voc train`), FastAPI and uvicorn (~0.4 s: `voc serve`).


def _err(msg: str, code: int = 2) -> int:
    print(f"voc: error: {msg}", file=sys.stderr)
    return code


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _analyzer(settings: Settings, aspects: bool | None = None) -> Analyzer:
    return Analyzer.load(settings.model, mode=settings.mode, aspects=settings.aspects if aspects is None else aspects,
                         taxonomy=settings.taxonomy, engine=settings.engine)


def cmd_analyze(args, settings: Settings) -> int:
    texts = args.texts if args.texts != ["-"] else [ln.rstrip("\n") for ln in sys.stdin]
    if not texts:
        return _err("give at least one TEXT (or - to read one text per line from stdin)")
    analyzer = _analyzer(settings)
    if args.chat:
        status = 0
        for i, log in enumerate(texts):
            try:
                _print_json(analyzer.analyze_chat(Path(log).read_text("utf-8") if Path(log).is_file() else log, str(i)).to_json_dict())
            except (ChatFormatError, TextError) as e:
                status = _err(f"chat {i}: {e}", 1)
        return status
    status = 0
    for res in analyzer.analyze([(str(i), t) for i, t in enumerate(texts)]):
        if isinstance(res, ItemError):
            status = _err(f"text {res.id}: {res.error.message}", 1)
        else:
            _print_json(res.to_json_dict())
    return status


def cmd_score_chats(args, settings: Settings, output: str, store) -> int:
    """`voc score --chat`: one output row per conversation (api/batch/chats.py)."""
    from api.batch.chats import score_chats
    from api.report.conversations import aggregate_conversations

    if args.mode == "fast":
        return _err("--chat needs the accurate model (conversation heads read its states); drop --mode fast")
    try:
        analyzer = _analyzer(settings)
        summary = score_chats(analyzer, args.input, output, conv_col=args.conv_col, text_col=args.text_col,
                              role_col=args.role_col, time_col=args.time_col, id_col=args.id_col, roles=args.roles,
                              progress=not args.quiet, store=store, tz=settings.tz)
    except (InputError, ChatFormatError) as e:
        return _err(str(e))
    print(f"voc score: {summary.line().replace('row(s)', 'conversation(s)', 1)} → {summary.output}", file=sys.stderr)
    if args.report and summary.scored:
        render({"conversations": aggregate_conversations(output)}, Path(args.report),
               title=f"VoC conversations: {Path(args.input).name}")
        print(f"voc score: report → {args.report}", file=sys.stderr)
    return 0 if summary.scored > 0 else 1


def cmd_score(args, settings: Settings) -> int:
    output = args.output or ("-" if args.input == "-" else str(Path(args.input).with_suffix("")) + ".scored" + Path(args.input).suffix)
    if args.report and output == "-":
        return _err("--report needs an output file (-o), not stdout")
    store = None
    if args.store:  # opened first: a bad VOC_DB_URL stops the run before any scoring
        from api.storage.store import GROUP_NAME, Store

        bad = [c for c in args.by or () if not GROUP_NAME.fullmatch(c)]
        if bad:
            return _err(f"--by {bad[0]!r} with --store: a stored group name is a word of letters, digits and _ "
                        "(rename the column)")

        try:
            store = Store(settings.db_url, store_text=settings.store_text)
        except Exception as e:  # noqa: BLE001 — bad URL, unreachable server: say so, no traceback
            return _err(f"--store: cannot open the database: {type(e).__name__}: {e}")
    if args.chat:
        if args.cluster:
            return _err("--chat runs on this machine; drop --cluster")
        return cmd_score_chats(args, settings, output, store)
    try:
        if args.cluster:
            if args.flags_only:  # the review queue needs the batch-level flags, which partitions scored apart lack
                return _err("--flags-only is for one-machine runs, not --cluster")
            output, summary = _score_on_cluster(args, settings, args.output)
        else:
            analyzer = _analyzer(settings)
            summary = score_file(analyzer, args.input, output, text_col=args.text_col, id_col=args.id_col,
                                 progress=not args.quiet, resume=args.resume, store=store, time_col=args.time_col,
                                 workers=args.workers, tz=settings.tz, group_cols=tuple(args.by or ()),
                                 rating_col=args.rating_col, rating_scale=args.rating_scale,
                                 flags_only=args.flags_only)
    except InputError as e:
        return _err(str(e))
    print(f"voc score: {summary.line()} → {summary.output}", file=sys.stderr)
    if (args.topics or args.topic_model) and summary.scored:
        if output == "-":
            return _err("--topics needs an output file (-o), not stdout")
        try:
            fitted = add_topics(output, args.text_col, seed=args.seed, topic_model=args.topic_model,
                                embedder=shared_embedder(settings.engine))
            if fitted is not None:
                print(f"voc score: {fitted} topics fitted, saved as topic model {Path(output).stem!r}", file=sys.stderr)
        except TopicError as e:
            print(f"voc score: no topics: {e}", file=sys.stderr)
    alerts = _score_alerts(args, settings, output) if args.time_col and output != "-" and summary.scored else None
    if args.report and summary.scored:
        data = aggregate(output, text_col=args.text_col, time_col=args.time_col, by=args.by or (), rating_col=args.rating_col)
        if alerts is not None:
            data["alerts"] = alerts
        from models.aspects import aspect_names

        render(data, Path(args.report), title=f"VoC report: {Path(args.input).name}", names=aspect_names(settings.taxonomy))
        print(f"voc score: report → {args.report}", file=sys.stderr)
    return 0 if summary.scored > 0 else 1


def _score_on_cluster(args, settings: Settings, output: str | None):
    """`voc score --cluster`: (the output written, the Summary). Default output: a Parquet dataset INPUT.scored/."""
    from api.batch.cluster import AnalyzerSpec, score_on_cluster

    if args.store or args.workers:
        raise InputError("--cluster scores on the cluster's workers: --store and --workers are for a one-machine run")
    output = output or str(Path(args.input).with_suffix("")) + ".scored"
    spec = AnalyzerSpec(model=settings.model, mode=settings.mode, aspects=settings.aspects, engine=settings.engine,
                        taxonomy=str(settings.taxonomy) if settings.taxonomy else None)
    summary = score_on_cluster(spec, args.cluster, args.input, output, text_col=args.text_col, id_col=args.id_col,
                               time_col=args.time_col, progress=not args.quiet, resume=args.resume)
    return summary.output, summary


def _score_alerts(args, settings: Settings, output: str) -> dict:
    """Emerging complaints over the scored file (api/report/alerts.py): OUTPUT.alerts.json, and VOC_ALERT_WEBHOOK."""
    from api.report.alerts import file_alerts, write_alerts
    from models.alerts import Options

    result = file_alerts(output, args.text_col, args.time_col, by=args.by or (), tz=settings.tz,
                         options=Options(period=args.period))
    path = write_alerts(result, output)
    result["file"] = path.name  # for the report's pointer to the full list
    latest = [a for a in result["alerts"] if result["latest"] and a["start"] == result["latest"]["start"]]
    print(f"voc score: {len(result['alerts'])} alert(s) ({len(latest)} in the latest {result['period']}) → {path}",
          file=sys.stderr)
    if settings.alert_webhook and result["alerts"]:
        from api.webhook import post_alerts

        ok = post_alerts(settings.alert_webhook, result)
        print(f"voc score: alerts {'delivered to' if ok else 'could NOT be delivered to'} VOC_ALERT_WEBHOOK", file=sys.stderr)
    return result


def cmd_eval(args, settings: Settings) -> int:
    from models.metrics import classification_report

    try:
        data = read_labeled(args.labeled, args.text_col, args.label_col, purpose="evaluation")
    except InputError as e:
        return _err(str(e))
    for w in data.warnings:
        print(f"warning: {w}", file=sys.stderr)
    log_skipped(data.skipped, args.labeled, lambda m: print(m, file=sys.stderr))
    analyzer = _analyzer(settings)
    results = analyzer.analyze([(str(i), ex.text) for i, ex in enumerate(data.examples)])
    gold, pred, failed = [], [], []
    for ex, res in zip(data.examples, results):
        if isinstance(res, ItemError):
            failed.append(f"{ex.text[:40]!r}: {res.error.message}")
            continue
        gold.append(ex.label)
        # with binary gold labels, score > 0 decides (contract); otherwise the 3-way label
        pred.append(res.sentiment.label if data.counts["neutral"] else ("positive" if res.sentiment.score > 0 else "negative"))
    for f in failed[:20]:
        print(f"not analysed: {f}", file=sys.stderr)
    # n counts the rows measured; skipped (unusable rows) and failed (texts the analyzer refused) are not in it
    _print_json({**classification_report(gold, pred), "skipped": len(data.skipped), "failed": len(failed),
                 "model": analyzer.model_name})
    return 0


def cmd_train(args, settings: Settings) -> int:
    from training import run

    if args.recipe and args.labeled:
        return _err("give either LABELED or --recipe, not both")
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.recipe:
        if args.output:  # a folder of the user's choosing, e.g. models/default to rebuild the shipped model
            out, name = Path(args.output), args.name
            metrics = run.train_default_recipe(out, log=log, name=name)
        else:  # a registered model under $VOC_HOME/models, never the source tree
            try:
                name = registry.check_name(args.name) if args.name else run.version_name("voc-default")
            except registry.InvalidName as e:
                return _err(f"--name: {e}")
            out = registry.register_dir(name)
            metrics = run.train_default_recipe(out, log=log, name=name, root=registry.models_dir())
            log(f"registered as {name}: `voc models use {name}` serves it")
        _print_json({"model": str(out), "name": name, "dev": metrics["dev"], "minutes": metrics["minutes"]})
        return 0
    if not args.labeled:
        return _err("give a LABELED file (text,label) or --recipe default")
    try:
        result = run.train_user_model(args.labeled, eval_file=args.eval, base=args.base, name=args.name,
                                      epochs=args.epochs, promote=args.promote, force=args.force, log=log,
                                      text_col=args.text_col, label_col=args.label_col, engine=settings.engine)
    except InputError as e:
        return _err(str(e))
    _print_json(result)
    return 0


def cmd_models(args, settings: Settings) -> int:
    if args.action == "use":
        if not args.name:
            return _err("voc models use NAME")
        try:
            registry.use(args.name)
        except registry.ModelNotFound as e:
            return _err(str(e))
        print(f"now serving {args.name}", file=sys.stderr)
        return 0
    for m in registry.list_models():
        _print_json(m)
    return 0


def _read_texts(path, text_col, id_col=None, extra_cols=()):
    """(ids, texts, extra columns, skipped count) of the usable rows of a file."""
    ids, texts, extra, skipped = [], [], {c: [] for c in extra_cols}, 0
    for row_no, row in iter_rows(path, need=(text_col, id_col, *extra_cols)):
        if isinstance(row, BadRow):
            skipped += 1
            continue
        if text_col not in row:
            raise missing_column(path, text_col, row, "--text-col")
        text = row.get(text_col)
        if text is None or not str(text).strip():
            skipped += 1
            continue
        ids.append(str(row.get(id_col)) if id_col and row.get(id_col) is not None else str(row_no - 1))
        texts.append(str(text))
        for c in extra_cols:
            extra[c].append(row.get(c))
    return ids, texts, extra, skipped


def cmd_topics(args, settings: Settings) -> int:
    extra = [c for c in [args.time_col] + (args.by or []) if c]
    embedder = shared_embedder(settings.engine)
    try:
        ids, texts, cols, skipped = _read_texts(args.input, args.text_col, args.id_col, extra)
        if skipped:
            print(f"voc topics: skipped {skipped} row(s) without usable text", file=sys.stderr)
        labels = [r.sentiment.label if not isinstance(r, ItemError) else None
                  for r in _analyzer(settings, aspects=False).analyze([(str(i), t) for i, t in enumerate(texts)])]
        if args.assign:
            model = TopicModel.load(args.assign, embedder)
            assigned = model.transform(texts)
            out = {"model": args.assign, "topics": [{"id": t, "label": model.label(t)} for t in sorted(set(assigned))],
                   "assignments": [{"id": i, "topic_id": t} for i, t in zip(ids, assigned)]}
        else:
            result, _ = discover(texts, ids, labels, seed=args.seed, negative_only=args.negative_only,
                                 timestamps=cols.get(args.time_col) if args.time_col else None,
                                 classes=cols[args.by[0]] if args.by else None, embedder=embedder,
                                 save_as=args.save or args.update or "latest", update=args.update,
                                 max_topics=args.max_topics, period=args.period)
            out = result.to_json(ids)
            if result.note:
                print(f"voc topics: {result.note}", file=sys.stderr)
            out["model"] = args.save or args.update or "latest"
    except (InputError, TopicError) as e:
        return _err(str(e))
    text = json.dumps(out, ensure_ascii=False, indent=2, default=str)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"voc topics: {len(out['topics'])} topics → {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from api.service.app import create_app

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voc", description="VoC Analyzer: sentiment and complaint analysis of customer feedback.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def taxonomy_opt(sp):
        sp.add_argument("--taxonomy", metavar="PATH", help="a taxonomy JSON file of your own (default: VOC_TAXONOMY, else "
                                                           "data/aspects/taxonomy.json); aspects it adds are found by "
                                                           "similarity to their examples")

    def model_opts(sp, mode_default="accurate"):
        sp.add_argument("--model", help="registered model name (default: the serving model)")
        sp.add_argument("--mode", choices=["accurate", "fast"], default=mode_default,
                        help="fast: the distilled static student, for bulk scoring (default: "
                             + (mode_default or "VOC_MODE, else accurate") + ")")

    a = sub.add_parser("analyze", help="print one JSON analysis per text")
    a.add_argument("texts", nargs="*", metavar="TEXT", help="texts to analyse; - reads one per line from stdin")
    a.add_argument("--chat", action="store_true", help="each TEXT is a chat log (or a file holding one)")
    a.add_argument("--no-aspects", action="store_true", help="sentiment only")
    taxonomy_opt(a)
    model_opts(a)
    a.set_defaults(func=cmd_analyze)

    s = sub.add_parser("score", help="score an exported file (.csv .jsonl .xlsx .parquet, - for JSONL on stdin)")
    s.add_argument("input", help="the export to score: .csv (UTF-8 or GBK, detected), .jsonl, .xlsx, .parquet; - for JSONL on stdin")
    s.add_argument("-o", "--output", help="where to write it (default: INPUT.scored.EXT; - for JSONL on stdout); rows that "
                                          "cannot be scored go to OUTPUT.errors.jsonl with the reason")
    s.add_argument("--text-col", default="text", help="the column holding the review (default: text)")
    s.add_argument("--id-col", help="a column that names each row in the output and the error file (default: row number)")
    s.add_argument("--time-col", help="a date column: emerging-complaint alerts (OUTPUT.alerts.json); with --report, "
                                      "sentiment and aspects over time; with --store, when each review was written "
                                      "(no offset: VOC_TZ)")
    s.add_argument("--store", action="store_true", help="also store every scored row in the database that GET /v1/stats "
                                                        "counts (VOC_DB_URL, default $VOC_HOME/voc.db)")
    s.add_argument("--by", nargs="+", metavar="COL", help="columns to break results down by (shop, category, region): in "
                   "the report, the alerts and, with --store, stored for /v1/stats?by=group:COL")
    s.add_argument("--period", choices=("day", "week", "month"),
                   help="with --time-col: the calendar period alerts compare (default: from the data's span)")
    s.add_argument("--rating-col", help="star ratings: reviews whose text confidently contradicts them are flagged "
                                        "rating_mismatch; with --report also CSAT (1–5) or NPS (0–10)")
    s.add_argument("--rating-scale", type=int, choices=[5, 10], default=5, help="the top of --rating-col's scale (default 5)")
    s.add_argument("--flags-only", action="store_true",
                   help="the review queue: write only the rows with a trust flag (sarcasm, templated, incentivised, "
                        "duplicate, rating_mismatch); every row is still scored")
    s.add_argument("--report", metavar="REPORT.html", help="also write a self-contained HTML report with charts")
    s.add_argument("--topics", action="store_true", help="fit complaint topics on the batch and add topic_id/topic_label")
    s.add_argument("--topic-model", help="assign topics with a saved topic model instead of fitting")
    s.add_argument("--seed", type=int, default=42, help="seed of every random step of --topics (default 42)")
    s.add_argument("--resume", action="store_true",
                   help="continue an interrupted run: rows already in OUTPUT are kept, not scored again (CSV or JSONL output)")
    s.add_argument("--no-aspects", action="store_true", help="sentiment only: 2–3× faster")
    s.add_argument("--workers", type=int, help="with --mode fast: processes scoring at once (default: one per core); "
                                               "the accurate engine always uses every core from one process")
    s.add_argument("--cluster", metavar="local[:N]|tcp://HOST:8786",
                   help="score on a Dask cluster: local[:N] starts N worker processes here (default one per core), an "
                        "address uses a running scheduler; OUTPUT without a file suffix is a Parquet dataset (default "
                        "INPUT.scored/). Needs pip install 'voc-analyzer[cluster]'")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.add_argument("--chat", action="store_true", help="customer-service conversations: one output row per conversation "
                                                      "(satisfaction, resolved, escalation, effort, agent quality)")
    s.add_argument("--conv-col", help="with --chat: the conversation id column of a file with one row per message "
                                      "(without it: one conversation per row, a transcript or a JSON 'turns' list)")
    s.add_argument("--role-col", default="role", help="with --chat --conv-col: the sender column, roles or names (default: role)")
    s.add_argument("--roles", help="with --chat: sender names → roles, e.g. 'helpdesk=agent,user=customer' "
                                   "(names that say no role are otherwise inferred)")
    taxonomy_opt(s)
    model_opts(s)
    s.set_defaults(func=cmd_score)

    t = sub.add_parser("train", help="fine-tune on labeled data, or rebuild the default model (--recipe default)")
    t.add_argument("labeled", nargs="?", help="labeled reviews (.csv .jsonl .xlsx .parquet) with text and label columns; "
                                              "labels: positive/neutral/negative, 0/1 or 1–5 stars")
    t.add_argument("--recipe", choices=["default"],
                   help="rebuild the default model from its redistributable data (~55–70 min on 2 cores) and register "
                        "it under $VOC_HOME/models (or write it to --out)")
    t.add_argument("--eval", help="a labeled file to compare the new and the serving model on (default: 15%% of LABELED)")
    t.add_argument("--text-col", default="text", help="the text column of LABELED and --eval")
    t.add_argument("--label-col", default="label", help="the label column of LABELED and --eval")
    t.add_argument("--base", help="the registered model to start from (default: the serving model)")
    t.add_argument("--name", help="name of the new model (default: voc-custom@DATE.TIME; with --recipe voc-default@DATE.TIME)")
    t.add_argument("--epochs", type=float, default=2.0, help="passes over the training rows (default 2)")
    t.add_argument("--promote", action="store_true",
                   help="serve the new model if its macro-F1 on the evaluation rows is at least the serving model's")
    t.add_argument("--force", action="store_true", help="with --promote: serve it even if it measured worse")
    t.add_argument("-o", "--out", "--output", dest="output", metavar="DIR",
                   help="with --recipe: write the model to this folder instead of registering it (models/default "
                        "replaces the shipped model)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="accuracy and macro-F1 of a model on a labeled file, as JSON")
    e.add_argument("labeled", help="labeled reviews (.csv .jsonl .xlsx .parquet) with text and label columns")
    e.add_argument("--text-col", default="text", help="the text column (default: text)")
    e.add_argument("--label-col", default="label", help="the label column (default: label)")
    model_opts(e)
    e.set_defaults(func=cmd_eval, no_aspects=True)

    tp = sub.add_parser("topics", help="discover complaint topics (BERTopic) in a file")
    tp.add_argument("input", help="reviews (.csv .jsonl .xlsx .parquet), raw or already scored by `voc score`")
    tp.add_argument("--text-col", default="text", help="the column holding the review (default: text)")
    tp.add_argument("--id-col", help="a column that names each row in the assignments (default: row number)")
    tp.add_argument("--time-col", help="also report topic frequencies over time")
    tp.add_argument("--by", nargs="+", help="also report topics per group of this column")
    tp.add_argument("-o", "--output", help="write topics.json here (default: stdout)")
    tp.add_argument("--seed", type=int, default=42, help="seed for every random step")
    tp.add_argument("--negative-only", action="store_true", help="cluster only the negative texts (complaints)")
    tp.add_argument("--save", help="save the fitted model under this name (default: latest; with --update, that model)")
    tp.add_argument("--update", metavar="NAME", help="update the saved model NAME with this file: its topics keep "
                                                     "their ids and labels, new topics get new ids")
    tp.add_argument("--max-topics", type=int, default=25, help="merge the most similar topics down to this many (default 25)")
    tp.add_argument("--period", choices=["day", "week", "month"],
                    help="with --time-col: calendar periods of over_time (default: day, week or month by the span)")
    tp.add_argument("--assign", metavar="NAME", help="assign topics with a saved model instead of fitting")
    model_opts(tp)
    tp.set_defaults(func=cmd_topics)

    m = sub.add_parser("models", help="list registered models; `voc models use NAME` switches the serving model")
    m.add_argument("action", nargs="?", choices=["list", "use"], default="list", help="list (default) or use")
    m.add_argument("name", nargs="?", help="with use: the model to serve from now on")
    m.set_defaults(func=cmd_models)

    sv = sub.add_parser("serve", help="start the HTTP API")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--log-level", default="info", help="uvicorn's log level (default info); review text is logged "
                                                          "only with VOC_DEBUG_LOG_TEXT=1")
    sv.add_argument("--no-aspects", action="store_true",
                    help="sentiment only (also VOC_ASPECTS=0): about 3× the throughput of the default analysis")
    taxonomy_opt(sv)
    model_opts(sv, mode_default=None)  # None: VOC_MODE or accurate
    sv.set_defaults(func=cmd_serve)
    return p


def command_settings(args) -> Settings:
    """The Settings of this run: the environment, overridden by the command's options. VOC_MODEL, VOC_MODE and
    VOC_ASPECTS are the server's (`voc serve`); every other command decides those by its own options."""
    serving = args.command == "serve"
    settings = Settings.from_env(taxonomy=getattr(args, "taxonomy", None),
                                 **({"model": args.model, "mode": args.mode,
                                     "aspects": False if args.no_aspects else None} if serving else {}))
    if not serving and hasattr(args, "mode"):
        settings = dataclasses.replace(settings, model=args.model, mode=args.mode,
                                       aspects=not getattr(args, "no_aspects", False))
    return settings


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = command_settings(args)
    except ValueError as e:  # a bad VOC_* value or option: say which, without a traceback
        return _err(str(e))
    blas_on_one_thread()  # this process: numpy beside the model calls (models.runtime.hardware)
    try:
        return args.func(args, settings)
    except KeyboardInterrupt:
        return _err("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
