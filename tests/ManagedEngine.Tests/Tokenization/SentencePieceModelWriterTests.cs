using System.Text.Json;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>
/// A tokenizer written back as a SentencePiece .model (how a GGUF vocabulary travels with an ONNX export)
/// encodes and decodes exactly as the tokenizer it came from.
/// </summary>
public class SentencePieceModelWriterTests
{
    private static string TinyGgufPath => Path.Combine(TestPaths.Models, "tiny-random-gguf", "llama-2-tiny-random.gguf");

    public static TheoryData<string> Sources => new() { TestPaths.Llama2TokenizerModel, TestPaths.Tok512Model, TinyGgufPath };

    [Theory]
    [MemberData(nameof(Sources))]
    public void A_rewritten_model_encodes_and_decodes_as_the_original(string source)
    {
        var original = (SentencePieceModelTokenizer)TokenizerLoader.Load(source);
        using var dir = new TempDir();
        string path = dir.File("tokenizer.model");
        File.WriteAllBytes(path, original.ToModelBytes());
        var rewritten = TokenizerLoader.Load(path);

        Assert.Equal(original.VocabularySize, rewritten.VocabularySize);
        Assert.Equal((original.BosId, original.EosId), (rewritten.BosId, rewritten.EosId));
        for (int id = 0; id < original.VocabularySize; id++)
            Assert.Equal(original.GetPieceBytes(0, id).ToArray(), rewritten.GetPieceBytes(0, id).ToArray());
        foreach (string text in Texts())
        {
            int[] ids = original.Encode(text, addBos: true, addEos: false);
            Assert.Equal(ids, rewritten.Encode(text, addBos: true, addEos: false));
            Assert.Equal(original.Decode(ids), rewritten.Decode(ids));
        }
    }

    [Fact]
    public void The_gguf_vocabulary_rewritten_gives_the_llama2_vectors()
    {
        var rewritten = Rewrite(TinyGgufPath);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Golden, "llama2_tokenizer_vectors.json")));
        int checkedCases = 0;
        foreach (var (text, ids) in Vectors(doc.RootElement))
        {
            Assert.Equal(ids, rewritten.Encode(text, addBos: true, addEos: false));
            checkedCases++;
        }
        Assert.True(checkedCases > 0, "no vectors were read");
    }

    private static PieceTokenizer Rewrite(string source)
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.model");
        File.WriteAllBytes(path, ((SentencePieceModelTokenizer)TokenizerLoader.Load(source)).ToModelBytes());
        return TokenizerLoader.Load(path);
    }

    private static IEnumerable<string> Texts() =>
    [
        "", " ", "Hello world", "  two  spaces  ", "Once upon a time, there was a little girl named Lily.",
        "naïve café — 東京 🦙", "\t tabs\nand\nnewlines ", "!!!!!!", "<s> looks special but is text", "1234567890",
    ];

    // The vectors file: either [{"text": ..., "ids": [...]}, ...] or an object whose values hold such pairs.
    private static IEnumerable<(string Text, int[] Ids)> Vectors(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in e.EnumerateArray())
                foreach (var v in Vectors(item)) yield return v;
        }
        else if (e.ValueKind == JsonValueKind.Object)
        {
            if (e.TryGetProperty("text", out var text) && e.TryGetProperty("ids", out var ids))
                yield return (text.GetString()!, ids.EnumerateArray().Select(i => i.GetInt32()).ToArray());
            else
                foreach (var p in e.EnumerateObject())
                    foreach (var v in Vectors(p.Value)) yield return v;
        }
    }
}
