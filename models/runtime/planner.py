"""Call planning: which sequences go into which model call, and how a call's rows are laid out.

A call's cost is roughly a fixed part plus its padded tokens, so sequences are sorted by length and cut into calls
that minimise both (padded rows), or laid end to end in rows where that computes fewer tokens (packed rows).
"""
from __future__ import annotations

import numpy as np

# What one more model call costs, in padded tokens: on 2 cores a call takes ~5 ms plus ~0.14 ms per padded token
# (1×8 tokens 6.4 ms, 8×16 21.9 ms, 32×32 146 ms), so ~35 tokens.
CALL_COST_TOKENS = 35
# Packed rows: width at least this many tokens, and each packed token costed this much more than a padded one
# (attention spans the whole row: 1,024-token calls of 64- or 128-token rows run 3–5% slower than 32×32).
PACK_WIDTH = 64
PACK_PENALTY = 1.1
# A small set goes in one row when that computes fewer tokens than rows of PACK_WIDTH (whose last row is part
# empty, and each row rounds up to the backend's width step). Attention makes a token in a row of W tokens cost
# about W / ATTENTION_TOKENS more (4·W·384 multiply-adds per layer against ~3.5 M in the weight matrices).
ONE_ROW_MAX = 256
ATTENTION_TOKENS = 2300


def _padded_cuts(lens: np.ndarray, budget: int, max_rows: int, call_cost: int,
                 step: int = 1) -> tuple[list[tuple[int, int]], float]:
    """Cuts [b, e) of the sorted lengths into calls, minimising padded tokens + `call_cost` per call
    (dynamic programming), and that cost. A call's rows are `step`-aligned (see backends.WIDTH_STEP)."""
    n = len(lens)
    best = np.zeros(n + 1)
    start = np.zeros(n + 1, dtype=np.int64)
    for e in range(1, n + 1):  # best[e]: cheapest batching of the e shortest; the last batch is [start[e], e)
        width = -(-int(lens[e - 1]) // step) * step
        rows = min(max_rows, max(1, budget // width), e)
        b = np.arange(e - rows, e)
        cost = best[b] + call_cost + (e - b) * width
        k = int(np.argmin(cost))
        best[e], start[e] = cost[k], b[k]
    cuts, e = [], n
    while e > 0:
        cuts.append((int(start[e]), e))
        e = int(start[e])
    return cuts[::-1], float(best[n])


def padded_batches(seqs: list[list[int]], pad_id: int, budget: int, max_rows: int,
                   call_cost: int = CALL_COST_TOKENS):
    """Yield (indices, ids, mask): sequences sorted by length, padded, batched by a token budget.

    A budget of padded tokens rather than a row count: ~1k tokens per call fits the cache (on 2 cores 32-review
    requests take 0.95 s at 1k, 1.3 s at 4k, 1.9 s at 8k). Within the budget, the cuts between batches minimise
    padded tokens + `call_cost` per call (dynamic programming over the sorted lengths): a few more calls beat
    padding short clauses to the longest one; on short-review requests that computes 15–30% fewer padded tokens
    than filling each batch greedily.
    """
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    lens = np.array([max(len(seqs[i]), 1) for i in order], dtype=np.int64)
    cuts, _ = _padded_cuts(lens, budget, max_rows, call_cost)
    for b, e in cuts:
        chunk = order[b:e]
        width = len(seqs[chunk[-1]])
        ids = np.full((len(chunk), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(chunk), width), dtype=np.int64)
        for r, i in enumerate(chunk):
            ids[r, :len(seqs[i])] = seqs[i]; mask[r, :len(seqs[i])] = 1
        yield chunk, ids, mask


def plan_calls(lengths: list[int], budget: int, max_rows: int, call_cost: int = CALL_COST_TOKENS,
               step: int = 1) -> list[list[list[int]]]:
    """Model calls → rows → the sequence indices laid end to end in that row.

    Two plans, the cheaper under the cost model wins: padded (one sequence per row, the DP of
    `padded_batches`) and packed (first-fit decreasing into rows of max(PACK_WIDTH, longest) tokens, each
    sequence attending only to itself). Packing wins on small mixed-length sets, the API's micro-batches:
    8 short reviews need one call instead of 2–4 padded ones; large sorted batches stay padded, unless `step`
    wastes more: OpenVINO rows are rounded up to a multiple of `step` tokens, so 20-token reviews padded one to a
    row would compute 32 each, and pack instead. A set of at most ONE_ROW_MAX tokens may go in a single row."""
    if not lengths:
        return []
    order = sorted(range(len(lengths)), key=lambda i: max(lengths[i], 1))
    lens = np.array([max(lengths[i], 1) for i in order], dtype=np.int64)
    cuts, padded_cost = _padded_cuts(lens, budget, max_rows, call_cost, step)
    padded = [[[i] for i in order[b:e]] for b, e in cuts]
    total = int(lens.sum())
    if total * PACK_PENALTY + -(-total // budget) * call_cost >= padded_cost:
        return padded  # packing cannot beat it (big sorted batches): skip the first-fit search
    width = -(-max(PACK_WIDTH, int(lens[-1])) // step) * step
    rows: list[list[int]] = []
    room: list[int] = []
    for k in range(len(order) - 1, -1, -1):  # longest first, into the first row with room
        i, n = order[k], int(lens[k])
        r = next((r for r, left in enumerate(room) if left >= n), None)
        if r is None:
            rows.append([i]); room.append(width - n)
        else:
            rows[r].append(i); room[r] -= n
    per_call = max(1, min(max_rows, budget // width))
    packed = [rows[k:k + per_call] for k in range(0, len(rows), per_call)]
    packed_cost = len(packed) * call_cost + len(rows) * width * PACK_PENALTY
    one = -(-total // step) * step
    if len(rows) > 1 and one <= ONE_ROW_MAX and call_cost + one * PACK_PENALTY < padded_cost:
        # a micro-batch of 4 short reviews: one 112-token row instead of two half-empty 64-token rows
        computed = len(rows) * -(-max(sum(int(lengths[i]) for i in row) for row in rows) // step) * step
        if one * (1 + one / ATTENTION_TOKENS) < computed * (1 + width / ATTENTION_TOKENS):
            return [[order[::-1]]]  # longest first, as the rows above
    return packed if packed_cost < padded_cost else padded
