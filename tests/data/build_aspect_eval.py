"""Compose the team's labeled aspect evaluation set (aspects_eval.jsonl) from aspect_bank.json.

Deterministic: reviews of 1–3 aspect clauses (zh or en), sometimes with a filler
clause, a contrast marker, or a clause that names a touchpoint without an opinion.
Evidence is the clause itself, so it is always a substring of the review.
"""
import json
import random
from pathlib import Path

HERE = Path(__file__).parent


def is_zh(s: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in s)


def main(n: int = 320, seed: int = 7):
    bank = json.loads((HERE / "aspect_bank.json").read_text("utf-8"))
    rng = random.Random(seed)
    pool = [(a, lab, c) for a, by in bank["clauses"].items() for lab, cs in by.items() for c in cs]
    pool += [(c["aspect"], c["label"], c["text"]) for c in bank["negation_cases"]]
    rows = []
    while len(rows) < n:
        zh = rng.random() < 0.6
        cands = [p for p in pool if is_zh(p[2]) == zh]
        k = rng.choice([1, 1, 2, 2, 2, 3])
        picked = []
        for a, lab, c in rng.sample(cands, k * 2):
            if all(a != q[0] for q in picked):
                picked.append((a, lab, c))
            if len(picked) == k:
                break
        parts = [c for _, _, c in picked]
        if len(picked) == 2 and picked[0][1] != picked[1][1] and rng.random() < 0.5:
            parts[1] = ("但是" if zh else "but ") + (parts[1] if zh else parts[1][0].lower() + parts[1][1:])
            parts[0] = ("虽然" if zh else "Although ") + (parts[0] if zh else parts[0][0].lower() + parts[0][1:])
        extra = [x for x in bank["filler"] + bank["neutral_aspect_words"] if is_zh(x) == zh]
        if rng.random() < 0.35:
            parts.insert(rng.randint(0, len(parts)), rng.choice(extra))
        text = ("，" if zh else ", ").join(parts) + ("。" if zh else ".")
        aspects = [{"aspect": a, "label": lab, "evidence": c} for a, lab, c in picked]
        rows.append({"id": f"asp-{len(rows):03d}", "text": text, "lang": "zh" if zh else "en", "aspects": aspects})
    # reviews that mention touchpoints without an opinion: no aspects expected
    for i, x in enumerate(bank["neutral_aspect_words"]):
        rows.append({"id": f"asp-none-{i}", "text": x + ("。" if is_zh(x) else "."), "lang": "zh" if is_zh(x) else "en", "aspects": []})
    with open(HERE / "aspects_eval.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} reviews, {sum(len(r['aspects']) for r in rows)} aspect labels")


if __name__ == "__main__":
    main()
