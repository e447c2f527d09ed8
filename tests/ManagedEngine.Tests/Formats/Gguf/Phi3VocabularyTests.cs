using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Tests.Tokenization;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Gguf;

/// <summary>
/// llama.cpp's vocabulary-only Phi-3 GGUF: another SentencePiece vocabulary, converted from Hugging
/// Face files, where &lt;unk&gt; is typed control, &lt;/s&gt; user-defined and EOS is 32000.
/// </summary>
public class Phi3VocabularyTests
{
    private static string Phi3 => Path.Combine(TestPaths.Golden, "llama.cpp-vocab", "ggml-vocab-phi-3.gguf");

    [Fact]
    public void LlamaCpp_suite_matches_all_cases()
    {
        PieceTokenizer tok = GgufTokenizer.Load(Phi3);
        Assert.Equal((32064, 1, 32000), (tok.VocabularySize, tok.BosId, tok.EosId));
        var cases = TokenizerCases.LlamaCpp("ggml-vocab-phi-3.gguf");
        Assert.NotEmpty(cases);
        foreach (var (text, ids) in cases)
        {
            int[] actual = tok.Encode(text, false, false);
            Assert.True(ids.SequenceEqual(actual), $"\"{text}\" → [{string.Join(' ', ids)}], got [{string.Join(' ', actual)}]");
        }
    }

    [Fact]
    public void Unknown_id_names_the_unknown_piece_although_the_file_types_it_control()
    {
        var tok = Assert.IsType<SentencePieceModelTokenizer>(GgufTokenizer.Load(Phi3));
        Assert.Equal(0, tok.UnknownId);
        Assert.Equal("<unk>", tok.GetPiece(0));
        Assert.Equal(" \u2047 ", tok.Decode([0])); // sentencepiece's unk surface, not the empty text of a control piece
    }
}
