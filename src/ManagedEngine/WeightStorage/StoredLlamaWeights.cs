using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// A LLaMA model's weights as its file stores them (F32, F16, BF16 or a ggml block format per matrix), used in place
/// from the memory map: loading costs no more memory than the file's pages. Norm weights and RoPE factors are fp32.
/// Dispose to release the mapping.
/// </summary>
public sealed class StoredLlamaWeights : IDisposable
{
    private IDisposable? _owner;

    internal StoredLlamaWeights(ModelConfig config, StoredMatrix embedding, IReadOnlyList<StoredLayer> layers, WeightTensor rmsFinal,
        StoredMatrix classifier, IDisposable? owner, string source)
    {
        Config = config;
        Embedding = embedding;
        Layers = layers;
        RmsFinal = rmsFinal;
        Classifier = classifier;
        _owner = owner;
        Source = source;
    }

    /// <summary>The model's shape and settings.</summary>
    public ModelConfig Config { get; }

    /// <summary>Where the weights came from.</summary>
    public string Source { get; }

    internal StoredMatrix Embedding { get; }
    internal IReadOnlyList<StoredLayer> Layers { get; }
    internal WeightTensor RmsFinal { get; }
    internal StoredMatrix Classifier { get; }

    /// <summary>
    /// Whether the q and k projections' rows are in Hugging Face's order (within each head, the first half holds the
    /// rotary pairs' first elements, the second half their second ones) rather than Meta's and GGUF's (pairs adjacent).
    /// Such rows are used as stored, and the forward pass rotates them as they are
    /// (<see cref="Kernels.RopeTable.RotateHalvesIntoPairs"/>).
    /// </summary>
    internal bool RotaryHalves { get; init; }

    /// <summary>
    /// The formats of the matrices as <see cref="Loading.ModelWeightFormat"/> spells them: "Q8_0", or
    /// "mixed (Q4_K 71%, Q6_K 29%)" (shares of the matrices' bytes, largest first).
    /// </summary>
    public string FormatSummary
    {
        get
        {
            var matrices = new List<StoredMatrix> { Embedding };
            foreach (StoredLayer l in Layers) matrices.AddRange(l.Matrices);
            if (!ReferenceEquals(Classifier, Embedding)) matrices.Add(Classifier);
            return Loading.ModelWeightFormat.FromTensors(Loading.ModelFormat.Gguf,
                matrices.Select(m => (m.Format.ToString(), m.RowBytes * m.Rows, 2))).Name;
        }
    }

    /// <summary>Releases the mapping.</summary>
    public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Dispose();
}

/// <summary>One transformer block's stored weights.</summary>
internal sealed record StoredLayer(WeightTensor RmsAttention, StoredMatrix Wq, StoredMatrix Wk, StoredMatrix Wv, StoredMatrix Wo,
    WeightTensor RmsFfn, StoredMatrix W1, StoredMatrix W2, StoredMatrix W3)
{
    public IEnumerable<StoredMatrix> Matrices => [Wq, Wk, Wv, Wo, W1, W2, W3];
}
