using System.Buffers;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

public class SentencePieceModelTokenizerTests
{
    private static readonly Lazy<SentencePieceModelTokenizer> Llama2 = new(() => SentencePieceModelTokenizer.Load(TestPaths.Llama2TokenizerModel, 32000));
    private static readonly Lazy<SentencePieceModelTokenizer> Tok512 = new(() => SentencePieceModelTokenizer.Load(TestPaths.Tok512Model, 512));

    [Fact]
    public void Reads_settings_from_the_files()
    {
        var llama = Llama2.Value;
        Assert.Equal((32000, 1, 2, 0), (llama.VocabularySize, llama.BosId, llama.EosId, llama.UnknownId));
        Assert.Equal("identity", llama.NormalizerName);
        Assert.True(llama.AddDummyPrefix);
        Assert.False(llama.RemoveExtraWhitespaces);
        Assert.True(llama.ByteFallback);
        var tok = Tok512.Value;
        Assert.Equal(512, tok.VocabularySize);
        Assert.Equal("identity", tok.NormalizerName);
        Assert.True(tok.RemoveExtraWhitespaces);
        Assert.Equal("▁the", llama.GetPiece(278));
    }

    [Fact]
    public void Llama2_vectors_match()
    {
        foreach (var (text, ids) in TokenizerCases.Llama2Vectors())
            Assert.Equal(ids, Llama2.Value.Encode(text, addBos: true, addEos: false));
    }

    [Fact]
    public void LlamaCpp_suite_matches_all_cases()
    {
        var cases = TokenizerCases.LlamaCpp("ggml-vocab-llama-spm.gguf");
        Assert.Equal(46, cases.Count);
        var failures = cases.Where(c => !c.Ids.SequenceEqual(Llama2.Value.Encode(c.Text, false, false))).Select(c => c.Text).ToList();
        Assert.Empty(failures);
    }

    public static TheoryData<string> Variants() => new(SentencePieceVariants.Names);

    [Theory]
    [MemberData(nameof(Variants))]
    public void Encodes_as_sentencepiece(string variant)
    {
        var tok = SentencePieceVariants.Load(variant);
        int count = 0;
        foreach (var (text, ids) in SentencePieceVariants.EncodeCases(variant))
        {
            Assert.True(ids.SequenceEqual(tok.Encode(text, false, false)), $"{variant}: \"{text}\" → [{string.Join(' ', ids)}], got [{string.Join(' ', tok.Encode(text, false, false))}]");
            count++;
        }
        Assert.True(count > 200);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Decodes_as_sentencepiece(string variant)
    {
        var tok = SentencePieceVariants.Load(variant);
        foreach (var (ids, text) in SentencePieceVariants.DecodeCases(variant))
            Assert.True(text == tok.Decode(ids), $"{variant}: [{string.Join(' ', ids)}] → \"{text}\", got \"{tok.Decode(ids)}\"");
    }

    [Fact]
    public void Decoding_drops_only_the_first_leading_space_like_sentencepiece_0_2()
    {
        // encode(" Hello") = ▁ ▁Hello: current sentencepiece gives the text back.
        var tok = Llama2.Value;
        int[] ids = tok.Encode(" Hello", false, false);
        Assert.Equal([29871, 15043], ids);
        Assert.Equal(" Hello", tok.Decode(ids));
        Assert.Equal("Hello", tok.Decode([1, 15043]));
    }

    [Fact]
    public void Remove_extra_whitespaces_follows_each_file()
    {
        var tok = Tok512.Value;
        Assert.Equal(tok.Encode("a b", false, false), tok.Encode("a  b", false, false));
        Assert.Equal(tok.Encode("a b", false, false), tok.Encode("  a b   ", false, false));
        var llama = Llama2.Value;
        Assert.NotEqual(llama.Encode("a b", false, false), llama.Encode("a  b", false, false));
    }

    [Fact]
    public void Round_trips()
    {
        foreach (var (text, _) in TokenizerCases.LlamaCpp("ggml-vocab-llama-spm.gguf"))
            Assert.Equal(text, Llama2.Value.Decode(Llama2.Value.Encode(text, true, true)));
        Assert.Equal("a b c", Tok512.Value.Decode(Tok512.Value.Encode("  a   b c ", true, false)));
    }

    [Fact]
    public void GetPieceBytes_matches_the_exported_tokenizer_bin()
    {
        foreach (var (model, bin) in new[] { (TestPaths.Tok512Model, TestPaths.Tok512Bin), (TestPaths.Llama2TokenizerModel, TestPaths.Llama2TokenizerBin) })
        {
            var sp = SentencePieceModelTokenizer.Load(model);
            var c = Llama2cTokenizer.Load(bin);
            Assert.Equal(c.VocabularySize, sp.VocabularySize);
            for (int id = 0; id < sp.VocabularySize; id++)
                foreach (int previous in new[] { 1, 2, 100 })
                    Assert.True(c.GetPieceBytes(previous, id).SequenceEqual(sp.GetPieceBytes(previous, id)), $"{model} id {id} after {previous}");
        }
        Assert.Equal("Hello"u8.ToArray(), Llama2.Value.GetPieceBytes(1, 15043).ToArray());
        Assert.Equal(" Hello"u8.ToArray(), Llama2.Value.GetPieceBytes(3186, 15043).ToArray());
        Assert.Equal(new byte[] { 0x0A }, Llama2.Value.GetPieceBytes(1, 13).ToArray());
    }

    [Fact]
    public void Tokenizer_api_adds_bos_and_reports_offsets()
    {
        var tok = Tok512.Value;
        string text = "  a   b ";
        var tokens = tok.EncodeToTokens(text, out _);
        Assert.Equal(1, tokens[0].Id);
        Assert.Equal(tok.Encode(text, true, false), tokens.Select(t => t.Id));
        Assert.Equal(tok.Encode(text, true, false), tok.EncodeToIds(text));
        Assert.Equal(tokens.Count, tok.CountTokens(text));
        // "▁a" covers the 'a' (its dummy space has no source); "▁b" the run of spaces (kept as its
        // first space) and 'b'.
        Assert.Equal((2, 3), (tokens[1].Offset.Start.Value, tokens[1].Offset.End.Value));
        Assert.Equal((3, 7), (tokens[2].Offset.Start.Value, tokens[2].Offset.End.Value));
    }

    [Fact]
    public void Decode_to_span_reports_whole_ids()
    {
        var tok = Llama2.Value;
        int[] ids = [1, 15043, 3186, 2];
        var buffer = new char[6];
        Assert.Equal(OperationStatus.DestinationTooSmall, tok.Decode(ids, buffer, out int used, out int written));
        Assert.Equal((2, "Hello"), (used, new string(buffer, 0, written)));
        buffer = new char[20];
        Assert.Equal(OperationStatus.Done, tok.Decode(ids, buffer, out used, out written));
        Assert.Equal((4, "Hello world"), (used, new string(buffer, 0, written)));
    }
}
