using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Formats;

/// <summary>
/// Hugging Face and GGUF models on both engines: the ONNX engine exports them through the export cache
/// (the exporter reads the same internal model), and greedy generation must agree token for token.
/// </summary>
public sealed class ModelFormatsOnBothEnginesTests : IDisposable
{
    private static string TinyGguf => Path.Combine(TestPaths.Models, "tiny-random-gguf", "llama-2-tiny-random.gguf");
    private static string Stories260KHf => Path.Combine(TestPaths.Models, "stories260K-hf");

    private readonly TempDir _cache = new();

    public void Dispose() => _cache.Dispose();

    [Fact]
    public void Tiny_random_gguf_generates_the_same_greedy_tokens_on_both_engines()
    {
        // Random weights: the text is noise, but both engines must pick the same argmax at every step.
        int[] managed = Greedy(TinyGguf, null, EngineKind.Managed, "Once upon a time", 40);
        int[] onnx = Greedy(TinyGguf, null, EngineKind.Onnx, "Once upon a time", 40);
        Assert.Equal(managed, onnx);
        Assert.True(managed.Length > 10, $"only {managed.Length} tokens");

        // The export carries the GGUF's tokenizer as a SentencePiece tokenizer.model, not a copy of the GGUF.
        string export = Directory.GetDirectories(Path.Combine(_cache.Path, "onnx")).Single();
        Assert.True(File.Exists(Path.Combine(export, "tokenizer.model")));
        Assert.Empty(Directory.GetFiles(export, "*.gguf"));
    }

    [Fact]
    public void Hugging_Face_stories260K_generates_the_golden_story_on_both_engines()
    {
        int[] golden = File.ReadAllText(Path.Combine(TestPaths.Golden, "greedy_bos_256.ids"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        Assert.Equal(golden, Greedy(Stories260KHf, TestPaths.Tok512Model, EngineKind.Managed, "", 256));
        Assert.Equal(golden, Greedy(Stories260KHf, TestPaths.Tok512Model, EngineKind.Onnx, "", 256));
    }

    private int[] Greedy(string model, string? tokenizer, EngineKind engine, string prompt, int steps)
    {
        using var loaded = LanguageModels.Open(model, tokenizer, engine, new EngineOptions { Threads = 1 }, _cache.Path);
        using var session = loaded.Model.CreateSession();
        int[] promptIds = loaded.Tokenizer.Encode(prompt, addBos: true, addEos: false);
        var greedy = new GenerationOptions { MaxSteps = steps, Sampling = new SamplingOptions { Temperature = 0 } };
        return Generator.Generate(session, promptIds, greedy).Select(t => t.Id).ToArray();
    }
}
