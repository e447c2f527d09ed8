using System.Runtime.InteropServices;
using MlPipelines.Exporter.Graph;
using MlPipelines.Exporter.Quantization;
using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Model;
using static MlPipelines.Exporter.Onnx.TensorProto.Types;
using N = MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.Exporter.Llama;

/// <summary>
/// The LLaMA decoder on ONNX Runtime's fused contrib operators, as onnxruntime-genai's model builder lays it out:
/// <c>SimplifiedLayerNormalization</c> / <c>SkipSimplifiedLayerNormalization</c> (RMSNorm with the residual add fused in),
/// <c>GroupQueryAttention</c> (rotary embedding from cos/sin caches, the KV cache in one buffer shared by
/// <c>past_key_values.*</c> and <c>present.*</c>), and the linear layers as <c>Gemm</c> (fp32, fp16 stored) or
/// <c>MatMulNBits</c> (int4/int8 blocks, <see cref="OnnxExportOptions.BlockSize"/>).
/// </summary>
/// <remarks>
/// Interface: <c>input_ids</c> and <c>attention_mask</c> (int64), the past keys/values, and <c>logits</c>,
/// <c>present.*</c> and <c>last_hidden_state</c> out; no <c>position_ids</c>: GroupQueryAttention numbers the new tokens
/// from <c>seqlens_k</c> (the mask's row sums − 1), so rows must be right-padded. The cos/sin caches are the managed engine's
/// own RoPE table (llama3 frequency scaling included) and rotation is on adjacent pairs (<c>rotary_interleaved</c>), the
/// weights' convention. With fp32/fp16 weights the residual stream is 2-D <c>[batch·seq, dim]</c>, so every <c>Gemm</c>
/// reads weights as stored, and reshapes to and from GroupQueryAttention's 3-D layout; with int4/int8 weights every linear
/// layer is a <c>MatMulNBits</c>, which takes 3-D input, so the stream stays <c>[batch, seq, dim]</c> and the graph has no
/// reshape at all (at one token per step each node costs ONNX Runtime a few microseconds whatever it computes), and the
/// SwiGLU is <c>QuickGelu</c> (<c>x·sigmoid(x)</c> at alpha 1) times up: two nodes instead of three.
/// </remarks>
internal sealed class FusedLlamaGraph
{
    private readonly GraphBuilder _g = new("llama_fused");
    private readonly FusedModel _m;
    private readonly ModelConfig _c;
    private readonly FusedWeightSource _weights;
    private readonly int _width, _qWidth, _kvWidth;   // head width in the graph (padded to GroupQueryAttention's unit), q and kv rows
    private readonly bool _threeD;                      // every linear layer is MatMulNBits: the stream stays [batch, seq, dim]
    private string _rows = "", _q3Shape = "", _kv3Shape = "", _seqlensK = "", _totalLength = "", _cos = "", _sin = "";

    private FusedLlamaGraph(FusedModel model, FusedWeightSource source)
    {
        _m = model;
        _c = model.Config;
        _weights = source;
        _width = FusedWeightSource.GraphHeadWidth(_c);
        _qWidth = _c.HeadCount * _width;
        _kvWidth = _c.KvHeadCount * _width;
        _threeD = source.AllBlocks;
    }

    /// <summary>Builds the fused graph over <paramref name="model"/>; matrices come as <paramref name="source"/> gives them.</summary>
    public static GraphBuilder Build(FusedModel model, FusedWeightSource source)
    {
        if (ShapeRules.Validate(model.Config) is { } error)
            throw new ArgumentException($"Cannot export: {error}.");
        var graph = new FusedLlamaGraph(model, source);
        graph.BuildGraph();
        return graph._g;
    }

    private void BuildGraph()
    {
        int dim = _c.Dim, layers = _c.LayerCount;
        string inputIds = _g.Input(N.InputIds, DataType.Int64, N.BatchDim, N.SequenceDim);
        string attentionMask = _g.Input(N.AttentionMask, DataType.Int64, N.BatchDim, N.TotalSequenceDim);
        var pastKeys = new string[layers];
        var pastValues = new string[layers];
        for (int l = 0; l < layers; l++)
        {
            pastKeys[l] = _g.Input(N.PastKey(l), DataType.Float, N.BatchDim, _c.KvHeadCount, N.PastSequenceDim, _width);
            pastValues[l] = _g.Input(N.PastValue(l), DataType.Float, N.BatchDim, _c.KvHeadCount, N.PastSequenceDim, _width);
        }
        BuildSharedValues(inputIds, attentionMask);

        // The embedding table stays fp32 (a lookup reads one row per token; quantising it would save memory, not time).
        string embed = _g.Weight("model.embed_tokens.weight", _m.Embedding, _c.VocabSize, dim);
        string embedded = _g.Gather(embed, inputIds, name: "embedded");
        string residual = _threeD ? embedded : _g.Reshape(embedded, _g.Int64s(-1, dim), "x");
        // SimplifiedLayerNormalization is ONNX Runtime's, registered in the default domain (opset 1 and later).
        string normed = _g.Node("SimplifiedLayerNormalization", "l0_attn_norm",
            [residual, Norm("model.layers.0.input_layernorm.weight", _m.RmsAttention(0))], NormAttributes());
        for (int l = 0; l < layers; l++)
        {
            string p = $"model.layers.{l}.";
            string attention = Attention(l, normed, pastKeys[l], pastValues[l]);
            (normed, residual) = SkipNorm(attention, residual, Norm(p + "post_attention_layernorm.weight", _m.RmsFfn(l)), $"l{l}_ffn_norm");
            string gate = Linear(normed, "mlp.gate_proj", l, $"l{l}_gate");
            string up = Linear(normed, "mlp.up_proj", l, $"l{l}_up");
            string act = _threeD
                // Quantised weights: (g · sigmoid(g)) · u, rounded differently from the engine only in the last bit.
                ? _g.Mul(_g.ContribNode("QuickGelu", [$"l{l}_gate_silu"], [gate], GraphBuilder.Attr.Float("alpha", 1f))[0], up, $"l{l}_swiglu")
                // SwiGLU, multiplied in the managed engine's order: sigmoid(g) · (g · u).
                : _g.Mul(_g.Sigmoid(gate, $"l{l}_gate_sig"), _g.Mul(gate, up, $"l{l}_gate_up"), $"l{l}_swiglu");
            string down = Linear(act, "mlp.down_proj", l, $"l{l}_down");
            (normed, residual) = l + 1 < layers
                ? SkipNorm(down, residual, Norm($"model.layers.{l + 1}.input_layernorm.weight", _m.RmsAttention(l + 1)), $"l{l + 1}_attn_norm")
                : SkipNorm(down, residual, Norm("model.norm.weight", _m.RmsFinal), _threeD ? "=" + N.LastHiddenState : "final_norm");
        }

        if (_threeD)
        {
            Linear(normed, "lm_head", -1, "=" + N.Logits);
        }
        else
        {
            _g.Node("Reshape", "=" + N.LastHiddenState, [normed, _g.Concat([_rows, _g.Int64s(dim)], 0, "hidden_shape")]);
            string logits = Linear(normed, "lm_head", -1, "logits_2d");
            _g.Node("Reshape", "=" + N.Logits, [logits, _g.Concat([_rows, _g.Int64s(_c.VocabSize)], 0, "logits_shape")]);
        }

        _g.Output(N.Logits, DataType.Float, N.BatchDim, N.SequenceDim, _c.VocabSize);
        for (int l = 0; l < layers; l++)
        {
            _g.Output(N.PresentKey(l), DataType.Float, N.BatchDim, _c.KvHeadCount, N.TotalSequenceDim, _width);
            _g.Output(N.PresentValue(l), DataType.Float, N.BatchDim, _c.KvHeadCount, N.TotalSequenceDim, _width);
        }
        _g.Output(N.LastHiddenState, DataType.Float, N.BatchDim, N.SequenceDim, dim);
    }

    /// <summary>Shapes, GroupQueryAttention's lengths and the cos/sin caches, built once.</summary>
    private void BuildSharedValues(string inputIds, string attentionMask)
    {
        if (!_threeD)
        {
            _rows = _g.Shape(inputIds, "batch_seq");
            _q3Shape = _g.Concat([_rows, _g.Int64s(_qWidth)], 0, "q_shape");
            _kv3Shape = _g.Concat([_rows, _g.Int64s(_kvWidth)], 0, "kv_shape");
        }
        // seqlens_k: per row, the index of its last real token (real tokens first, padding after); total_sequence_length:
        // the mask's width. Both int32, as GroupQueryAttention takes them.
        string realTokens = _g.Node("ReduceSum", "real_tokens", [attentionMask, _g.Int64s(1)], GraphBuilder.Attr.Int("keepdims", 0));
        _seqlensK = _g.Cast(_g.Sub(realTokens, _g.Int64Scalar(1), "last_index"), DataType.Int32, "seqlens_k");
        _totalLength = _g.Cast(_g.Gather(_g.Shape(attentionMask, "mask_shape"), _g.Int64Scalar(1), name: "total_len_i64"),
            DataType.Int32, "total_sequence_length");
        // The engine's table, widened with cos 1 / sin 0 (no rotation) for padding channels.
        var rope = RopeTable.For(_c);
        int half = _c.HeadDim / 2, wideHalf = _width / 2;
        var cos = new float[(long)_c.MaxSequenceLength * wideHalf];
        var sin = new float[cos.Length];
        for (int p = 0; p < _c.MaxSequenceLength; p++)
        {
            rope.CosTable.Slice(p * half, half).CopyTo(cos.AsSpan(p * wideHalf));
            rope.SinTable.Slice(p * half, half).CopyTo(sin.AsSpan(p * wideHalf));
            cos.AsSpan(p * wideHalf + half, wideHalf - half).Fill(1f);
        }
        _cos = _g.Floats("cos_cache", cos, _c.MaxSequenceLength, wideHalf);
        _sin = _g.Floats("sin_cache", sin, _c.MaxSequenceLength, wideHalf);
    }

    private string Attention(int l, string normed, string pastKey, string pastValue)
    {
        string q, k, v;
        if (_weights.PackedQkv(l) is { } packed)
        {
            // One MatMulNBits for q, k and v together: GroupQueryAttention takes the packed rows as its query input.
            string qkv = Linear(normed, packed, $"model.layers.{l}.self_attn.qkv_proj", $"l{l}_qkv");
            q = _threeD ? qkv : _g.Reshape(qkv, _g.Concat([_rows, _g.Int64s(_qWidth + 2 * _kvWidth)], 0, "qkv_shape"), $"l{l}_qkv3");
            k = v = "";
        }
        else
        {
            q = To3D(Linear(normed, "self_attn.q_proj", l, $"l{l}_q_2d"), _q3Shape, $"l{l}_q");
            k = To3D(Linear(normed, "self_attn.k_proj", l, $"l{l}_k_2d"), _kv3Shape, $"l{l}_k");
            v = To3D(Linear(normed, "self_attn.v_proj", l, $"l{l}_v_2d"), _kv3Shape, $"l{l}_v");
        }
        string attention = _g.ContribNode("GroupQueryAttention", [$"l{l}_attn3", "=" + N.PresentKey(l), "=" + N.PresentValue(l)],
            [q, k, v, pastKey, pastValue, _seqlensK, _totalLength, _cos, _sin],
            GraphBuilder.Attr.Int("num_heads", _c.HeadCount),
            GraphBuilder.Attr.Int("kv_num_heads", _c.KvHeadCount),
            GraphBuilder.Attr.Int("do_rotary", 1),
            GraphBuilder.Attr.Int("rotary_interleaved", 1),
            GraphBuilder.Attr.Float("scale", 1f / MathF.Sqrt(_c.HeadDim)))[0];
        string attentionOut = _threeD ? attention : _g.Reshape(attention, _g.Int64s(-1, _qWidth), $"l{l}_attn");
        return Linear(attentionOut, "self_attn.o_proj", l, $"l{l}_o");
    }

    /// <summary>A linear layer's output as GroupQueryAttention takes it: <c>[batch, seq, width]</c>.</summary>
    private string To3D(string x, string shape, string name) => _threeD ? x : _g.Reshape(x, shape, name);

    /// <summary><c>x · Wᵀ</c> for the named matrix of layer <paramref name="layer"/> (−1: the classifier).</summary>
    private string Linear(string x, string matrix, int layer, string name) =>
        Linear(x, _weights.Get(layer, matrix), layer < 0 ? matrix : $"model.layers.{layer}.{matrix}", name);

    private string Linear(string x, FusedMatrix weights, string initializer, string name)
    {
        switch (weights)
        {
            case FusedMatrix.Stored stored:
                // fp32 and tied: the classifier reads the embedding initializer itself.
                string weight = initializer == "lm_head" && _m.ClassifierIsEmbedding
                    ? "model.embed_tokens.weight"
                    : _g.Weight(initializer + ".weight", stored.Tensor, stored.Rows, stored.Cols);
                return _g.GemmTransB(x, weight, name);
            case FusedMatrix.Floats floats:
                return _g.GemmTransB(x, _g.Floats(initializer + ".weight", floats.Values, floats.Rows, floats.Cols), name);
            case FusedMatrix.Half half:
                string halfWeight = _g.Bytes(initializer + ".weight", DataType.Float16, half.Bytes, half.Rows, half.Cols);
                // ONNX Runtime folds the cast at load: the file holds fp16, the CPU computes in fp32.
                return _g.GemmTransB(x, _g.Cast(halfWeight, DataType.Float, initializer + ".weight_fp32"), name);
            case FusedMatrix.Blocks blocks:
                MatMulNBitsWeights q = blocks.Weights;
                var inputs = new List<string>
                {
                    x,
                    _g.Bytes(initializer + ".weight_Q" + q.Bits, DataType.Uint8, q.Codes, q.N, q.Blocks, q.BlobBytes),
                    _g.Bytes(initializer + ".weight_scales", DataType.Float, MemoryMarshal.AsBytes(q.Scales.AsSpan()).ToArray(), (long)q.N * q.Blocks),
                };
                if (q.ZeroPoints is not null)
                    inputs.Add(_g.Bytes(initializer + ".weight_zero_points", DataType.Uint8, q.ZeroPoints, q.ZeroPoints.Length));
                return _g.ContribNode("MatMulNBits", [name], inputs,
                    GraphBuilder.Attr.Int("K", q.K), GraphBuilder.Attr.Int("N", q.N), GraphBuilder.Attr.Int("bits", q.Bits),
                    GraphBuilder.Attr.Int("block_size", q.BlockSize), GraphBuilder.Attr.Int("accuracy_level", blocks.AccuracyLevel))[0];
            default:
                throw new InvalidOperationException($"No weights for {initializer}.");
        }
    }

    private string Norm(string name, WeightTensor weight) => _g.Weight(name, weight, _c.Dim);

    private (string Normed, string Sum) SkipNorm(string x, string skip, string weight, string name)
    {
        // Outputs: the normed sum, (mean, inverse std: unused), and the sum itself (the next residual).
        string[] outputs = _g.ContribNode("SkipSimplifiedLayerNormalization", [name, "", "", name.TrimStart('=') + "_residual"], [x, skip, weight],
            GraphBuilder.Attr.Float("epsilon", _c.NormEpsilon));
        return (outputs[0], outputs[3]);
    }

    private Onnx.AttributeProto[] NormAttributes() =>
        [GraphBuilder.Attr.Int("axis", -1), GraphBuilder.Attr.Float("epsilon", _c.NormEpsilon), GraphBuilder.Attr.Int("stash_type", 1)];
}
