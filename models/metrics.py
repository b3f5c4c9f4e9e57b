"""Accuracy, macro-F1 and per-class precision/recall/F1 (the shape `voc eval` prints)."""
from __future__ import annotations

from sklearn.metrics import accuracy_score, precision_recall_fscore_support


def classification_report(y_true: list[str], y_pred: list[str]) -> dict:
    labels = sorted(set(y_true))  # classes absent from the gold labels do not dilute macro-F1
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f.mean()), 4),
        "per_class": {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                            "f1": round(float(f[i]), 4), "support": int(s[i])} for i, lab in enumerate(labels)},
    }


def aspect_report(gold: list[dict[str, str]], pred: list[dict[str, str]]) -> dict:
    """Review-level aspect detection: each review's {aspect: label} against the gold ones. Micro precision/recall/F1
    over (review, aspect) pairs, per-aspect P/R/F1, and polarity accuracy on the aspects found correctly."""
    keys = sorted({k for g in gold for k in g} | {k for p in pred for k in p})
    tp = {k: 0 for k in keys}; fp = dict(tp); fn = dict(tp)
    pol_ok = 0
    for g, p in zip(gold, pred):
        for k in g.keys() & p.keys():
            tp[k] += 1
            pol_ok += g[k] == p[k]
        for k in p.keys() - g.keys():
            fp[k] += 1
        for k in g.keys() - p.keys():
            fn[k] += 1

    def prf(t, f_p, f_n):
        prec, rec = t / max(t + f_p, 1), t / max(t + f_n, 1)
        return round(prec, 4), round(rec, 4), round(2 * prec * rec / max(prec + rec, 1e-9), 4)

    TP, FP, FN = sum(tp.values()), sum(fp.values()), sum(fn.values())
    P, R, F = prf(TP, FP, FN)
    return {"n": len(gold), "precision": P, "recall": R, "micro_f1": F, "polarity": round(pol_ok / max(TP, 1), 4),
            "per_aspect": {k: dict(zip(("precision", "recall", "f1"), prf(tp[k], fp[k], fn[k])),
                                   predicted=tp[k] + fp[k], support=tp[k] + fn[k]) for k in keys}}
