"""A generated review corpus with known complaint themes (team-written templates)."""
import random

THEMES = {
    "delivery": (["快递太慢了", "物流慢得离谱", "等了好久才发货", "快递一个星期才到", "发货速度太慢", "物流一直不更新"],
                 ["等了{n}天才收到", "催了{n}次都没用", "比承诺晚了{n}天", "快递停在中转站{n}天"]),
    "colour": (["颜色和图片不一样", "色差特别大", "实物颜色偏暗", "跟图片颜色差太多", "衣服色差严重", "颜色完全不对"],
               ["洗了{n}次还掉色", "买了{n}件都有色差", "和第{n}张图片差别很大", "退了{n}次颜色都不对"]),
    "service": (["客服态度很差", "客服说话很难听", "客服爱理不理", "客服态度恶劣", "问客服半天不回", "客服很不耐烦"],
                ["问了{n}遍都不回复", "等了{n}个小时客服才理人", "投诉了{n}次客服都敷衍", "客服挂了我{n}次电话"]),
}


def corpus(per_theme: int = 40, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, themes = [], []
    for theme, (heads, tails) in THEMES.items():
        for _ in range(per_theme):
            texts.append(f"{rng.choice(heads)}，{rng.choice(tails).format(n=rng.randint(2, 9))}")
            themes.append(theme)
    return texts, themes
