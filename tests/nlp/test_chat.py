import pytest

from nlp.chat import ChatFormatError, opener_length, parse_chat


def test_prefixed_lines_zh_and_en():
    turns = parse_chat("顾客：我的快递三天了还没到\n客服：亲，帮您查一下\n顾客:好的\n谢谢")
    assert [t.role for t in turns] == ["customer", "agent", "customer"]
    assert turns[2].text == "好的\n谢谢"
    turns = parse_chat("Customer: where is my order?\nAgent: It ships today.\nCustomer: thanks")
    assert [t.role for t in turns] == ["customer", "agent", "customer"]


def test_bracketed_speakers():
    turns = parse_chat("[Customer] my order #88812 hasn't arrived\n[Agent] Sorry! The parcel was lost: refunded.\n"
                       "[Customer] Thanks, that was quick.\n[客服] 还有其他问题吗？")
    assert [t.role for t in turns] == ["customer", "agent", "customer", "agent"]
    assert turns[1].text == "Sorry! The parcel was lost: refunded." and turns[0].speaker == "Customer"


def test_backend_export_with_header_lines():
    log = "买家 2024-05-01 10:00:01\n衣服有色差，能退吗\n客服小美 2024-05-01 10:01:30\n亲，可以七天无理由退货\n买家 2024-05-01 10:02:00\n好的"
    turns = parse_chat(log)
    assert [t.role for t in turns] == ["customer", "agent", "customer"]
    assert turns[0].time == "2024-05-01 10:00:01" and turns[1].text == "亲，可以七天无理由退货"


def test_header_lines_with_nicknames_keep_each_speakers_role():
    log = "tb_8823 2026-11-01 10:00:01\n衣服有色差，能退吗\n小美 2026-11-01 10:01:30\n亲，可以七天无理由退货\n" \
          "tb_8823 2026-11-01 10:02:00\n好的，谢谢"
    assert [(t.role, t.speaker) for t in parse_chat(log)] == [
        ("customer", "tb_8823"), ("agent", "小美"), ("customer", "tb_8823")]  # the last stays the customer


def test_json_turns():
    turns = parse_chat('[{"role": "user", "text": "app keeps crashing", "time": "10:00"}, {"role": "客服", "text": "请更新版本"}]')
    assert [(t.role, t.time) for t in turns] == [("customer", "10:00"), ("agent", None)]
    assert parse_chat([{"role": "system", "text": "会话已转接"}])[0].role == "system"


@pytest.mark.parametrize("bad", ["just some text with no speaker", "[not json", [{"role": "alien", "text": "hi"}], 42, ""])
def test_unknown_shapes_name_the_accepted_ones(bad):
    with pytest.raises(ChatFormatError) as info:
        parse_chat(bad)
    assert "speaker" in str(info.value) or "role" in str(info.value) or "Accepted" in str(info.value) or "list of turns" in str(info.value)


@pytest.mark.parametrize("text, opener", [
    ("你好，我的快递三天了还没到", "你好，"), ("您好我想退货", "您好"), ("在吗？东西坏了", "在吗？"), ("亲，发货了吗", "亲，"),
    ("嗯嗯，好的，谢谢", "嗯嗯，好的，"), ("Hi, my package is late", "Hi, "), ("OK thanks, it works", "OK "),
    # not openers: a word that only starts like one, or a turn that is nothing else
    ("亲自来拿的", ""), ("好的东西就是不一样", ""), ("his package is late", ""), ("好的", ""), ("你好", ""),
])
def test_opening_greetings_and_acknowledgments(text, opener):
    assert text[:opener_length(text)] == opener
