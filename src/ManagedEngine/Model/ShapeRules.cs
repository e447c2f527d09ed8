namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// How one checkpoint format names the shape fields and the tensors they size, for <see cref="ShapeRules"/>'s
/// messages; <c>Prefix</c> goes before a field name (llama2.c: "header field ").
/// </summary>
/// <param name="Prefix">Text before a field name.</param>
/// <param name="Dim">The model width.</param>
/// <param name="Hidden">The feed-forward width.</param>
/// <param name="Layers">The layer count.</param>
/// <param name="Heads">The query head count.</param>
/// <param name="KvHeads">The key/value head count.</param>
/// <param name="Vocab">The vocabulary size.</param>
/// <param name="SeqLen">The context length.</param>
/// <param name="EmbeddingTensor">The token embedding tensor.</param>
/// <param name="QueryTensor">A query projection tensor.</param>
/// <param name="GateTensor">A feed-forward gate tensor.</param>
/// <param name="HeadDim">The explicit head size, in formats that can store one.</param>
public sealed record ShapeFieldNames(string Prefix, string Dim, string Hidden, string Layers, string Heads, string KvHeads,
    string Vocab, string SeqLen, string EmbeddingTensor, string QueryTensor, string GateTensor, string HeadDim = "head size");

/// <summary>
/// The shape rules every checkpoint reader applies before sizing anything by a header: each field within
/// the engine's bounds, heads dividing the width (unless the head size is given explicitly), key/value heads
/// dividing the heads, an even head size
/// (RoPE rotates pairs), and no single tensor above <see cref="int.MaxValue"/> floats (weight views are
/// int-sized). Messages name the field as the format names it. Every reader and the exporter apply these, and no
/// other shape rules.
/// </summary>
public static class ShapeRules
{
    /// <summary>The names of <see cref="ModelConfig"/>'s own properties, for checking a configuration built in code.</summary>
    public static ShapeFieldNames ConfigNames { get; } = new("", nameof(ModelConfig.Dim), nameof(ModelConfig.HiddenDim),
        nameof(ModelConfig.LayerCount), nameof(ModelConfig.HeadCount), nameof(ModelConfig.KvHeadCount), nameof(ModelConfig.VocabSize),
        nameof(ModelConfig.MaxSequenceLength), "the token embedding", "wq", "w1", nameof(ModelConfig.HeadDim));

    /// <summary>Null when <paramref name="config"/>'s shape is valid, else a message naming the offending property.</summary>
    public static string? Validate(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Validate(ConfigNames, config.Dim, config.HiddenDim, config.LayerCount, config.HeadCount, config.KvHeadCount,
            config.VocabSize, config.MaxSequenceLength, headDim: config.HasExplicitHeadDim ? config.HeadDim : null);
    }

    /// <summary>
    /// Null when the shape is valid, else a message naming the offending field. <c>shownVocab</c> is the
    /// vocabulary field as stored when it differs from its magnitude (llama2.c's sign marks the classifier).
    /// <c>headDim</c> is an explicitly stored head size (then the query width is <c>heads * headDim</c>, which need not be
    /// <c>dim</c>); null derives it as <c>dim / heads</c>.
    /// </summary>
    public static string? Validate(ShapeFieldNames n, long dim, long hidden, long layers, long heads, long kvHeads,
        long vocab, long seqLen, long? shownVocab = null, long? headDim = null)
    {
        if (headDim is long explicitHeadDim)
            return ValidateExplicitHeadDim(n, dim, hidden, layers, heads, kvHeads, vocab, seqLen, shownVocab, explicitHeadDim);
        return Range(n, n.Dim, dim, ModelLimits.MaxDim)
            ?? Range(n, n.Hidden, hidden, ModelLimits.MaxHiddenDim)
            ?? Range(n, n.Layers, layers, ModelLimits.MaxLayers)
            ?? Range(n, n.Heads, heads, dim, $"{n.Dim} = {dim}")
            ?? (dim % heads != 0 ? $"{n.Prefix}{n.Heads} = {heads} does not divide {n.Dim} = {dim}" : null)
            ?? Range(n, n.KvHeads, kvHeads, heads, $"{n.Heads} = {heads}")
            ?? (heads % kvHeads != 0 ? $"{n.Prefix}{n.KvHeads} = {kvHeads} does not divide {n.Heads} = {heads}" : null)
            ?? (dim / heads % 2 != 0
                ? $"{FieldPair(n)}{n.Dim} = {dim} and {n.Heads} = {heads} give an odd head size {dim / heads}; RoPE rotates pairs, so it must be even"
                : null)
            ?? Range(n, n.Vocab, vocab, ModelLimits.MaxVocab, shownValue: shownVocab)
            ?? Range(n, n.SeqLen, seqLen, ModelLimits.MaxSeqLen)
            ?? TensorSize(n, n.Vocab, vocab, n.Dim, dim, n.EmbeddingTensor)
            ?? TensorSize(n, n.Dim, dim, n.Dim, dim, n.QueryTensor)
            ?? TensorSize(n, n.Hidden, hidden, n.Dim, dim, n.GateTensor);
    }

    private static string? ValidateExplicitHeadDim(ShapeFieldNames n, long dim, long hidden, long layers, long heads, long kvHeads,
        long vocab, long seqLen, long? shownVocab, long headDim)
    {
        return Range(n, n.Dim, dim, ModelLimits.MaxDim)
            ?? Range(n, n.Hidden, hidden, ModelLimits.MaxHiddenDim)
            ?? Range(n, n.Layers, layers, ModelLimits.MaxLayers)
            ?? Range(n, n.Heads, heads, ModelLimits.MaxDim)
            ?? Range(n, n.HeadDim, headDim, ModelLimits.MaxDim)
            ?? (heads * headDim > ModelLimits.MaxDim
                ? $"{FieldPair(n)}{n.Heads} = {heads} and {n.HeadDim} = {headDim} give a query width {heads * headDim} above the supported maximum {ModelLimits.MaxDim}"
                : null)
            ?? Range(n, n.KvHeads, kvHeads, heads, $"{n.Heads} = {heads}")
            ?? (heads % kvHeads != 0 ? $"{n.Prefix}{n.KvHeads} = {kvHeads} does not divide {n.Heads} = {heads}" : null)
            ?? (headDim % 2 != 0 ? $"{n.Prefix}{n.HeadDim} = {headDim} is odd; RoPE rotates pairs, so it must be even" : null)
            ?? Range(n, n.Vocab, vocab, ModelLimits.MaxVocab, shownValue: shownVocab)
            ?? Range(n, n.SeqLen, seqLen, ModelLimits.MaxSeqLen)
            ?? TensorSize(n, n.Vocab, vocab, n.Dim, dim, n.EmbeddingTensor)
            ?? TensorSize(n, n.Hidden, hidden, n.Dim, dim, n.GateTensor);
    }

    // "header field x" becomes "header fields x and y" where a message names two fields.
    private static string FieldPair(ShapeFieldNames n) => n.Prefix.Length == 0 ? "" : n.Prefix.TrimEnd() + "s ";

    private static string? Range(ShapeFieldNames n, string field, long value, long max, string? maxName = null, long? shownValue = null)
    {
        if (value >= 1 && value <= max)
            return null;
        string head = $"{n.Prefix}{field} = {shownValue ?? value}" + (shownValue < 0 ? $" (magnitude {value})" : "");
        if (value < 1)
            return $"{head} must be positive";
        return maxName is null ? $"{head} exceeds the supported maximum {max}" : $"{head} exceeds {maxName}";
    }

    private static string? TensorSize(ShapeFieldNames n, string fieldA, long a, string fieldB, long b, string tensor)
    {
        long floats = a * b; // both factors are bounded above, so this cannot overflow a long
        return floats <= int.MaxValue ? null
            : $"{FieldPair(n)}{fieldA} = {a} and {fieldB} = {b} give {tensor} {floats} floats; at most {int.MaxValue} per tensor are supported";
    }
}
