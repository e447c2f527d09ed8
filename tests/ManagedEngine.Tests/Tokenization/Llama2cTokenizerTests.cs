using System.Text;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

public class Llama2cTokenizerTests
{
    private static readonly Lazy<Llama2cTokenizer> Llama2 = new(() => Llama2cTokenizer.Load(TestPaths.Llama2TokenizerBin, 32000));
    private static readonly Lazy<Llama2cTokenizer> Tok512 = new(() => Llama2cTokenizer.Load(TestPaths.Tok512Bin, 512));

    [Fact]
    public void Loads_vocabularies()
    {
        Assert.Equal(32000, Llama2.Value.VocabularySize);
        Assert.Equal(512, Tok512.Value.VocabularySize);
        Assert.Equal(1, Llama2.Value.BosId);
        Assert.Equal(2, Llama2.Value.EosId);
        Assert.Equal(" the", Encoding.UTF8.GetString(Llama2.Value.GetPiece(278)));
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
        var failures = cases.Where(c => !c.Ids.SequenceEqual(Llama2.Value.Encode(c.Text, false, false)))
            .Select(c => c.Text).ToList();
        Assert.Empty(failures);
    }

    [Fact]
    public void Bos_and_eos_are_optional()
    {
        var tok = Llama2.Value;
        Assert.Empty(tok.Encode("", false, false));
        Assert.Equal([1], tok.Encode("", true, false));
        Assert.Equal([1, 2], tok.Encode("", true, true));
        Assert.Equal([15043, 3186, 2], tok.Encode("Hello world", false, true));
    }

    [Fact]
    public void Tokenizer_api_adds_bos_like_LlamaTokenizer()
    {
        var tok = Llama2.Value;
        Assert.Equal([1, 15043, 3186], tok.EncodeToIds("Hello world"));
        Assert.Equal(3, tok.CountTokens("Hello world"));
        var tokens = tok.EncodeToTokens("Hello world", out _);
        Assert.Equal([1, 15043, 3186], tokens.Select(t => t.Id));
        Assert.Equal(" Hello", tokens[1].Value);
        Assert.Equal((0, 5), tokens[1].Offset.GetOffsetAndLength(11) is var (o, l) ? (o, o + l) : default);
        Assert.Equal((5, 11), tokens[2].Offset.GetOffsetAndLength(11) is var (o2, l2) ? (o2, o2 + l2) : default);
        Assert.Equal([1, 15043], tok.EncodeToIds("Hello world", 2, out _, out int consumed));
        Assert.Equal(5, consumed);
    }

    [Fact]
    public void Decode_round_trips_and_joins_byte_tokens()
    {
        var tok = Llama2.Value;
        foreach (var (text, ids) in TokenizerCases.LlamaCpp("ggml-vocab-llama-spm.gguf"))
        {
            // llama2.c has no whitespace normalisation: decoding gives the text back exactly.
            Assert.Equal(text, tok.Decode(tok.Encode(text, true, true)));
            Assert.Equal(text, tok.Decode(ids));
        }
        Assert.Equal("🦙", tok.Decode(new[] { 0xF0 + 3, 0x9F + 3, 0xA6 + 3, 0x99 + 3 }));
        Assert.Equal("\uFFFDa", tok.Decode(new[] { 0xF0 + 3, 'a' + 3 }));
    }

    [Fact]
    public void GetPieceBytes_follows_run_c_decode()
    {
        var tok = Llama2.Value;
        Assert.Equal(" Hello"u8.ToArray(), tok.GetPieceBytes(5, 15043).ToArray());
        Assert.Equal("Hello"u8.ToArray(), tok.GetPieceBytes(1, 15043).ToArray());
        Assert.Equal(new byte[] { 0x0A }, tok.GetPieceBytes(5, 13).ToArray());
        Assert.Equal(new byte[] { 0xF0 }, tok.GetPieceBytes(1, 0xF0 + 3).ToArray());
        Assert.Equal("\n</s>\n"u8.ToArray(), tok.GetPieceBytes(5, 2).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.GetPieceBytes(1, 32000).ToArray());
    }

    [Fact]
    public void Decode_to_span_reports_whole_ids()
    {
        var tok = Llama2.Value;
        int[] ids = [1, 15043, 3186];
        var buffer = new char[7];
        var status = tok.Decode(ids, buffer, out int used, out int written);
        Assert.Equal(System.Buffers.OperationStatus.DestinationTooSmall, status);
        Assert.Equal(2, used);
        Assert.Equal("Hello", new string(buffer, 0, written));
        buffer = new char[11];
        Assert.Equal(System.Buffers.OperationStatus.Done, tok.Decode(ids, buffer, out used, out written));
        Assert.Equal("Hello world", new string(buffer, 0, written));
        // A character split over byte tokens is not half-reported.
        int[] llama = [0xF0 + 3, 0x9F + 3, 0xA6 + 3, 0x99 + 3];
        Assert.Equal(System.Buffers.OperationStatus.DestinationTooSmall, tok.Decode(llama, new char[1], out used, out written));
        Assert.Equal((0, 0), (used, written));
    }
}
