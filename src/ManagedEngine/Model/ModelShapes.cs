using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Model;

/// <summary>
/// Named model shapes for synthesizing random-weight checkpoints (<c>mlpipe synth</c>): the shapes
/// of Karpathy's TinyStories models, which cannot be downloaded on every machine but whose speed
/// depends only on their shape.
/// </summary>
public static class ModelShapes
{
    /// <summary>The shape of stories15M: dim 288, hidden 768, 6 layers, 6 heads, vocab 32000, seq 256.</summary>
    public static ModelConfig Stories15M { get; } = Shape(288, 768, 6, 6, 6, 32000, 256);

    /// <summary>The shape of stories42M: dim 512, hidden 1376, 8 layers, 8 heads, vocab 32000, seq 1024.</summary>
    public static ModelConfig Stories42M { get; } = Shape(512, 1376, 8, 8, 8, 32000, 1024);

    /// <summary>The shape of stories110M: dim 768, hidden 2048, 12 layers, 12 heads, vocab 32000, seq 1024.</summary>
    public static ModelConfig Stories110M { get; } = Shape(768, 2048, 12, 12, 12, 32000, 1024);

    private static readonly Dictionary<string, ModelConfig> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["15m"] = Stories15M,
        ["42m"] = Stories42M,
        ["110m"] = Stories110M,
    };

    /// <summary>The known shape names, smallest first: <c>15m</c>, <c>42m</c>, <c>110m</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["15m", "42m", "110m"];

    /// <summary>Looks up a shape by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Names"/>.</exception>
    public static ModelConfig Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return TryGet(name, out var config)
            ? config
            : throw new ArgumentException($"Unknown model shape '{name}'. Known shapes: {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>Looks up a shape by name (case-insensitive); false when it is unknown.</summary>
    public static bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ModelConfig? config) =>
        ByName.TryGetValue(name, out config);

    private static ModelConfig Shape(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen) => new()
    {
        Dim = dim,
        HiddenDim = hidden,
        LayerCount = layers,
        HeadCount = heads,
        KvHeadCount = kvHeads,
        VocabSize = vocab,
        MaxSequenceLength = seqLen,
        SharedClassifier = true,
    };
}
