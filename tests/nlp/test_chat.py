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


def test_qianniu_export():
    log = ("tb_8823(2024-05-03 14:20:11):\n在吗，耳机左边没声音\n小美(2024-05-03 14:21:02): 亲，您好，麻烦提供一下订单号哦\n"
           "tb_8823(2024-05-03 14:22:00):\n我要投诉，给我转人工\n还要给差评")
    turns = parse_chat(log)
    assert [(t.role, t.speaker, t.time) for t in turns] == [
        ("customer", "tb_8823", "2024-05-03 14:20:11"), ("agent", "小美", "2024-05-03 14:21:02"),
        ("customer", "tb_8823", "2024-05-03 14:22:00")]
    assert turns[2].text == "我要投诉，给我转人工\n还要给差评"


def test_wechat_style_lines_and_role_inference_by_greeting():
    log = ("[2024-05-04 20:01] 王女士: 外卖洒了一半，汤全没了\n[2024-05-04 20:03] 美团小助手: 您好，很抱歉，请问是哪一单？\n"
           "[2024-05-04 20:05] 王女士: 就是刚才那单")
    assert [(t.role, t.speaker, t.time) for t in parse_chat(log)] == [
        ("customer", "王女士", "2024-05-04 20:01"), ("agent", "美团小助手", "2024-05-04 20:03"),
        ("customer", "王女士", "2024-05-04 20:05")]
    # the agent writes first: greeting with 亲 and answering, it is still the agent
    log = "[10:00] 小美: 亲，在的，有什么可以帮您？\n[10:01] Lily: 我的订单怎么还没发货？\n[10:02] 小美: 今天下午发出哦"
    assert [t.role for t in parse_chat(log)] == ["agent", "customer", "agent"]


def test_helpdesk_user_system_and_a_role_mapping():
    assert [t.role for t in parse_chat("user: my internet is down\nsystem: Have you restarted the router?\nuser: yes")] == [
        "customer", "agent", "customer"]
    # a real system message beside an agent stays a system message
    assert [t.role for t in parse_chat("user: hi\nsystem: 会话已转接\nagent: hello, how can I help?")] == [
        "customer", "system", "agent"]
    assert [t.role for t in parse_chat("helpdesk: Hello, how can I help?\nuser: refund please")] == ["agent", "customer"]
    turns = parse_chat([{"role": "Alice", "text": "where is it"}, {"role": "Bob", "text": "shipped"}], roles="alice=customer,bob=agent")
    assert [t.role for t in turns] == ["customer", "agent"]
    with pytest.raises(ChatFormatError, match="NAME=ROLE"):
        parse_chat("user: hi", roles="bob=boss")


def test_an_unknown_shape_names_every_accepted_shape():
    with pytest.raises(ChatFormatError) as info:
        parse_chat("今天天气不错\n明天也不错")
    message = str(info.value)
    assert "千牛" in message and "WeChat" in message and "--conv-col" in message and "JSON" in message
