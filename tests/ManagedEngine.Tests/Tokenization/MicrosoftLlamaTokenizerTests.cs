using Microsoft.ML.Tokenizers;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>
/// Why the project has its own SentencePiece encoder: Microsoft.ML.Tokenizers' LlamaTokenizer
/// (2.0.1) is not exact on llama.cpp's suite, while ours is. When a future release passes the
/// whole suite, this test fails, and delegating to the library should be reconsidered.
/// </summary>
public class MicrosoftLlamaTokenizerTests
{
    [Fact]
    public void Library_tokenizer_misses_cases_that_ours_gets_right()
    {
        var cases = TokenizerCases.LlamaCpp("ggml-vocab-llama-spm.gguf");
        LlamaTokenizer library;
        using (var stream = File.OpenRead(TestPaths.Llama2TokenizerModel))
            library = LlamaTokenizer.Create(stream, addBeginOfSentence: false);
        var ours = TokenizerLoader.Load(TestPaths.Llama2TokenizerModel);

        var libraryMisses = cases.Where(c => !library.EncodeToIds(c.Text).SequenceEqual(c.Ids)).Select(c => c.Text).ToList();
        var ourMisses = cases.Where(c => !ours.Encode(c.Text, addBos: false, addEos: false).SequenceEqual(c.Ids)).ToList();

        Assert.Empty(ourMisses);
        Assert.NotEmpty(libraryMisses);
        Assert.Contains(libraryMisses, t => t.Contains("!!!!!!", StringComparison.Ordinal));
    }
}
