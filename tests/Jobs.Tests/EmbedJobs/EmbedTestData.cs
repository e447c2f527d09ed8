using System.Text;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;

namespace MlPipelines.Jobs.Tests.EmbedJobs;

/// <summary>The default model loaded once for the embed tests, and inputs to embed.</summary>
public sealed class StoriesModelFixture : IDisposable
{
    public StoriesModelFixture() => Loaded = LanguageModels.Open(TestPaths.Stories260K, TestPaths.Tok512Bin, EngineKind.Managed);

    public LoadedModel Loaded { get; }

    public Embedder Embedder(EmbeddingOptions? options = null) => new(Loaded.Model, Loaded.Tokenizer, options);

    public void Dispose() => Loaded.Dispose();
}

internal static class EmbedTestData
{
    private static readonly string[] Words =
        "once upon a time there was a little girl named lily she loved to play with her toy cat and dog in the park".Split(' ');

    /// <summary>Deterministic short story-like lines (1–8 words), some with commas and quotes.</summary>
    public static List<string> Lines(int count, int seed = 1)
    {
        var random = new Random(seed);
        var lines = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            var sb = new StringBuilder();
            int words = random.Next(1, 9);
            for (int w = 0; w < words; w++)
                sb.Append(w == 0 ? "" : " ").Append(Words[random.Next(Words.Length)]);
            if (i % 7 == 3) sb.Append(", \"she said\"");
            lines.Add(sb.ToString());
        }
        return lines;
    }

    public static string WriteTextFile(TempDir dir, string name, IEnumerable<string> lines)
    {
        string path = dir.File(name);
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }
}
