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

    /// <summary>
    /// Llama 3.2 1B's shape: dim 2048, hidden 8192, 16 layers, 32 heads, 8 kv heads, vocab 128256, tied, RoPE base 500000
    /// with Llama 3.1's scaling (factor 32, low/high frequency factors 1 and 4, trained context 8192), BOS 128000, EOS
    /// 128001 and end-of-turn ids 128008/128009. The context is 8192 rather than the model's 131072, so a session's KV
    /// cache takes 0.5 GB instead of 8.6 GB (the length can be set when synthesizing). Hugging Face and GGUF forms only:
    /// llama2.c checkpoints cannot record the RoPE settings.
    /// </summary>
    public static ModelConfig Llama3_1B { get; } = Shape(2048, 8192, 16, 32, 8, 128256, 8192) with
    {
        RopeTheta = 500000f,
        RopeScaling = new RopeScaling { Kind = RopeScalingKind.Llama3, Factor = 32f, LowFrequencyFactor = 1f, HighFrequencyFactor = 4f, OriginalMaxPositions = 8192 },
        BosId = 128000,
        EosId = 128001,
        StopIds = new TokenIdList([128008, 128009]),
    };

    private static readonly Dictionary<string, ModelConfig> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["15m"] = Stories15M,
        ["42m"] = Stories42M,
        ["110m"] = Stories110M,
        ["llama3-1b"] = Llama3_1B,
    };

    /// <summary>The known shape names, smallest first: <c>15m</c>, <c>42m</c>, <c>110m</c>, <c>llama3-1b</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["15m", "42m", "110m", "llama3-1b"];

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
