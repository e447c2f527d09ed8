namespace MlPipelines.ManagedEngine.Model;

/// <summary>The weights of one transformer block. Matrices are row-major <c>[out, in]</c> (y = W x).</summary>
public sealed class LayerWeights
{
    /// <summary>RMSNorm weight before attention, <c>[dim]</c>.</summary>
    public required WeightTensor RmsAttention { get; init; }
    /// <summary>Query projection, <c>[queryDim, dim]</c> (<see cref="ModelConfig.QueryDim"/>; usually <c>dim</c>).</summary>
    public required WeightTensor Wq { get; init; }
    /// <summary>Key projection, <c>[kvDim, dim]</c>.</summary>
    public required WeightTensor Wk { get; init; }
    /// <summary>Value projection, <c>[kvDim, dim]</c>.</summary>
    public required WeightTensor Wv { get; init; }
    /// <summary>Attention output projection, <c>[dim, queryDim]</c>.</summary>
    public required WeightTensor Wo { get; init; }
    /// <summary>RMSNorm weight before the feed-forward layer, <c>[dim]</c>.</summary>
    public required WeightTensor RmsFfn { get; init; }
    /// <summary>Gate projection, <c>[hidden, dim]</c>.</summary>
    public required WeightTensor W1 { get; init; }
    /// <summary>Down projection, <c>[dim, hidden]</c>.</summary>
    public required WeightTensor W2 { get; init; }
    /// <summary>Up projection, <c>[hidden, dim]</c>.</summary>
    public required WeightTensor W3 { get; init; }
}

/// <summary>
/// All weights of a LLaMA model in the internal convention (llama2.c / Meta: RoPE rotates
/// adjacent pairs, matrices <c>[out, in]</c>), plus the owner of the memory they live in.
/// Disposing releases that memory; spans taken from the tensors must not outlive it.
/// </summary>
public sealed class LlamaWeights : IDisposable
{
    private IDisposable? _owner;

    /// <summary>Creates a weight set over memory kept alive by <paramref name="owner"/>.</summary>
    public LlamaWeights(ModelConfig config, WeightTensor tokenEmbedding, IReadOnlyList<LayerWeights> layers,
        WeightTensor rmsFinal, WeightTensor classifier, IDisposable? owner, string source)
    {
        Config = config;
        TokenEmbedding = tokenEmbedding;
        Layers = layers;
        RmsFinal = rmsFinal;
        Classifier = classifier;
        _owner = owner;
        Source = source;
    }

    /// <summary>The model's shape and settings.</summary>
    public ModelConfig Config { get; }
    /// <summary>Token embedding table, <c>[vocab, dim]</c>.</summary>
    public WeightTensor TokenEmbedding { get; }
    /// <summary>The transformer blocks in order.</summary>
    public IReadOnlyList<LayerWeights> Layers { get; }
    /// <summary>Final RMSNorm weight, <c>[dim]</c>.</summary>
    public WeightTensor RmsFinal { get; }
    /// <summary>Classifier (output projection), <c>[vocab, dim]</c>; the embedding table when shared.</summary>
    public WeightTensor Classifier { get; }
    /// <summary>Where the weights came from (a file path, or a description), for messages.</summary>
    public string Source { get; }

    /// <summary>Releases the memory the tensors point into.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _owner, null)?.Dispose();
    }
}
