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
