"""One row per message (chat back-end exports) → conversations: nlp.files.group_messages over real files."""
import csv
import json
import random

import pandas as pd
import pytest

from nlp.files import InputError, group_messages, iter_rows

MESSAGES = [  # (conversation, sender, time, text), deliberately out of order
    ("A-1", "买家", "2024-05-03 14:22:00", "还要等多久？"),
    ("B-7", "helpdesk", "2024-05-03 09:00:05", "Hello, how can I help?"),
    ("A-1", "客服", "2024-05-03 14:21:02", "亲，帮您查一下"),
    ("A-1", "买家", "2024-05-03 14:20:11", "我的快递三天了还没到"),
    ("B-7", "user", "2024-05-03 09:01:00", "my refund never arrived"),
]


def write(tmp_path, ext, rows=MESSAGES):
    df = pd.DataFrame(rows, columns=["会话ID", "发送方", "时间", "内容"])
    path = tmp_path / f"messages.{ext}"
    if ext == "csv":
        df.to_csv(path, index=False, encoding="utf-8-sig")
    elif ext == "xlsx":
        df.to_excel(path, index=False)
    elif ext == "parquet":
        df.to_parquet(path, index=False)
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in df.to_dict("records")), encoding="utf-8")
    return path


@pytest.mark.parametrize("ext", ["csv", "xlsx", "parquet", "jsonl"])
def test_every_table_format_groups_and_orders_by_time(tmp_path, ext):
    path = write(tmp_path, ext)
    groups, bad = group_messages(iter_rows(path), "会话ID", "内容", "发送方", "时间")
    assert not bad and [g.id for g in groups] == ["A-1", "B-7"]
    a = groups[0]
    assert [t.text for t in a.turns] == ["我的快递三天了还没到", "亲，帮您查一下", "还要等多久？"]
    assert [t.role for t in a.turns] == ["customer", "agent", "customer"] and a.rows == [4, 3, 1]
    assert [t.role for t in groups[1].turns] == ["agent", "customer"]  # helpdesk / user


def test_without_times_the_file_order_is_kept_and_names_get_roles(tmp_path):
    rows = [("c", "tb_8823", "", "在吗，耳机没声音"), ("c", "小美", "", "亲，您好，麻烦发下订单号"), ("c", "tb_8823", "", "123456")]
    groups, _ = group_messages(iter_rows(write(tmp_path, "csv", rows)), "会话ID", "内容", "发送方", "时间")
    assert [(t.speaker, t.role) for t in groups[0].turns] == [("tb_8823", "customer"), ("小美", "agent"), ("tb_8823", "customer")]
    groups, _ = group_messages(iter_rows(write(tmp_path, "csv", rows)), "会话ID", "内容", "发送方", None,
                               roles={"小美": "customer", "tb_8823": "agent"})  # a mapping overrides inference
    assert [t.role for t in groups[0].turns] == ["agent", "customer", "agent"]


def test_bad_rows_cost_one_row_each_and_a_missing_column_is_named(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('conv,role,text\nc1,customer,hello\n,agent,no conversation\nc1,agent,"never closed\nc1,agent,"hi there"\n'
                    'c1,customer,\n', encoding="utf-8")
    groups, bad = group_messages(iter_rows(path), "conv", "text", "role")
    assert [t.text for t in groups[0].turns] == ["hello", "hi there"]
    assert sorted(b.row for b in bad) == [2, 3, 5]
    with pytest.raises(InputError, match="'会话'.*--conv-col"):
        group_messages(iter_rows(path), "会话", "text", "role")


def test_ten_thousand_messages_are_grouped_correctly(tmp_path):
    rng = random.Random(7)
    rows, expected = [], {}
    for c in range(1200):
        n = rng.randint(2, 18)
        expected[f"conv-{c}"] = [f"conv-{c} message {k}" for k in range(n)]
        rows += [(f"conv-{c}", "customer" if k % 2 == 0 else "agent", f"2024-05-{1 + c % 28:02d} 10:{k:02d}:00",
                  f"conv-{c} message {k}") for k in range(n)]
    rows = rows[:10_000]
    rng.shuffle(rows)
    path = tmp_path / "big.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["conv", "role", "time", "text"])
        w.writerows(rows)
    groups, bad = group_messages(iter_rows(path), "conv", "text", "role", "time")
    assert not bad and sum(len(g.turns) for g in groups) == 10_000
    for g in groups:
        texts = [t.text for t in g.turns]
        assert texts == expected[g.id][:len(texts)]  # every message in its conversation, in time order
        assert [t.role for t in g.turns] == ["customer" if k % 2 == 0 else "agent" for k in range(len(texts))]
