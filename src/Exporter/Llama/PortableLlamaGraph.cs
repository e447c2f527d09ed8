using System.Runtime.CompilerServices;
using MlPipelines.Exporter.Graph;
using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Model;
using static MlPipelines.Exporter.Onnx.TensorProto.Types;
using N = MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.Exporter.Llama;

/// <summary>
/// The LLaMA decoder as a graph of standard ONNX operators (opset 17), computing what the managed
/// engine's <c>TransformerSession</c> computes, in the same order: embedding, then per layer
/// RMSNorm → q/k/v → RoPE (adjacent pairs) → grouped-query attention over past + new keys →
/// output projection → residual, RMSNorm → SwiGLU → residual; final RMSNorm and classifier.
/// </summary>
/// <remarks>
/// The residual stream is kept 2-D, <c>[N = batch·seq, dim]</c>, so every linear layer is one
/// <c>Gemm(x, W, transB = 1)</c> reading the weight exactly as stored (<c>[out, in]</c>): weights are
/// written unchanged and a tied classifier reuses the embedding initializer.
/// </remarks>
internal sealed class PortableLlamaGraph
{
    private readonly GraphBuilder _g = new("llama");
    private readonly LlamaWeights _w;
    private readonly ModelConfig _c;

    // Values built once and shared by every layer.
    private string _shapeQ = "", _shapeKv = "", _shapeQ5 = "", _shapeAttnOut = "", _shapeRows = "", _shapePairs = "";
    private string _cos = "", _sin = "", _allowed = "", _epsilon = "", _scale = "", _maskedScore = "";

    private PortableLlamaGraph(LlamaWeights weights)
    {
        _w = weights;
        _c = weights.Config;
    }

    /// <summary>Builds the decoder graph over <paramref name="weights"/> (referenced, not copied).</summary>
    public static GraphBuilder Build(LlamaWeights weights)
    {
        var graph = new PortableLlamaGraph(weights);
        graph.BuildGraph();
        return graph._g;
    }

    private void BuildGraph()
    {
        Validate(_c);
        int dim = _c.Dim, layers = _c.LayerCount;

        // Interface (names and dims as Optimum / onnxruntime-genai use).
        string inputIds = _g.Input(N.InputIds, DataType.Int64, N.BatchDim, N.SequenceDim);
        string attentionMask = _g.Input(N.AttentionMask, DataType.Int64, N.BatchDim, N.TotalSequenceDim);
        string positionIds = _g.Input(N.PositionIds, DataType.Int64, N.BatchDim, N.SequenceDim);
        var pastKeys = new string[layers];
        var pastValues = new string[layers];
        for (int l = 0; l < layers; l++)
        {
            pastKeys[l] = _g.Input(N.PastKey(l), DataType.Float, N.BatchDim, _c.KvHeadCount, N.PastSequenceDim, _c.HeadDim);
            pastValues[l] = _g.Input(N.PastValue(l), DataType.Float, N.BatchDim, _c.KvHeadCount, N.PastSequenceDim, _c.HeadDim);
        }

        string embed = _g.Weight("model.embed_tokens.weight", _w.TokenEmbedding, _c.VocabSize, dim);
        BuildSharedValues(inputIds, attentionMask, positionIds, pastKeys[0]);

        string x = _g.Reshape(_g.Gather(embed, inputIds, name: "embedded"), _g.Int64s(-1, dim), "x");
        for (int l = 0; l < layers; l++)
            x = Layer(l, x, pastKeys[l], pastValues[l]);

        string final = RmsNorm(x, _g.Weight("model.norm.weight", _w.RmsFinal, dim), "final_norm");
        _g.Node("Reshape", "=" + N.LastHiddenState, [final, _g.Concat([_shapeRows, _g.Int64s(dim)], 0, "hidden_shape")]);

        string classifier = SameMemory(_w.Classifier, _w.TokenEmbedding)
            ? embed
            : _g.Weight("lm_head.weight", _w.Classifier, _c.VocabSize, dim);
        string logits = _g.GemmTransB(final, classifier, "logits_2d");
        _g.Node("Reshape", "=" + N.Logits, [logits, _g.Concat([_shapeRows, _g.Int64s(_c.VocabSize)], 0, "logits_shape")]);

        _g.Output(N.Logits, DataType.Float, N.BatchDim, N.SequenceDim, _c.VocabSize);
        for (int l = 0; l < layers; l++)
        {
            _g.Output(N.PresentKey(l), DataType.Float, N.BatchDim, _c.KvHeadCount, N.TotalSequenceDim, _c.HeadDim);
            _g.Output(N.PresentValue(l), DataType.Float, N.BatchDim, _c.KvHeadCount, N.TotalSequenceDim, _c.HeadDim);
        }
        _g.Output(N.LastHiddenState, DataType.Float, N.BatchDim, N.SequenceDim, dim);
    }

    /// <summary>Shapes, RoPE factors, the attention mask and scalars that every layer reuses.</summary>
    private void BuildSharedValues(string inputIds, string attentionMask, string positionIds, string pastKey0)
    {
        int heads = _c.HeadCount, kvHeads = _c.KvHeadCount, headDim = _c.HeadDim;

        // Dynamic shapes from [B, S] = Shape(input_ids).
        _shapeRows = _g.Shape(inputIds, "batch_seq");
        _shapeQ = _g.Concat([_shapeRows, _g.Int64s(heads, headDim)], 0, "q_shape");
        _shapeKv = _g.Concat([_shapeRows, _g.Int64s(kvHeads, headDim)], 0, "kv_shape");
        _shapePairs = _g.Int64s(0, 0, 0, -1, 2);                                   // [B,S,heads,hd/2,2]
        _shapeQ5 = _g.Int64s(0, kvHeads, _c.KvGroupSize, -1, headDim);             // [B,KvH,G,S,hd]
        _shapeAttnOut = _g.Int64s(0, heads, -1, headDim);                          // [B,H,S,hd]

        // RoPE factors for each token's position: [B,S,hd/2] → [B,S,1,hd/2,1] (broadcast over heads).
        // The managed engine's own table, so both engines rotate by bit-identical factors.
        var rope = RopeTable.For(_c);
        long[] tableDims = [_c.MaxSequenceLength, headDim / 2];
        _cos = _g.Unsqueeze(_g.Gather(_g.Floats("rope.cos", rope.CosTable, tableDims), positionIds, name: "cos_pos"), [2, 4], "cos");
        _sin = _g.Unsqueeze(_g.Gather(_g.Floats("rope.sin", rope.SinTable, tableDims), positionIds, name: "sin_pos"), [2, 4], "sin");

        // Which keys each query may see: slot-causal (key slot <= query slot, slots counting the
        // past) and not padding. Padding is excluded by the mask rather than by positions, so
        // left- and right-padded rows both attend exactly to their own real tokens.
        string zero = _g.Int64Scalar(0), one = _g.Int64Scalar(1);
        string seqLen = _g.Gather(_shapeRows, one, name: "seq_len");
        string pastLen = _g.Gather(_g.Shape(pastKey0, "past_shape"), _g.Int64Scalar(2), name: "past_len");
        string totalLen = _g.Gather(_g.Shape(attentionMask, "mask_shape"), one, name: "total_len");
        string querySlots = _g.Unsqueeze(_g.Add(_g.Range(zero, seqLen, one, "new_slots"), pastLen, "query_slots_1d"), [1], "query_slots");
        string keySlots = _g.Range(zero, totalLen, one, "key_slots");
        string causal = _g.LessOrEqual(keySlots, querySlots, "causal");                               // [S,T]
        string keyMask = _g.Unsqueeze(_g.Cast(attentionMask, DataType.Bool, "key_mask_2d"), [1, 2, 3], "key_mask"); // [B,1,1,1,T]
        _allowed = _g.And(keyMask, causal, "allowed");                                               // [B,1,1,S,T]

        _epsilon = _g.FloatScalar(_c.NormEpsilon);
        _scale = _g.FloatScalar(MathF.Sqrt(headDim));
        // Where (not an additive mask) with a finite minimum: a fully masked row (a padding query
        // with no real key before it) then gets a uniform softmax instead of NaN.
        _maskedScore = _g.FloatScalar(float.MinValue);
    }

    private string Layer(int l, string x, string pastKey, string pastValue)
    {
        LayerWeights w = _w.Layers[l];
        int dim = _c.Dim, qDim = _c.QueryDim, kvDim = _c.KvDim, hidden = _c.HiddenDim;
        string p = $"model.layers.{l}.";
        string W(string name, WeightTensor t, long rows, long cols) => _g.Weight(p + name, t, rows, cols);

        // Attention block.
        string xn = RmsNorm(x, _g.Weight(p + "input_layernorm.weight", w.RmsAttention, dim), $"l{l}_attn_norm");
        string q = _g.Reshape(_g.GemmTransB(xn, W("self_attn.q_proj.weight", w.Wq, qDim, dim), $"l{l}_q_2d"), _shapeQ, $"l{l}_q");
        string k = _g.Reshape(_g.GemmTransB(xn, W("self_attn.k_proj.weight", w.Wk, kvDim, dim), $"l{l}_k_2d"), _shapeKv, $"l{l}_k");
        string v = _g.Reshape(_g.GemmTransB(xn, W("self_attn.v_proj.weight", w.Wv, kvDim, dim), $"l{l}_v_2d"), _shapeKv, $"l{l}_v");
        q = Rope(q, _shapeQ, $"l{l}_q_rot");
        k = Rope(k, _shapeKv, $"l{l}_k_rot");

        // [B,S,heads,hd] → [B,heads,S,hd]; keys and values join the cache (the present outputs).
        long[] headsFirst = [0, 2, 1, 3];
        string q5 = _g.Reshape(_g.Transpose(q, headsFirst, $"l{l}_q_t"), _shapeQ5, $"l{l}_q5");
        string presentKey = _g.Node("Concat", "=" + N.PresentKey(l), [pastKey, _g.Transpose(k, headsFirst, $"l{l}_k_t")], GraphBuilder.Attr.Int("axis", 2));
        string presentValue = _g.Node("Concat", "=" + N.PresentValue(l), [pastValue, _g.Transpose(v, headsFirst, $"l{l}_v_t")], GraphBuilder.Attr.Int("axis", 2));

        // Grouped-query attention without copying keys per query head: queries are [B,KvH,G,S,hd]
        // and keys/values [B,KvH,1,T,hd], so MatMul broadcasts one kv head over its G query heads
        // (query head h = kv·G + g reads kv head h / G, as the managed engine does).
        string k5 = _g.Unsqueeze(presentKey, [2], $"l{l}_k5");
        string v5 = _g.Unsqueeze(presentValue, [2], $"l{l}_v5");
        string scores = _g.MatMul(q5, _g.Transpose(k5, [0, 1, 2, 4, 3], $"l{l}_k5_t"), $"l{l}_qk");
        scores = _g.Div(scores, _scale, $"l{l}_scores");   // divided, as the managed engine does
        scores = _g.Where(_allowed, scores, _maskedScore, $"l{l}_masked");
        string probs = _g.Softmax(scores, -1, $"l{l}_probs");
        string attn = _g.MatMul(probs, v5, $"l{l}_attn5");                                   // [B,KvH,G,S,hd]
        attn = _g.Transpose(_g.Reshape(attn, _shapeAttnOut, $"l{l}_attn4"), headsFirst, $"l{l}_attn_t");
        attn = _g.Reshape(attn, _g.Int64s(-1, qDim), $"l{l}_attn");
        x = _g.Add(x, _g.GemmTransB(attn, W("self_attn.o_proj.weight", w.Wo, dim, qDim), $"l{l}_o"), $"l{l}_h");

        // Feed-forward block: SwiGLU, multiplied in the managed engine's order sigmoid(g) · (g · u).
        xn = RmsNorm(x, _g.Weight(p + "post_attention_layernorm.weight", w.RmsFfn, dim), $"l{l}_ffn_norm");
        string gate = _g.GemmTransB(xn, W("mlp.gate_proj.weight", w.W1, hidden, dim), $"l{l}_gate");
        string up = _g.GemmTransB(xn, W("mlp.up_proj.weight", w.W3, hidden, dim), $"l{l}_up");
        string act = _g.Mul(_g.Sigmoid(gate, $"l{l}_gate_sig"), _g.Mul(gate, up, $"l{l}_gate_up"), $"l{l}_swiglu");
        string down = _g.GemmTransB(act, W("mlp.down_proj.weight", w.W2, dim, hidden), $"l{l}_down");
        return _g.Add(x, down, $"l{l}_out");
    }

    /// <summary>RMSNorm as the managed engine computes it: <c>(x · 1/sqrt(mean(x²) + eps)) · weight</c>.</summary>
    private string RmsNorm(string x, string weight, string name)
    {
        string meanSquare = _g.ReduceMean(_g.Mul(x, x, name + "_sq"), [-1], keepDims: true, name + "_ms");
        string inverse = _g.Reciprocal(_g.Sqrt(_g.Add(meanSquare, _epsilon, name + "_eps"), name + "_rms"), name + "_inv");
        return _g.Mul(_g.Mul(x, inverse, name + "_scaled"), weight, name);
    }

    /// <summary>
    /// RoPE on adjacent pairs: <paramref name="x"/> <c>[B,S,heads,hd]</c> viewed as <c>[B,S,heads,hd/2,2]</c>,
    /// each pair (x0, x1) becomes (x0·cos − x1·sin, x0·sin + x1·cos).
    /// </summary>
    private string Rope(string x, string shape, string name)
    {
        string pairs = _g.Reshape(x, _shapePairs, name + "_pairs");
        string x0 = _g.Slice(pairs, [0], [1], [4], name + "_x0");
        string x1 = _g.Slice(pairs, [1], [2], [4], name + "_x1");
        string out0 = _g.Sub(_g.Mul(x0, _cos, name + "_x0c"), _g.Mul(x1, _sin, name + "_x1s"), name + "_o0");
        string out1 = _g.Add(_g.Mul(x0, _sin, name + "_x0s"), _g.Mul(x1, _cos, name + "_x1c"), name + "_o1");
        return _g.Reshape(_g.Concat([out0, out1], -1, name + "_cat"), shape, name);
    }

    // A tied classifier is the very same memory as the embedding table (not merely equal values).
    private static bool SameMemory(WeightTensor a, WeightTensor b) =>
        a.Length == b.Length && a.Length > 0
        && Unsafe.AreSame(ref Unsafe.AsRef(in a.Span[0]), ref Unsafe.AsRef(in b.Span[0]));

    private static void Validate(ModelConfig c)
    {
        if (ShapeRules.Validate(c) is { } error)
            throw new ArgumentException($"Cannot export: {error}.");
    }
}
