"""Build the one fused ONNX graph: token ids -> static embedding -> every head.

Layout (all float32):
  input_ids [B, L] int64, attention_mask [B, L] int64
  selectors [B, 3, L] = mask, mask * (CumSum(mask) <= K), mask * (reverse CumSum(mask) <= K)
  MatMul(selectors, Gather(E, ids)) / max(ReduceSum(selectors), 1) = means [B, 3, D]
  embedding [B, D + 2W] = [all | head[:W] | tail[:W]]   (training.model.embed.Pooling.layout)
  The cumulative sums count each row's real tokens, so head and tail follow every row's own
  length in a padded batch (padding anywhere, not only on the right). E sits on a 2^-k grid,
  so every sum is exact (0/1 weights, any order) and equals training.model.embed.pool_features bit
  for bit. K = 0 gives the plain mean of earlier bundles.
  per head: skl2onnx trees -> probabilities [B, k] -> MatMul(placement [k, n]) -> [B, n]
  (the placement matrix puts classes missing from training at probability 0, exactly)
  tier: three binary heads -> P(ok) columns -> cumulative Max -> tier_ok_probs [B, 3]
  or, ordinal (training.model.tier_head): rows [embedding | t] for t = 0, 1, 2 stacked to [3B, D+1]
  -> one tree model -> P(ok) [3B, 1] -> Reshape [3, B] -> Transpose -> tier_ok_probs [B, 3]
  (monotone by the trees' constraint: no Max needed)
  text features (training.model.text_features), when heads read them:
  Gather(flag table [V, k], ids) * mask, ReduceSum over tokens -> counts [B, k]; ReduceSum(mask)
  -> tokens [B, 1]; cue words: Gather(slot [V], ids) * mask, its shift left by one, Gather(first
  [S, W], slot) * Gather(second [S, W], next slot) -> MatMul(lists [W, C]) -> [B, L, C], summed
  over the head window and over all tokens -> cue counts [B, 2C]; embedding_text
  [B, F + k + 2C + 1] = [embedding | counts | cue counts | tokens]. Heads listed in
  heads.text_features read embedding_text, the others the embedding. Counts of 0/1 are exact
  in float32, so they equal the numpy features bit for bit.
The heads are converted separately, prefixed with onnx.compose.add_prefix, and wired to the
shared embedding by name, so the embedding is computed once for all heads.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.compose import add_prefix

from classifier.bundle import FEATURES_METADATA_KEY, INPUT_NAMES, OUTPUT_NAMES
from training.model.embed import DEFAULT_POOLING, Pooling
from training.model.heads import HeadFit, TierwiseHeads
from training.model.text_features import CUE_HEAD_TOKENS, TextFeatures
from training.model.text_features import N_FEATURES as N_TEXT_FEATURES

MAIN_OPSET = 17
ML_OPSET = 3  # onnx.compose and skl2onnx's tree converters agree on ai.onnx.ml 3
EMBEDDING = "embedding"
WITH_TEXT = "embedding_text"


def _convert(fit: HeadFit, dim: int, prefix: str) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    model = convert_sklearn(
        fit.model,
        initial_types=[("X", FloatTensorType([None, dim]))],
        options={id(fit.model): {"zipmap": False}},
        target_opset={"": MAIN_OPSET, "ai.onnx.ml": ML_OPSET},
    )
    return add_prefix(model, prefix)


def _head_nodes(
    fit: HeadFit, dim: int, prefix: str, out: str, source: str = EMBEDDING
) -> tuple[list, list]:
    """Nodes and initializers mapping `source` [B, dim] to `out` [B, n] for one head."""
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    n = fit.n_outputs
    if fit.model is None:
        # A head that saw < 2 classes: a constant row per input, X @ 0 + c keeps the batch dim.
        assert fit.constant is not None
        inits += [
            numpy_helper.from_array(np.zeros((dim, n), np.float32), f"{prefix}zeros"),
            numpy_helper.from_array(fit.constant.astype(np.float32)[None, :], f"{prefix}const"),
        ]
        nodes += [
            helper.make_node("MatMul", [source, f"{prefix}zeros"], [f"{prefix}z"]),
            helper.make_node("Add", [f"{prefix}z", f"{prefix}const"], [out]),
        ]
        return nodes, inits
    head = _convert(fit, dim, prefix)
    graph = head.graph
    head_input = graph.input[0].name
    probs = next(o.name for o in graph.output if "prob" in o.name)
    for node in graph.node:
        node.input[:] = [source if name == head_input else name for name in node.input]
        nodes.append(node)
    inits += list(graph.initializer)
    placement = np.zeros((len(fit.classes), n), np.float32)
    placement[np.arange(len(fit.classes)), fit.classes] = 1.0
    inits.append(numpy_helper.from_array(placement, f"{prefix}placement"))
    nodes.append(helper.make_node("MatMul", [probs, f"{prefix}placement"], [out]))
    return nodes, inits


def _per_tier_nodes(
    heads: TierwiseHeads, dim: int, out: str, source: str = EMBEDDING
) -> tuple[list, list]:
    """Three binary heads, then a cumulative Max so that nano <= mini <= full."""
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    tier_cols = []
    for t, fit in enumerate(heads.tiers_):
        pair = f"tier{t}_pair"
        more_nodes, more_inits = _head_nodes(fit, dim, f"tier{t}_", pair, source)
        nodes += more_nodes
        inits += more_inits
        # [B, 2] -> column 1 (P(ok)) as [B, 1], exactly, via a 0/1 matrix.
        inits.append(numpy_helper.from_array(np.array([[0.0], [1.0]], np.float32), f"tier{t}_sel"))
        nodes.append(helper.make_node("MatMul", [pair, f"tier{t}_sel"], [f"tier{t}_ok"]))
        tier_cols.append(f"tier{t}_ok")
    cumulative = [tier_cols[0]]
    for t in range(1, len(tier_cols)):  # running Max: one node per tier after the first
        nodes.append(helper.make_node("Max", [cumulative[-1], tier_cols[t]], [f"tier_cum{t}"]))
        cumulative.append(f"tier_cum{t}")
    nodes.append(helper.make_node("Concat", cumulative, [out], axis=1))
    return nodes, inits


def _ordinal_tier_nodes(
    heads: TierwiseHeads, dim: int, out: str, source: str = EMBEDDING
) -> tuple[list, list]:
    """One tree model run on [source | t] for every tier t in a single batch of T*B rows."""
    fit = heads.tier_ordinal_
    if fit is None:
        raise ValueError("an ordinal tier graph needs heads fitted with tier_head='ordinal'")
    n_tiers = heads.n_tiers
    p = "tierord_"
    inits = [
        numpy_helper.from_array(np.array([0], np.int64), f"{p}s"),
        numpy_helper.from_array(np.array([1], np.int64), f"{p}e"),
        numpy_helper.from_array(np.array([1], np.int64), f"{p}one_i"),
        numpy_helper.from_array(np.array([n_tiers, -1], np.int64), f"{p}by_tier"),
        numpy_helper.from_array(np.array([[0.0], [1.0]], np.float32), f"{p}sel"),
    ]
    later = range(1, n_tiers)
    inits += [numpy_helper.from_array(np.array(float(t), np.float32), f"{p}t{t}") for t in later]
    nodes = [
        helper.make_node("Shape", [source], [f"{p}shape"]),
        helper.make_node("Slice", [f"{p}shape", f"{p}s", f"{p}e"], [f"{p}b"]),
        helper.make_node("Concat", [f"{p}b", f"{p}one_i"], [f"{p}colshape"], axis=0),
        helper.make_node(
            "ConstantOfShape",
            [f"{p}colshape"],
            [f"{p}c0"],
            value=numpy_helper.from_array(np.zeros(1, np.float32)),
        ),  # fmt: skip
    ]
    nodes += [helper.make_node("Add", [f"{p}c0", f"{p}t{t}"], [f"{p}c{t}"]) for t in later]
    for t in range(n_tiers):
        nodes.append(helper.make_node("Concat", [source, f"{p}c{t}"], [f"{p}x{t}"], axis=1))
    stacked = [f"{p}x{t}" for t in range(n_tiers)]
    nodes.append(helper.make_node("Concat", stacked, [f"{p}x"], axis=0))
    more_nodes, more_inits = _head_nodes(fit, dim + 1, p, f"{p}pair", source=f"{p}x")
    nodes += more_nodes
    inits += more_inits
    nodes += [
        helper.make_node("MatMul", [f"{p}pair", f"{p}sel"], [f"{p}ok"]),  # [TB, 1], exactly
        helper.make_node("Reshape", [f"{p}ok", f"{p}by_tier"], [f"{p}tb"]),  # [T, B]
        helper.make_node("Transpose", [f"{p}tb"], [out], perm=[1, 0]),  # [B, T]
    ]
    return nodes, inits


def _embedding_nodes(vectors: np.ndarray, pooling: Pooling) -> tuple[list, list]:
    ids, mask = INPUT_NAMES
    dim = int(vectors.shape[1])
    width = pooling.edge_width(dim)
    inits = [
        numpy_helper.from_array(np.ascontiguousarray(vectors, np.float32), "emb_matrix"),
        numpy_helper.from_array(np.array([1], np.int64), "emb_axis1"),
        numpy_helper.from_array(np.array([2], np.int64), "emb_axis2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "emb_one"),
    ]
    if not width:
        nodes = [
            helper.make_node("Gather", ["emb_matrix", ids], ["emb_rows"], axis=0),
            helper.make_node("Cast", [mask], ["emb_maskf"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["emb_maskf", "emb_axis2"], ["emb_mask3"]),
            helper.make_node("Mul", ["emb_rows", "emb_mask3"], ["emb_masked"]),
            helper.make_node("ReduceSum", ["emb_masked", "emb_axis1"], ["emb_sum"], keepdims=0),
            helper.make_node("ReduceSum", ["emb_maskf", "emb_axis1"], ["emb_count"], keepdims=1),
            helper.make_node("Max", ["emb_count", "emb_one"], ["emb_countc"]),
            helper.make_node("Div", ["emb_sum", "emb_countc"], [EMBEDDING]),
        ]
        return nodes, inits
    inits += [
        numpy_helper.from_array(np.array(1, np.int64), "emb_axis1s"),
        numpy_helper.from_array(np.array(pooling.edge_tokens, np.int64), "emb_k"),
    ]
    nodes = [
        helper.make_node("Gather", ["emb_matrix", ids], ["emb_rows"], axis=0),  # [B, L, D]
        # Position p is in the head when it is among the first K real tokens of its row, in
        # the tail when among the last K: counted with cumulative sums of the row's mask.
        helper.make_node("CumSum", [mask, "emb_axis1s"], ["emb_cum"]),
        helper.make_node("CumSum", [mask, "emb_axis1s"], ["emb_rcum"], reverse=1),
        helper.make_node("LessOrEqual", ["emb_cum", "emb_k"], ["emb_inhead"]),
        helper.make_node("LessOrEqual", ["emb_rcum", "emb_k"], ["emb_intail"]),
        helper.make_node("Cast", [mask], ["emb_maskf"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["emb_inhead"], ["emb_headf"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["emb_intail"], ["emb_tailf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["emb_maskf", "emb_headf"], ["emb_headm"]),
        helper.make_node("Mul", ["emb_maskf", "emb_tailf"], ["emb_tailm"]),
        helper.make_node("Unsqueeze", ["emb_maskf", "emb_axis1"], ["emb_sel_all"]),
        helper.make_node("Unsqueeze", ["emb_headm", "emb_axis1"], ["emb_sel_head"]),
        helper.make_node("Unsqueeze", ["emb_tailm", "emb_axis1"], ["emb_sel_tail"]),
        helper.make_node(
            "Concat", ["emb_sel_all", "emb_sel_head", "emb_sel_tail"], ["emb_sel"], axis=1
        ),  # [B, 3, L] of 0/1
        helper.make_node("MatMul", ["emb_sel", "emb_rows"], ["emb_sums"]),  # [B, 3, D]
        helper.make_node("ReduceSum", ["emb_sel", "emb_axis2"], ["emb_counts"], keepdims=1),
        helper.make_node("Max", ["emb_counts", "emb_one"], ["emb_countsc"]),
        helper.make_node("Div", ["emb_sums", "emb_countsc"], ["emb_means"]),
    ]
    if width == dim:  # [B, 3, D] row-major is already [all | head | tail]
        nodes.append(helper.make_node("Flatten", ["emb_means"], [EMBEDDING], axis=1))
        return nodes, inits
    inits += [
        numpy_helper.from_array(np.array([0, 0], np.int64), "emb_s0"),
        numpy_helper.from_array(np.array([1, dim], np.int64), "emb_e0"),
        numpy_helper.from_array(np.array([1, 0], np.int64), "emb_s1"),
        numpy_helper.from_array(np.array([3, width], np.int64), "emb_e1"),
        numpy_helper.from_array(np.array([1, 2], np.int64), "emb_axes12"),
    ]
    nodes += [  # [B, 0:1, 0:D] -> mean [B, D]; [B, 1:3, 0:W] -> head, tail [B, 2W]
        helper.make_node("Slice", ["emb_means", "emb_s0", "emb_e0", "emb_axes12"], ["emb_m0"]),
        helper.make_node("Flatten", ["emb_m0"], ["emb_mean"], axis=1),
        helper.make_node("Slice", ["emb_means", "emb_s1", "emb_e1", "emb_axes12"], ["emb_m1"]),
        helper.make_node("Flatten", ["emb_m1"], ["emb_edges"], axis=1),
        helper.make_node("Concat", ["emb_mean", "emb_edges"], [EMBEDDING], axis=1),
    ]
    return nodes, inits


def _text_feature_nodes(features: TextFeatures) -> tuple[list, list]:
    """[embedding | flag counts | cue counts, head then all | token count] as WITH_TEXT."""
    ids, mask = INPUT_NAMES
    cues = features.cues
    inits = [
        numpy_helper.from_array(np.ascontiguousarray(features.table, np.float32), "tf_table"),
        numpy_helper.from_array(np.array([1], np.int64), "tf_axis1"),
        numpy_helper.from_array(np.array([2], np.int64), "tf_axis2"),
        numpy_helper.from_array(cues.slot, "tf_cue_slot"),
        numpy_helper.from_array(cues.first, "tf_cue_first"),
        numpy_helper.from_array(cues.second, "tf_cue_second"),
        numpy_helper.from_array(cues.lists, "tf_cue_lists"),
        numpy_helper.from_array(np.array([0, 0, 0, 1], np.int64), "tf_pad_end"),
        numpy_helper.from_array(np.array([1], np.int64), "tf_one"),
        numpy_helper.from_array(np.array([np.iinfo(np.int64).max], np.int64), "tf_end"),
        numpy_helper.from_array(np.array(1, np.int64), "tf_axis1s"),
        numpy_helper.from_array(np.array(CUE_HEAD_TOKENS, np.int64), "tf_cue_k"),
    ]
    nodes = [
        helper.make_node("Gather", ["tf_table", ids], ["tf_rows"], axis=0),  # [B, L, k]
        helper.make_node("Cast", [mask], ["tf_maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["tf_maskf", "tf_axis2"], ["tf_mask3"]),
        helper.make_node("Mul", ["tf_rows", "tf_mask3"], ["tf_masked"]),
        helper.make_node("ReduceSum", ["tf_masked", "tf_axis1"], ["tf_counts"], keepdims=0),
        helper.make_node("ReduceSum", ["tf_maskf", "tf_axis1"], ["tf_tokens"], keepdims=1),
        # Cue words: slot of every real token (0 on padding), the next token's slot by a shift
        # left with 0 at the end, then first[slot] * second[next slot] per word -> per intent.
        helper.make_node("Gather", ["tf_cue_slot", ids], ["tf_slot_raw"], axis=0),  # [B, L]
        helper.make_node("Mul", ["tf_slot_raw", mask], ["tf_slot"]),
        helper.make_node("Pad", ["tf_slot", "tf_pad_end"], ["tf_slot_padded"]),  # [B, L + 1]
        helper.make_node(
            "Slice", ["tf_slot_padded", "tf_one", "tf_end", "tf_one"], ["tf_slot_next"]
        ),  # fmt: skip
        helper.make_node("Gather", ["tf_cue_first", "tf_slot"], ["tf_first"], axis=0),
        helper.make_node("Gather", ["tf_cue_second", "tf_slot_next"], ["tf_second"], axis=0),
        helper.make_node("Mul", ["tf_first", "tf_second"], ["tf_words"]),  # [B, L, words]
        helper.make_node("MatMul", ["tf_words", "tf_cue_lists"], ["tf_per_token"]),  # [B, L, C]
        # The head window: the first K real tokens of each row, counted on its own mask.
        helper.make_node("CumSum", [mask, "tf_axis1s"], ["tf_cum"]),
        helper.make_node("LessOrEqual", ["tf_cum", "tf_cue_k"], ["tf_inhead"]),
        helper.make_node("Cast", ["tf_inhead"], ["tf_headf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["tf_maskf", "tf_headf"], ["tf_headm"]),
        helper.make_node("Unsqueeze", ["tf_headm", "tf_axis1"], ["tf_sel_head"]),
        helper.make_node("Unsqueeze", ["tf_maskf", "tf_axis1"], ["tf_sel_all"]),
        helper.make_node("Concat", ["tf_sel_head", "tf_sel_all"], ["tf_sel"], axis=1),  # [B,2,L]
        helper.make_node("MatMul", ["tf_sel", "tf_per_token"], ["tf_cue_sums"]),  # [B, 2, C]
        helper.make_node("Flatten", ["tf_cue_sums"], ["tf_cue_counts"], axis=1),  # [B, 2C]
        helper.make_node(
            "Concat", [EMBEDDING, "tf_counts", "tf_cue_counts", "tf_tokens"], [WITH_TEXT], axis=1
        ),  # fmt: skip
    ]
    return nodes, inits


def features_metadata(dim: int, pooling: Pooling, text_features: TextFeatures | None = None) -> str:
    """The feature layout as stored in the graph; the runtime compares it with the manifest."""
    layout = pooling.layout(dim)
    width = pooling.feature_dim(dim)
    if text_features is not None:
        layout.append(text_features.layout(width))
        width += N_TEXT_FEATURES
    return json.dumps({"feature_dim": width, "layout": layout}, sort_keys=True)


def build_graph(
    vectors: np.ndarray,
    heads: TierwiseHeads,
    pooling: Pooling = DEFAULT_POOLING,
    text_features: TextFeatures | None = None,
) -> onnx.ModelProto:
    """The fused model; checked with onnx.checker before it is returned.

    `text_features` (the student's) must be given exactly when some head reads them.
    """
    row_dim = int(vectors.shape[1])
    dim = pooling.feature_dim(row_dim)
    readers = set(heads.text_features) if getattr(heads, "text_features", ()) else set()
    if bool(readers) != (text_features is not None):
        raise ValueError(
            f"heads read text features {sorted(readers)} but the student "
            f"{'has' if text_features is not None else 'has no'} text features; embed and fit "
            "with the same heads.text_features"
        )
    nodes, inits = _embedding_nodes(vectors, pooling)
    sources = {head: (EMBEDDING, dim) for head in ("intent", "risk", "tier")}
    if text_features is not None:
        more_nodes, more_inits = _text_feature_nodes(text_features)
        nodes += more_nodes
        inits += more_inits
        sources |= {head: (WITH_TEXT, dim + heads.n_text_features) for head in readers}
    intent_out, risk_out, tier_out = OUTPUT_NAMES
    for fit, prefix, out, head in (
        (heads.intent_, "intent_", intent_out, "intent"),
        (heads.risk_, "risk_", risk_out, "risk"),
    ):
        source, width = sources[head]
        more_nodes, more_inits = _head_nodes(fit, width, prefix, out, source)
        nodes += more_nodes
        inits += more_inits
    ordinal = getattr(heads, "tier_ordinal_", None) is not None
    builder = _ordinal_tier_nodes if ordinal else _per_tier_nodes
    source, width = sources["tier"]
    more_nodes, more_inits = builder(heads, width, tier_out, source)
    nodes += more_nodes
    inits += more_inits
    ids, mask = INPUT_NAMES
    graph = helper.make_graph(
        nodes,
        "tierwise",
        inputs=[
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "tokens"]),
        ],
        outputs=[
            helper.make_tensor_value_info(
                intent_out, TensorProto.FLOAT, ["batch", heads.intent_.n_outputs]
            ),
            helper.make_tensor_value_info(
                risk_out, TensorProto.FLOAT, ["batch", heads.risk_.n_outputs]
            ),
            helper.make_tensor_value_info(tier_out, TensorProto.FLOAT, ["batch", heads.n_tiers]),
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", MAIN_OPSET),
            helper.make_opsetid("ai.onnx.ml", ML_OPSET),
        ],
        producer_name="tierwise",
    )
    model.ir_version = 8
    metadata = features_metadata(row_dim, pooling, text_features)
    helper.set_model_props(model, {FEATURES_METADATA_KEY: metadata})
    onnx.checker.check_model(model)
    return model
