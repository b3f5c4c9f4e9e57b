"""`voc score` on real files: GBK CSV with a broken line and an empty text, XLSX, JSONL, Parquet, stdin."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from api.storage.store import Store
from api.storage.times import parse_tz

VOC = str(Path(sys.executable).parent / "voc")
ADDED = ["lang", "sentiment_label", "sentiment_score", "sentiment_confidence", "aspects", "flags", "flag_details"]


def voc(*args, stdin=None):
    return subprocess.run([VOC, *map(str, args)], capture_output=True, text=True, input=stdin, timeout=600)


def test_gbk_csv_with_broken_line_and_empty_text(tmp_path):
    src = tmp_path / "taobao_export.csv"
    lines = ["编号,店铺,评价内容", "1,旗舰店,质量很好，物流也快，非常满意", "2,专卖店,", '3,旗舰店,"破损的引号行',
             "4,专卖店,颜色和图片不一样，太差了", "5,旗舰店,还行"]
    src.write_bytes("\n".join(lines).encode("gbk"))
    out = tmp_path / "scored.csv"
    r = voc("score", src, "-o", out, "--text-col", "评价内容", "--id-col", "编号", "-q", "--no-aspects")
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert list(df.columns) == ["编号", "店铺", "评价内容"] + ADDED
    assert df["编号"].tolist() == ["1", "4", "5"]  # every good row, in order
    assert df.set_index("编号").loc["1", "sentiment_label"] == "positive"
    assert df.set_index("编号").loc["4", "sentiment_label"] == "negative"
    errors = [json.loads(x) for x in Path(str(out) + ".errors.jsonl").read_text("utf-8").splitlines()]
    assert [e["code"] for e in errors] == ["empty_text", "bad_row"]  # in row order, though found at different times
    assert errors[0]["row"] < errors[1]["row"]
    assert "scored 3 row(s), failed 2" in r.stderr


def test_missing_text_column_lists_the_columns(tmp_path):
    src = tmp_path / "x.csv"
    src.write_text("id,review\n1,好\n", encoding="utf-8")
    r = voc("score", src, "-q")
    assert r.returncode == 2 and "'text'" in r.stderr and "id, review" in r.stderr
    assert "--text-col" in r.stderr  # what to type next


def test_jsonl_keeps_columns_and_structured_aspects(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(o, ensure_ascii=False) for o in [
        {"id": "a", "text": "物流太慢了，等了一个星期", "shop": "s1"}, {"id": "b", "text": "Great value, works perfectly.", "shop": "s2"}]) + "\n{broken\n",
        encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = voc("score", src, "-o", out, "--id-col", "id", "-q")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert [(x["id"], x["shop"], x["sentiment_label"]) for x in rows] == [("a", "s1", "negative"), ("b", "s2", "positive")]
    assert isinstance(rows[0]["aspects"], list)
    assert "failed 1" in r.stderr


def test_xlsx_and_parquet(tmp_path):
    df = pd.DataFrame({"text": ["質量很好，很滿意", "用了两天就坏了"], "rating": [5, 1]})
    for suffix, write, read in [(".xlsx", lambda p: df.to_excel(p, index=False), pd.read_excel),
                                (".parquet", lambda p: df.to_parquet(p, index=False), pd.read_parquet)]:
        src, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
        write(src)
        r = voc("score", src, "-o", out, "-q", "--no-aspects")
        assert r.returncode == 0, r.stderr
        got = read(out)
        assert got["sentiment_label"].tolist() == ["positive", "negative"] and got["rating"].tolist() == [5, 1]


def test_xlsx_with_a_notes_sheet_first_and_numbers_as_reviews(tmp_path):
    src = tmp_path / "export.xlsx"
    with pd.ExcelWriter(src) as w:  # exports often open with a notes or summary sheet
        pd.DataFrame({"说明": ["导出时间 2026-11-01"]}).to_excel(w, sheet_name="说明", index=False)
        pd.DataFrame({"订单号": ["A1", "A2"], "评价": ["物流很快，质量很好", 666]}).to_excel(w, sheet_name="评价", index=False)
    out = tmp_path / "out.jsonl"
    r = voc("score", src, "-o", out, "--text-col", "评价", "--id-col", "订单号", "-q", "--no-aspects")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert [x["订单号"] for x in rows] == ["A1", "A2"]  # 666 is a review (a number in the cell), not a wrong type
    r = voc("score", src, "-o", out, "--text-col", "内容", "-q")
    assert r.returncode == 2 and "sheet '说明'" in r.stderr and "订单号, 评价" in r.stderr


def test_a_run_stopped_by_a_missing_column_keeps_the_last_error_file(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("id,text\n1,质量很好\n2,\n", encoding="utf-8")
    assert voc("score", src, "-o", out, "-q", "--no-aspects").returncode == 0
    errors = Path(str(out) + ".errors.jsonl").read_text("utf-8")
    assert "empty_text" in errors
    assert voc("score", src, "-o", out, "--text-col", "review", "-q").returncode == 2
    assert Path(str(out) + ".errors.jsonl").read_text("utf-8") == errors  # what the output's rows were missing


def test_tab_and_semicolon_separated_csv_and_a_clear_error_for_utf16(tmp_path):
    for sep, name in (("\t", "tab.csv"), (";", "semicolon.csv")):  # .csv exports that are not comma-separated
        src, out = tmp_path / name, tmp_path / f"out_{name}"
        src.write_text(f"编号{sep}评价内容\n1{sep}质量很好，物流很快\n2{sep}\"太差了{sep} 再也不买\"\n", encoding="utf-8-sig")
        r = voc("score", src, "-o", out, "--text-col", "评价内容", "-q", "--no-aspects")
        assert r.returncode == 0, r.stderr
        df = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
        assert df["sentiment_label"].tolist() == ["positive", "negative"] and df["评价内容"][1] == f"太差了{sep} 再也不买"
    src = tmp_path / "unicode.csv"
    src.write_text("text\n好\n", encoding="utf-16")
    r = voc("score", src, "-q")
    assert r.returncode == 2 and "UTF-16" in r.stderr and "CSV UTF-8" in r.stderr


def test_stdin_to_stdout_jsonl():
    r = voc("score", "-", "-q", "--no-aspects", stdin='{"text": "非常好"}\n{"text": "很差"}\n')
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["sentiment_label"] for x in r.stdout.splitlines()] == ["positive", "negative"]


def test_all_rows_bad_exits_nonzero(tmp_path):
    src = tmp_path / "empty.csv"
    src.write_text("text\n\"\"\n   \n", encoding="utf-8")
    r = voc("score", src, "-o", tmp_path / "o.csv", "-q", "--no-aspects")
    assert r.returncode == 1


def test_analyze_command_prints_contract_json():
    r = voc("analyze", "物流很快，但是衣服有色差", "Not bad at all!")
    assert r.returncode == 0, r.stderr
    first, second = map(json.loads, r.stdout.splitlines())
    assert first["lang"] == "zh" and set(first["sentiment"]) == {"label", "score", "confidence", "probs"}
    assert second["lang"] == "en"
    assert voc("analyze", "").returncode == 1


def test_topics_command_bad_input(tmp_path):
    src = tmp_path / "few.csv"
    src.write_text("text\n快递太慢\n快递太慢\n色差\n", encoding="utf-8")
    r = voc("topics", src, "--mode", "fast")
    assert r.returncode == 2 and "at least 20 distinct texts" in r.stderr
    assert voc("topics", tmp_path / "missing.csv").returncode == 2


def test_csv_fields_with_newlines_and_commas_stay_one_row(tmp_path):
    src = tmp_path / "amazon.csv"
    rows = [("r1", "Great book.\n\nThe ending, however, is rushed, and the middle drags.", "positive"),
            ("r2", "Two lines,\nwith commas, everywhere", "negative"), ("r3", "短评，很好", "positive")]
    with open(src, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        w.writerows(rows)
    with open(src, "a", encoding="utf-8", newline="") as f:
        f.write('r4,"a quote that never closes,negative\nr5,still a good row,positive\n')
    out = tmp_path / "scored.jsonl"
    r = voc("score", src, "-o", out, "--id-col", "id", "-q", "--no-aspects")
    assert r.returncode == 0, r.stderr
    got = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert [g["id"] for g in got] == ["r1", "r2", "r3", "r5"]
    assert got[0]["text"] == rows[0][1] and got[1]["label"] == "negative"
    assert "scored 4 row(s), failed 1" in r.stderr


def test_eval_reports_skipped_rows_and_train_takes_column_names(tmp_path):
    f = tmp_path / "labeled.csv"
    f.write_text("评价内容,评分\n物流很快，质量很好,5\n,1\n太差了，用两天就坏了,1\n还行吧,\n", encoding="utf-8")
    r = voc("eval", f, "--text-col", "评价内容", "--label-col", "评分", "--mode", "fast")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["n"] == 2 and report["skipped"] == 2 and report["failed"] == 0
    assert "skipped 2 row(s)" in r.stderr and "row 2: empty text" in r.stderr and "row 4: empty label" in r.stderr
    # `voc train` names columns the same way, with the options it has
    r = voc("train", f, "--text-col", "评价内容")
    assert r.returncode == 2 and "no column 'label'" in r.stderr and "--label-col" in r.stderr
    assert "unrecognized arguments" not in r.stderr


def test_platform_placeholder_rows_are_kept_as_neutral_without_aspects(tmp_path):
    src = tmp_path / "taobao.csv"
    src.write_text("id,text\n1,此用户没有填写评价。\n2,该用户未及时主动评价，系统默认好评\n3,质量太差了\n", encoding="utf-8")
    r = voc("score", src, "-o", tmp_path / "out.csv", "-q")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8-sig")))
    assert [(x["id"], x["sentiment_label"], x["sentiment_score"], x["aspects"]) for x in rows[:2]] == [
        ("1", "neutral", "0.0", "[]"), ("2", "neutral", "0.0", "[]")]
    assert rows[2]["sentiment_label"] == "negative"  # the model still reads the real review


def test_store_puts_an_export_on_the_dashboard_at_its_review_times(tmp_path):
    """`voc score --store` feeds the database /v1/stats counts: each row at its --time-col time (read in VOC_TZ),
    rows without a readable time at the time of scoring (and the summary says how many)."""
    import os


    src = tmp_path / "export.csv"
    src.write_text("订单号,评价,日期\n1,物流太慢了，等了一个星期,2026-10-01 07:30\n2,质量很好，很满意,2026/10/02\n"
                   "3,包装破了,昨天\n4,,2026-10-03\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'voc.db'}"
    r = subprocess.run([VOC, "score", str(src), "-o", str(tmp_path / "out.csv"), "--text-col", "评价", "--id-col", "订单号",
                        "--time-col", "日期", "--store", "-q"], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "VOC_DB_URL": db, "VOC_TZ": "+08:00"})
    assert r.returncode == 0, r.stderr
    assert "stored 3 for /v1/stats (1 without a readable time" in r.stderr
    days = Store(db).stats(by="day", tz=parse_tz("+08:00"))
    assert days["items"] == 3
    assert [(g["key"], g["count"]) for g in days["groups"]][:2] == [("2026-10-01", 1), ("2026-10-02", 1)]
    utc = Store(db).stats(by="day")  # 07:30 in +08:00 is the evening before in UTC
    assert utc["groups"][0]["key"] == "2026-09-30"
    r = voc("score", src, "--text-col", "评价", "--time-col", "时间", "-q")
    assert r.returncode == 2 and "--time-col" in r.stderr
    # JSON exports write times as numbers: Unix seconds, or 20261101 (pandas alone read both as January 1970)
    src = tmp_path / "export.jsonl"
    src.write_text(json.dumps({"text": "质量太差了", "t": 1790000000}) + "\n" + json.dumps({"text": "很好", "t": 20261105}) + "\n",
                   encoding="utf-8")
    r = subprocess.run([VOC, "score", str(src), "-o", str(tmp_path / "out.jsonl"), "--time-col", "t", "--store", "-q"],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "VOC_DB_URL": db + ".2"})
    assert r.returncode == 0, r.stderr
    keys = [g["key"] for g in Store(db + ".2").stats(by="day")["groups"]]
    assert keys == ["2026-09-21", "2026-11-05"], keys


def test_fast_mode_workers_write_what_one_process_writes(tmp_path):
    """Fast mode scores in one worker process per core: output, error file and row order must be those of one
    process, with bad rows in several chunks (256 rows each)."""
    texts = ["物流很快，质量很好", "Terrible quality, broke in a day", "颜色和图片不一样", "", "性价比很高"]
    lines = []
    for i in range(900):
        lines.append("{broken" if i % 97 == 5 else json.dumps({"id": i, "text": texts[i % 5] + (f" 第{i}单" if texts[i % 5] else "")},
                                                              ensure_ascii=False))
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good = [i for i in range(900) if i % 97 != 5 and i % 5 != 3]
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.jsonl"
        r = voc("score", src, "-o", out, "--id-col", "id", "--mode", "fast", "-q", "--workers", workers)
        assert r.returncode == 0, r.stderr
        assert f"scored {len(good)} row(s), failed {900 - len(good)}" in r.stderr
        outs[workers] = (out.read_bytes(), Path(str(out) + ".errors.jsonl").read_bytes())
    assert outs["1"] == outs["2"]
    rows = [json.loads(x) for x in outs["2"][0].decode().splitlines()]
    assert [x["id"] for x in rows] == good
    errors = [json.loads(x)["row"] for x in outs["2"][1].decode().splitlines()]
    assert errors == sorted(errors) and len(errors) == 900 - len(good)


def test_workers_are_for_fast_mode_only(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "质量很好"}, ensure_ascii=False) + "\n", encoding="utf-8")
    r = voc("score", src, "-q", "--workers", "2", "--mode", "accurate")
    assert r.returncode == 2 and "fast mode" in r.stderr
    r = voc("score", src, "-q", "--workers", "0", "--mode", "fast")
    assert r.returncode == 2 and "at least 1" in r.stderr


def labeled_csv(path: Path, n: int) -> Path:
    """`n` labeled rows, half positive, half negative, all distinct."""
    rows = [(f"第{i}单，质量很好，物流很快" if i % 2 else f"第{i}单，太差了，用两天就坏了", "positive" if i % 2 else "negative")
            for i in range(n)]
    path.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows), encoding="utf-8")
    return path


def test_train_refuses_names_that_are_not_a_model_folder(tmp_path, voc_home):
    (voc_home / "models" / "kept").mkdir(parents=True)
    (voc_home / "voc.db").write_text("data")
    f = labeled_csv(tmp_path / "labels.csv", 40)
    for name in ("..", ".", "../x", ".hidden"):
        r = voc("train", f, "--name", name, "--epochs", "0.1")
        assert r.returncode == 2 and "--name" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert (voc_home / "models" / "kept").is_dir() and (voc_home / "voc.db").read_text() == "data"


def _score_fast(src, out, *extra):
    return voc("score", src, "-o", out, "--id-col", "id", "--mode", "fast", "--no-aspects", "-q", "--workers", "1", *extra)


def _outcome(out: Path) -> tuple[list[str], dict[int, dict]]:
    """(ids of the scored rows, error records by row number) of a `voc score` run into a CSV."""
    scored = [r["id"] for r in csv.DictReader(out.open(encoding="utf-8-sig", newline=""))]
    errors_file = Path(str(out) + ".errors.jsonl")
    errors = [json.loads(x) for x in errors_file.read_text("utf-8").splitlines()] if errors_file.exists() else []
    return scored, {e["row"]: e for e in errors}


def test_a_gbk_export_is_recognised_wherever_its_first_chinese_byte_falls(tmp_path):
    """The encoding was guessed from the first MiB: a GBK export whose Chinese began after it was read as UTF-8."""
    from nlp.files import file_encoding, iter_rows

    src = tmp_path / "late_chinese.csv"
    rows = [f"{i},{'great value and fast delivery ' * 3700}" for i in range(12)]  # ~1.3 MB of ASCII first
    rows += [f"{12 + i},质量很好，物流也快，非常满意" for i in range(5)]
    src.write_bytes(("id,text\n" + "\n".join(rows) + "\n").encode("gbk"))
    assert src.stat().st_size > 1.2 * 2**20
    assert file_encoding(src) == "gb18030"
    got = [row for _, row in iter_rows(src)]
    assert [r["text"] for r in got[-5:]] == ["质量很好，物流也快，非常满意"] * 5 and len(got) == 17


def test_a_bad_byte_sequence_costs_its_row_not_the_file(tmp_path):
    """2,000 GBK reviews with one undecodable sequence in the last line: it failed the whole file ("cannot read the
    header line: cannot decode as utf-8"), 0 rows scored."""
    src = tmp_path / "gbk_export.csv"
    lines = [f"{i},质量很好，第{i}次购买，物流也快".encode("gbk") for i in range(1, 2001)]
    lines[-1] = "2000,颜色不错".encode("gbk") + b"\x81\x20" + "但是发货慢".encode("gbk")
    src.write_bytes("id,text\n".encode("gbk") + b"\n".join(lines) + b"\n")
    out = tmp_path / "scored.csv"
    r = _score_fast(src, out)
    assert r.returncode == 0, r.stderr
    scored, errors = _outcome(out)
    assert scored == [str(i) for i in range(1, 2000)]
    assert list(errors) == [2000] and "cannot decode as gb18030" in errors[2000]["reason"]


def test_a_quote_that_never_closes_does_not_swallow_the_rows_after_it(tmp_path):
    """Two broken quotes 186 lines apart merged every row between them (an empty text and a 100,000-character
    review among them) into one 105,549-character "review"; none of them came out, scored or reported."""
    rows = [f'{i},"好评第{i}条，质量很好' if i in (3, 190) else f"{i},好评第{i}条，质量很好" for i in range(1, 201)]
    rows[99] = "100,"  # an empty text
    rows[100] = "101," + "物流很快" * 25_000  # 100,000 characters
    rows[189] = '190,这条引号才结束"，但是颜色不对'  # closes the quote opened in row 3
    src = tmp_path / "broken_quotes.csv"
    src.write_text("id,text\n" + "\n".join(rows) + "\n", encoding="gbk")
    out = tmp_path / "scored.csv"
    r = _score_fast(src, out)
    assert r.returncode == 0, r.stderr
    scored, errors = _outcome(out)
    assert sorted(errors) == [3, 100, 190], errors  # the broken-quote rows and the empty text
    assert errors[100]["code"] == "empty_text" and errors[3]["code"] == errors[190]["code"] == "bad_row"
    assert scored == [str(i) for i in range(1, 201) if i not in (3, 100, 190)]  # each once, in order
    texts = {r["id"]: r["text"] for r in csv.DictReader(out.open(encoding="utf-8-sig", newline=""))}
    assert len(texts["101"]) == 100_000 and texts["4"] == "好评第4条，质量很好"


def test_quoted_fields_over_several_lines_are_still_one_row(tmp_path):
    """A line inside a quoted field that has the header's width would end the field; lines that do not, never."""
    src = tmp_path / "multi.csv"
    src.write_text('id,text\n1,"第一行\n第二行\n\n第三行，还是同一条评价"\n2,好\n', encoding="utf-8")
    one_column = tmp_path / "one_column.csv"
    one_column.write_text('text\n"第一行\n第二行\n第三行"\n好\n', encoding="utf-8")
    from nlp.files import iter_rows

    assert [r["text"] for _, r in iter_rows(src)] == ["第一行\n第二行\n\n第三行，还是同一条评价", "好"]
    assert [r["text"] for _, r in iter_rows(one_column)] == ["第一行\n第二行\n第三行", "好"]


def test_store_counts_impossible_review_times_at_the_time_of_scoring(tmp_path):
    """Times the API refuses (before 1990, after tomorrow: typos and stand-ins such as 1970-01-01) are no review
    times in an export either: stored at their date, 2200-01-01 sat on the dashboard's far end."""
    import os
    from zoneinfo import ZoneInfo


    src = tmp_path / "export.csv"
    src.write_text("id,text,date\n1,质量很好,9999-12-31 23:59:59\n2,太差了,2200-01-01\n3,还行,1970-01-01\n"
                   "4,很好,2026-10-01 12:00\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'voc.db'}"
    r = subprocess.run([VOC, "score", str(src), "-o", str(tmp_path / "out.csv"), "--time-col", "date", "--store", "-q",
                        "--mode", "fast", "--workers", "1"], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "VOC_DB_URL": db})
    assert r.returncode == 0, r.stderr
    assert "stored 4 for /v1/stats (3 without a readable time" in r.stderr
    for tz in (ZoneInfo("Asia/Shanghai"), parse_tz("-11:00"), parse_tz("+14:00")):
        days = Store(db).stats(by="day", tz=tz)
        assert days["items"] == 4 and all("2026-10" <= g["key"] for g in days["groups"]), days


def test_topics_refuse_a_seed_numpy_cannot_take(tmp_path):
    src = tmp_path / "reviews.csv"
    src.write_text("text\n" + "".join(f"第{i}条，快递太慢了\n" for i in range(30)), encoding="utf-8")
    r = voc("topics", src, "--mode", "fast", "--seed", "-1")
    assert r.returncode == 2 and "seed must be from 0 to 2**32 - 1" in r.stderr and "Traceback" not in r.stderr


def test_train_on_too_few_rows_says_so_before_training(tmp_path, voc_home):
    """Two rows died with a traceback in the trainer; three were promoted on an evaluation of one row."""
    for n, extra, message in ((2, (), "at least 20"), (3, ("--promote",), "at least 20"),
                              (40, ("--promote",), "at least 50 evaluation rows")):
        r = voc("train", labeled_csv(tmp_path / f"l{n}.csv", n), *extra)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not list(voc_home.glob("models/*"))  # nothing trained, nothing registered
