"""int8 graphs whose results do not depend on the batch.

ONNX Runtime's own `quantize_dynamic` gives a MatMul's activations one scale per call, so a text's score would
depend on what it is batched with (by up to 0.58). Here every token row gets its own scale, so a row's result is a
function of that row only and int8 graphs batch and pack exactly like fp32 ones:

- weights: int8, one scale per output column;
- activations: per token, symmetric (absmax / 127), stored as uint8 around zero point 128 (x86's fast
  u8 × s8 kernels); `MatMulIntegerToFloat` applies the column scales, a `Mul` the row scales.
  MatMuls sharing an input (query, key and value) share one quantisation of it.

What stays fp32: the attention products (both operands are activations), the classification head (too
small to gain), and the FFN down-projections of the first `FP32_DOWN_LAYERS` layers, whose inputs
(after GELU) have the largest outlier channels (over 400 sentences: layer 0's largest channel 33 against a
median of 1.2, layers 1–2 ~13). With those four kept, the default model's dev-set accuracy is the fp32 graph's
to the third decimal (English 0.8806 against 0.8808, Chinese 0.9231 against 0.9233; all int8: English 0.8790),
at 1.4× (zh) to 1.7× (en) the fp32 speed of `voc score`.

`weight_int8` writes the other int8 form: int8 weights that OpenVINO dequantises itself, for the ov-int8 engine.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

FP32_DOWN_LAYERS = 4
MIN_COLUMNS = 16  # smaller weight matrices (the 3-class head) stay fp32


def column_int8(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A weight matrix in int8 with one scale per output column: (int8 matrix, fp32 scales)."""
    W = W.astype(np.float32)
    col_scale = np.maximum(np.abs(W).max(0), 1e-8) / 127
    return np.clip(np.round(W / col_scale), -127, 127).astype(np.int8), col_scale.astype(np.float32)


def replace_nodes(graph, nodes) -> None:
    """Make `nodes` the graph's nodes, dropping the initializers no node reads any more (the fp32 weights)."""
    used = {i for n in nodes for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.node[:]
    graph.node.extend(nodes)


def per_token_int8(src: Path, dst: Path, fp32_down_layers: int = FP32_DOWN_LAYERS) -> int:
    """Write `src` with its weight MatMuls in per-token int8 to `dst`; returns how many were converted."""
    import onnx  # ~0.8 s: only a process that rewrites a graph (once per model) pays for it
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    hidden = None  # the model width: an FFN down-projection maps 4 × hidden → hidden
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights:
            hidden = hidden or weights[node.input[1]].dims[0]

    def const(name: str, value) -> str:
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    const("q8_inv127", np.float32(1 / 127)); const("q8_127", np.float32(127))
    const("q8_eps", np.float32(1e-8)); const("q8_one", np.float32(1)); const("q8_zp", np.uint8(128))
    nodes, quantised, converted, down_seen = [], {}, 0, 0
    for node in graph.node:
        w = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if w is None or len(w.dims) != 2 or w.dims[1] < MIN_COLUMNS:
            nodes.append(node)
            continue
        if w.dims[0] > hidden:  # an FFN down-projection
            down_seen += 1
            if down_seen <= fp32_down_layers:
                nodes.append(node)
                continue
        k, converted = converted, converted + 1
        Wq, col_scale = column_int8(numpy_helper.to_array(w))
        x = node.input[0]
        if x not in quantised:  # x * (127 / absmax of its row) + 128, rounded to uint8; scale = absmax / 127
            p = f"q8_x{k}"
            nodes += [helper.make_node("Abs", [x], [p + "_abs"]),
                      helper.make_node("ReduceMax", [p + "_abs"], [p + "_max"], axes=[-1], keepdims=1),
                      helper.make_node("Add", [p + "_max", "q8_eps"], [p + "_m"]),
                      helper.make_node("Div", ["q8_127", p + "_m"], [p + "_r"]),
                      helper.make_node("Mul", [p + "_m", "q8_inv127"], [p + "_scale"]),
                      helper.make_node("Mul", [x, p + "_r"], [p + "_xs"]),
                      helper.make_node("QuantizeLinear", [p + "_xs", "q8_one", "q8_zp"], [p + "_q"])]
            quantised[x] = (p + "_q", p + "_scale")
        xq, row_scale = quantised[x]
        nodes += [helper.make_node("MatMulIntegerToFloat", [xq, const(f"q8_w{k}", Wq), "q8_one",
                                                            const(f"q8_ws{k}", col_scale), "q8_zp"],
                                   [f"q8_y{k}"], domain="com.microsoft"),
                  helper.make_node("Mul", [f"q8_y{k}", row_scale], [node.output[0]])]
    replace_nodes(graph, nodes)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(dst))
    return converted


def weight_int8(src: Path, dst: Path) -> int:
    """Write `src` with int8 weights (one scale per output column) dequantised in front of each MatMul to `dst`;
    returns how many were converted. OpenVINO reads Cast(int8) → Mul(scale) → MatMul as compressed weights and
    quantises the activations itself, per token in groups of channels (`backends.OPENVINO`), so a row's
    result depends on that row only. Every weight MatMul but the 3-class head is converted: group scales keep
    outlier channels in their own groups, so the FFN down-projections need no fp32 exception (dev sets with groups
    of 128: zh 0.9237, en 0.8811, against the per-token graph's 0.9231 / 0.8806)."""
    import onnx  # ~0.8 s: only a process that rewrites a graph (once per model) pays for it
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    nodes, converted = [], 0
    for node in graph.node:
        w = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) > 1 else None
        if w is None or len(w.dims) != 2 or w.dims[1] < MIN_COLUMNS:
            nodes.append(node)
            continue
        k, converted = converted, converted + 1
        Wq, col_scale = column_int8(numpy_helper.to_array(w))
        graph.initializer.extend([numpy_helper.from_array(Wq, f"w8_{k}"),
                                  numpy_helper.from_array(col_scale, f"w8_scale{k}")])
        nodes += [helper.make_node("Cast", [f"w8_{k}"], [f"w8_{k}_f"], to=onnx.TensorProto.FLOAT),
                  helper.make_node("Mul", [f"w8_{k}_f", f"w8_scale{k}"], [f"w8_{k}_w"]),
                  helper.make_node("MatMul", [node.input[0], f"w8_{k}_w"], list(node.output))]
    replace_nodes(graph, nodes)
    onnx.save(model, str(dst))
    return converted
