using MlPipelines.Fuzz.Targets;

namespace MlPipelines.Fuzz;

/// <summary>Every target, one per parser a user's file reaches.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new GgufModelTarget(), new GgufTokenizerTarget(), new SafetensorsTarget(), new HuggingFaceConfigTarget(),
        new SentencePieceTarget(), new Llama2cTokenizerTarget(), new TokenizerJsonTarget(), new Llama2cTarget(),
        new Llama2cQ80Target(), new OnnxExportTarget(), new GenAiConfigTarget(), new PipelineTarget(), new EmbedProgressTarget(), new ChatTemplateTarget(),
    ];

    /// <summary>The target named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No target has that name.</exception>
    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"No fuzz target '{name}'; the targets are {string.Join(", ", All.Select(t => t.Name))}.", nameof(name));
}
