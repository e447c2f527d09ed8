using System.Runtime.InteropServices;
using MlPipelines.Exporter.Quantization;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.Exporter.Llama;

/// <summary>How one linear layer's weights go into the fused graph.</summary>
internal abstract record FusedMatrix
{
    private FusedMatrix() { }

    /// <summary>The fp32 weights as stored, written unchanged (<c>Gemm</c>, transB).</summary>
    public sealed record Stored(WeightTensor Tensor, long Rows, long Cols) : FusedMatrix;

    /// <summary>fp32 weights rearranged for the export (heads padded to GroupQueryAttention's width).</summary>
    public sealed record Floats(float[] Values, long Rows, long Cols) : FusedMatrix;

    /// <summary>fp16 copies of the weights (a <c>Cast</c> to fp32 that ONNX Runtime folds at load).</summary>
    public sealed record Half(byte[] Bytes, long Rows, long Cols) : FusedMatrix;

    /// <summary><c>MatMulNBits</c> blocks.</summary>
    public sealed record Blocks(MatMulNBitsWeights Weights, int AccuracyLevel) : FusedMatrix;
}

/// <summary>
/// Gives the fused graph each linear layer in the requested precision. In ggml's blocks of 32, int4 (symmetric) and int8 are
/// ggml's Q4_0 and Q8_0 blocks quantised from the fp32 weights by ggml's reference quantiser — the very weights the managed
/// engine runs on a Q4_0/Q8_0 file of the same model — and a GGUF source's matrices already stored in the requested width
/// are carried exactly instead (a second quantisation would only lose accuracy): Q4_0 for int4; Q8_0, and Q6_K as 8-bit
/// blocks of 16, for int8.
/// Everything else is quantised afresh — notably a llama.cpp Q4_0 file's Q6_K or Q8_0 classifier becomes int4 in an int4
/// export, as onnxruntime-genai's builder quantises <c>lm_head</c>: ONNX Runtime's 4-bit kernels are its fast ones (8-bit
/// blocks of 16 decode at about half the speed), and the classifier is a large share of a small model's weights. Rows that
/// are not whole 32-value blocks, other block sizes, and asymmetric int4, use <see cref="MatMulNBitsQuantizer"/> (padded
/// blocks); stored blocks that are not carried are widened and quantised again, and their formats reported
/// (<see cref="RequantizedFormats"/>).
/// </summary>
/// <remarks>
/// GroupQueryAttention takes heads whose width is a multiple of 16. A model with narrower heads (stories260K's are 8 wide)
/// gets each head padded with zero channels: zero rows appended to every head of q, k and v, zero columns to every head's
/// input of the output projection. The zeros add nothing to any dot product, rotate to zeros, and come out of attention as
/// zeros that the output projection ignores, so the model computes the same function; its KV cache is that much wider.
/// </remarks>
internal sealed class FusedWeightSource(FusedModel model, OnnxWeightPrecision precision, int accuracyLevel, int blockSize)
{
    /// <summary>ggml's Q4_0/Q8_0 block: the only size whose blocks are carried from a GGUF or quantised as ggml does.</summary>
    public const int GgmlBlockSize = 32;

    /// <summary>GroupQueryAttention's unit of head width.</summary>
    public const int HeadWidthUnit = 16;

    /// <summary>The head width in the graph: the model's, rounded up to a multiple of <see cref="HeadWidthUnit"/>.</summary>
    public static int GraphHeadWidth(ModelConfig c) => (c.HeadDim + HeadWidthUnit - 1) / HeadWidthUnit * HeadWidthUnit;

    private readonly int _width = GraphHeadWidth(model.Config);
    private bool Padded => _width != model.Config.HeadDim;
    private readonly SortedSet<string> _requantized = new(StringComparer.Ordinal);

    /// <summary>The stored quantised formats (a GGUF's Q4_0, Q6_K, …) whose matrices were widened and quantised again so far.</summary>
    public IReadOnlyList<string> RequantizedFormats => [.. _requantized];

    /// <summary>Whether every linear layer is <c>MatMulNBits</c> blocks (int4/int8), none a <c>Gemm</c>.</summary>
    public bool AllBlocks => precision is not (OnnxWeightPrecision.Float32 or OnnxWeightPrecision.Float16);

    /// <summary>
    /// Layer <paramref name="layer"/>'s q, k and v as one matrix stacked along N, for one MatMulNBits instead of three
    /// (quantised weights are built anew, so stacking copies nothing of the model); null for fp32/fp16 weights, or when the
    /// three differ in bits or block size (a file storing v in another format than q and k).
    /// </summary>
    public FusedMatrix? PackedQkv(int layer)
    {
        if (!AllBlocks) return null;
        var parts = new[] { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj" }.Select(n => Quantised(layer, n)).ToArray();
        MatMulNBitsWeights first = parts[0];
        if (parts.Any(p => p.K != first.K || p.Bits != first.Bits || p.BlockSize != first.BlockSize || (p.ZeroPoints is null) != (first.ZeroPoints is null)))
            return null;
        return new FusedMatrix.Blocks(Concatenate(parts), accuracyLevel);
    }

    /// <summary>The matrix <paramref name="name"/> (<c>self_attn.q_proj</c>, …, or <c>lm_head</c> with layer −1).</summary>
    public FusedMatrix Get(int layer, string name)
    {
        var (tensor, owned, rows, cols) = Matrix(layer, name);
        ReadOnlySpan<float> values = owned ?? tensor.Span;
        return precision switch
        {
            OnnxWeightPrecision.Float32 => owned is null ? new FusedMatrix.Stored(tensor, rows, cols) : new FusedMatrix.Floats(owned, rows, cols),
            OnnxWeightPrecision.Float16 => new FusedMatrix.Half(ToHalf(values), rows, cols),
            _ => new FusedMatrix.Blocks(Quantised(layer, name), accuracyLevel),
        };
    }

    private MatMulNBitsWeights Quantised(int layer, string name)
    {
        int bits = precision == OnnxWeightPrecision.Int8 ? 8 : 4;
        // Blocks the file already stores in the requested width are carried as they are; others are quantised afresh.
        if (!Padded && precision != OnnxWeightPrecision.Int4Asymmetric && blockSize == GgmlBlockSize && StoredMatrix(layer, name) is { } m)
        {
            switch (m.Format)
            {
                case WeightFormat.Q4_0 when bits == 4: return GgmlBlockWeights.FromBlocks(Bytes(m), m.Rows, m.Cols, 4);
                case WeightFormat.Q8_0 when bits == 8: return GgmlBlockWeights.FromBlocks(Bytes(m), m.Rows, m.Cols, 8);
                case WeightFormat.Q6_K when bits == 8: return GgmlBlockWeights.FromQ6_K(Bytes(m), m.Rows, m.Cols);
            }
        }
        if (StoredMatrix(layer, name) is { Format: not (WeightFormat.F32 or WeightFormat.F16 or WeightFormat.BF16) } requantized)
            _requantized.Add(requantized.Format.ToString());
        var (tensor, owned, rows, cols) = Matrix(layer, name);
        ReadOnlySpan<float> values = owned ?? tensor.Span;
        if (precision == OnnxWeightPrecision.Int4Asymmetric)
            return MatMulNBitsQuantizer.Quantize(values, rows, cols, 4, blockSize, symmetric: false);
        if (cols % GgmlBlockSize != 0 || blockSize != GgmlBlockSize)
            return MatMulNBitsQuantizer.Quantize(values, rows, cols, bits, blockSize, symmetric: true);
        return GgmlBlockWeights.Quantize(values, rows, cols, bits);
    }

    /// <summary>
    /// The matrix in fp32: a view of the fp32 weights, or an array of its own (widened from the file's blocks when only
    /// they were given; rearranged when heads are padded); rows and columns as the graph sees them.
    /// </summary>
    private (WeightTensor Tensor, float[]? Owned, int Rows, int Cols) Matrix(int layer, string name)
    {
        var (tensor, widened, rows, cols) = Fp32(layer, name);
        if (!Padded) return (tensor, widened, rows, cols);
        ReadOnlySpan<float> source = widened ?? tensor.Span;
        int hd = model.Config.HeadDim;
        switch (name)
        {
            case "self_attn.q_proj" or "self_attn.k_proj" or "self_attn.v_proj":
                {
                    // Each head's hd rows, then zero rows up to the padded width.
                    int heads = rows / hd;
                    var result = new float[(long)heads * _width * cols];
                    for (int h = 0; h < heads; h++)
                        source.Slice(h * hd * cols, hd * cols).CopyTo(result.AsSpan(h * _width * cols));
                    return (tensor, result, heads * _width, cols);
                }
            case "self_attn.o_proj":
                {
                    // Each output row reads each head's hd columns, then zero columns.
                    int heads = cols / hd, wide = heads * _width;
                    var result = new float[(long)rows * wide];
                    for (int r = 0; r < rows; r++)
                        for (int h = 0; h < heads; h++)
                            source.Slice(r * cols + h * hd, hd).CopyTo(result.AsSpan(r * wide + h * _width));
                    return (tensor, result, rows, wide);
                }
            default:
                return (tensor, widened, rows, cols);
        }
    }

    /// <summary>The fp32 view of a matrix, or (only stored blocks given) the matrix widened into a new array.</summary>
    private (WeightTensor Tensor, float[]? Widened, int Rows, int Cols) Fp32(int layer, string name)
    {
        if (model.Fp32 is null)
        {
            StoredMatrix m = StoredMatrix(layer, name) ?? throw new ArgumentException($"No matrix '{name}' in a layer.", nameof(name));
            var values = new float[(long)m.Rows * m.Cols];
            for (int row = 0; row < m.Rows; row++) m.ReadRow(row, values.AsSpan(row * m.Cols, m.Cols));
            return (default, values, m.Rows, m.Cols);
        }
        LlamaWeights weights = model.Fp32;
        ModelConfig c = weights.Config;
        if (layer < 0) return (weights.Classifier, null, c.VocabSize, c.Dim);
        LayerWeights w = weights.Layers[layer];
        var (tensor, rows, cols) = name switch
        {
            "self_attn.q_proj" => (w.Wq, c.QueryDim, c.Dim),
            "self_attn.k_proj" => (w.Wk, c.KvDim, c.Dim),
            "self_attn.v_proj" => (w.Wv, c.KvDim, c.Dim),
            "self_attn.o_proj" => (w.Wo, c.Dim, c.QueryDim),
            "mlp.gate_proj" => (w.W1, c.HiddenDim, c.Dim),
            "mlp.up_proj" => (w.W3, c.HiddenDim, c.Dim),
            "mlp.down_proj" => (w.W2, c.Dim, c.HiddenDim),
            _ => throw new ArgumentException($"No matrix '{name}' in a layer.", nameof(name)),
        };
        return (tensor, null, rows, cols);
    }

    private StoredMatrix? StoredMatrix(int layer, string name)
    {
        if (model.Stored is not { } stored) return null;
        if (layer < 0) return stored.Classifier;
        StoredLayer l = stored.Layers[layer];
        return name switch
        {
            "self_attn.q_proj" => l.Wq, "self_attn.k_proj" => l.Wk, "self_attn.v_proj" => l.Wv, "self_attn.o_proj" => l.Wo,
            "mlp.gate_proj" => l.W1, "mlp.up_proj" => l.W3, "mlp.down_proj" => l.W2,
            _ => null,
        };
    }

    private static unsafe ReadOnlySpan<byte> Bytes(StoredMatrix m) => new(m.Data, checked((int)(m.RowBytes * m.Rows)));

    /// <summary>Matrices (of the same K, bits and blocks) stacked along N: codes, scales and zero points are all per row.</summary>
    private static MatMulNBitsWeights Concatenate(MatMulNBitsWeights[] parts)
    {
        MatMulNBitsWeights first = parts[0];
        return new MatMulNBitsWeights(parts.Sum(p => p.N), first.K, first.Bits, first.BlockSize,
            Join(parts.Select(p => p.Codes)), Join(parts.Select(p => p.Scales)),
            first.ZeroPoints is null ? null : Join(parts.Select(p => p.ZeroPoints!)));
    }

    private static T[] Join<T>(IEnumerable<T[]> arrays)
    {
        var all = arrays.ToArray();
        var joined = new T[all.Sum(a => a.LongLength)];
        long at = 0;
        foreach (T[] a in all)
        {
            Array.Copy(a, 0, joined, at, a.LongLength);
            at += a.LongLength;
        }
        return joined;
    }

    private static byte[] ToHalf(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 2];
        Span<System.Half> halves = MemoryMarshal.Cast<byte, System.Half>(bytes.AsSpan());
        for (int i = 0; i < values.Length; i++) halves[i] = (System.Half)values[i];
        return bytes;
    }
}
