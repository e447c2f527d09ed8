using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

/// <summary>The committed Llama 3 tokenizer (models/llama3-tokenizer), loaded once for all tests.</summary>
internal static class Llama3Files
{
    public static string Directory => Path.Combine(TestPaths.Models, "llama3-tokenizer");
    public static string TokenizerJson => Path.Combine(Directory, "tokenizer.json");

    private static readonly Lazy<HuggingFaceTokenizer> Shared = new(() => HuggingFaceTokenizer.Load(TokenizerJson));

    public static HuggingFaceTokenizer Tokenizer => Shared.Value;

    /// <summary>llama.cpp's Llama 3 cases (ids without BOS), generated upstream with Hugging Face's tokenizer.</summary>
    public static IReadOnlyList<(string Text, int[] Ids)> Suite => TokenizerCases.LlamaCpp("ggml-vocab-llama-bpe.gguf");
}
