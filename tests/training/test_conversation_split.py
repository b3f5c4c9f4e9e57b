"""The chat corpus split (training/conversation.py): whole writing batches, some of every language and writer."""
from training import conversation as split
from training.conversation import CHATS_DIR, load_chats, writer_of


def test_the_chat_split_holds_out_whole_batches_of_every_writer():
    train, test = load_chats("train"), load_chats("test")
    assert not ({r["batch"] for r in train} & {r["batch"] for r in test})
    assert len(train) + len(test) == len(load_chats()) >= 900
    held = {writer_of(b) for b in {r["batch"] for r in test}}
    assert held == {writer_of(p.stem) for p in CHATS_DIR.glob("*.jsonl")}  # each language and writer
    assert 0.15 <= len(test) / (len(train) + len(test)) <= 0.3
    # a batch's split depends on the names alone: adding a batch of another writer changes nothing
    names = [p.stem for p in CHATS_DIR.glob("*.jsonl")]
    assert split.test_batches(names) == split.test_batches(names + ["zh_travel_c9_01"]) - {"zh_travel_c9_01"}
