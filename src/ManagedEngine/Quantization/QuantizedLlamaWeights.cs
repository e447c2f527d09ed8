using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Quantization;

/// <summary>The weights of one transformer block with int8 projections; norms stay fp32.</summary>
public sealed class QuantizedLayerWeights
{
    /// <summary>RMSNorm weight before attention, <c>[dim]</c>.</summary>
    public required WeightTensor RmsAttention { get; init; }
    /// <summary>Query projection, <c>[queryDim, dim]</c>.</summary>
    public required Q8Matrix Wq { get; init; }
    /// <summary>Key projection, <c>[kvDim, dim]</c>.</summary>
    public required Q8Matrix Wk { get; init; }
    /// <summary>Value projection, <c>[kvDim, dim]</c>.</summary>
    public required Q8Matrix Wv { get; init; }
    /// <summary>Attention output projection, <c>[dim, dim]</c>.</summary>
    public required Q8Matrix Wo { get; init; }
    /// <summary>RMSNorm weight before the feed-forward layer, <c>[dim]</c>.</summary>
    public required WeightTensor RmsFfn { get; init; }
    /// <summary>Gate projection, <c>[hidden, dim]</c>.</summary>
    public required Q8Matrix W1 { get; init; }
    /// <summary>Down projection, <c>[dim, hidden]</c>.</summary>
    public required Q8Matrix W2 { get; init; }
    /// <summary>Up projection, <c>[hidden, dim]</c>.</summary>
    public required Q8Matrix W3 { get; init; }
}

/// <summary>
/// A LLaMA model whose projections and classifier are int8 (<see cref="Q8Matrix"/>), as runq.c runs it: the
/// RMSNorm weights are fp32 and the token embedding is an fp32 table (dequantised at load when it comes from
/// a quantised file) because a lookup reads one row and gains nothing from int8.
/// Disposing releases the memory (a file mapping) the tensors may point into.
/// </summary>
public sealed class QuantizedLlamaWeights : IDisposable
{
    private IDisposable? _owner;
    private readonly object? _arrays; // pinned arrays behind fp32 views, when this object owns them

    internal QuantizedLlamaWeights(ModelConfig config, WeightTensor tokenEmbedding, IReadOnlyList<QuantizedLayerWeights> layers,
        WeightTensor rmsFinal, Q8Matrix classifier, int? groupSize, IDisposable? owner, object? arrays, string source)
    {
        Config = config;
        TokenEmbedding = tokenEmbedding;
        Layers = layers;
        RmsFinal = rmsFinal;
        Classifier = classifier;
        GroupSize = groupSize;
        _owner = owner;
        _arrays = arrays;
        Source = source;
    }

    /// <summary>The model's shape and settings.</summary>
    public ModelConfig Config { get; }
    /// <summary>Token embedding table in fp32, <c>[vocab, dim]</c>.</summary>
    public WeightTensor TokenEmbedding { get; }
    /// <summary>The transformer blocks in order.</summary>
    public IReadOnlyList<QuantizedLayerWeights> Layers { get; }
    /// <summary>Final RMSNorm weight, <c>[dim]</c>.</summary>
    public WeightTensor RmsFinal { get; }
    /// <summary>Classifier, <c>[vocab, dim]</c> (the quantised embedding table when shared).</summary>
    public Q8Matrix Classifier { get; }
    /// <summary>The group size every matrix uses, or null when it differs between matrices (default choice per row length).</summary>
    public int? GroupSize { get; }
    /// <summary>Where the weights came from, for messages.</summary>
    public string Source { get; }

    /// <summary>
    /// Quantises fp32 weights. With <paramref name="groupSize"/> null each matrix gets
    /// <see cref="Q8Matrix.DefaultGroupSize"/> of its row length; a given size must divide both dim and hidden_dim.
    /// The result owns copies of everything (norms, fp32 embedding table, int8 matrices), so
    /// <paramref name="weights"/> may be disposed afterwards.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="groupSize"/> does not divide a row length.</exception>
    public static QuantizedLlamaWeights FromFp32(LlamaWeights weights, int? groupSize = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ModelConfig c = weights.Config;
        if (groupSize is int g)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(g, nameof(groupSize));
            if (c.Dim % g != 0 || c.HiddenDim % g != 0 || c.QueryDim % g != 0)
                throw new ArgumentException($"Group size {g} must divide dim {c.Dim}, hidden_dim {c.HiddenDim} and the query width {c.QueryDim}.", nameof(groupSize));
        }

        var arrays = new List<float[]>();
        WeightTensor Copy(WeightTensor t)
        {
            float[] a = GC.AllocateUninitializedArray<float>(t.Length, pinned: true);
            t.Span.CopyTo(a);
            arrays.Add(a);
            return View(a);
        }
        Q8Matrix Quantize(WeightTensor t, int rows, int cols) =>
            Q8Matrix.Quantize(t.Span, rows, cols, groupSize ?? Q8Matrix.DefaultGroupSize(cols));

        var layers = new QuantizedLayerWeights[weights.Layers.Count];
        for (int i = 0; i < layers.Length; i++)
        {
            LayerWeights l = weights.Layers[i];
            layers[i] = new QuantizedLayerWeights
            {
                RmsAttention = Copy(l.RmsAttention),
                Wq = Quantize(l.Wq, c.QueryDim, c.Dim),
                Wk = Quantize(l.Wk, c.KvDim, c.Dim),
                Wv = Quantize(l.Wv, c.KvDim, c.Dim),
                Wo = Quantize(l.Wo, c.Dim, c.QueryDim),
                RmsFfn = Copy(l.RmsFfn),
                W1 = Quantize(l.W1, c.HiddenDim, c.Dim),
                W2 = Quantize(l.W2, c.Dim, c.HiddenDim),
                W3 = Quantize(l.W3, c.HiddenDim, c.Dim),
            };
        }
        int? uniform = groupSize ?? (Q8Matrix.DefaultGroupSize(c.Dim) == Q8Matrix.DefaultGroupSize(c.HiddenDim)
            && Q8Matrix.DefaultGroupSize(c.Dim) == Q8Matrix.DefaultGroupSize(c.QueryDim) ? Q8Matrix.DefaultGroupSize(c.Dim) : null);
        return new QuantizedLlamaWeights(c, Copy(weights.TokenEmbedding), layers, Copy(weights.RmsFinal),
            Quantize(weights.Classifier, c.VocabSize, c.Dim), uniform, owner: null, arrays, $"{weights.Source} (quantised to Q8_0)");
    }

    /// <summary>An fp32 view of a pinned array (the pinned object heap never moves it).</summary>
    internal static unsafe WeightTensor View(float[] pinned) =>
        new((float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned)), pinned.Length);

    /// <summary>Releases the memory the tensors point into.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _owner, null)?.Dispose();
        GC.KeepAlive(_arrays);
    }
}
