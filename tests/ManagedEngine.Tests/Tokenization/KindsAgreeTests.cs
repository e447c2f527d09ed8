using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>tok512.bin (llama2.c) and tok512.model (sentencepiece) are the same vocabulary.</summary>
public class KindsAgreeTests
{
    private static readonly Lazy<Llama2cTokenizer> Bin = new(() => Llama2cTokenizer.Load(TestPaths.Tok512Bin, 512));
    private static readonly Lazy<SentencePieceModelTokenizer> Model = new(() => SentencePieceModelTokenizer.Load(TestPaths.Tok512Model, 512));

    /// <summary>Texts without leading/trailing spaces or runs of spaces, where remove_extra_whitespaces changes nothing.</summary>
    public static TheoryData<string> Corpus() => new(
        "",
        "a",
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun.",
        "Hello, world! 1234567890 + 3.14 = ?",
        "line one\nline two\n\nline four",
        "tabs\tare\tnot spaces",
        "naïve café, déjà vu, Straße, Ñandú",
        "日本語と中文",
        "emoji 😀 and 🦙 and 👍🏽",
        "quotes 'single' and \"double\" (parens) [brackets] {braces}",
        "!!!!!! ...... ------",
        string.Join(" ", Enumerable.Repeat("The cat sat on the mat and the dog ran to the park.", 40)),
        "ends with newline\n");

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Agree_without_whitespace_runs(string text)
    {
        Assert.Equal(Bin.Value.Encode(text, true, true), Model.Value.Encode(text, true, true));
        Assert.Equal(Bin.Value.Decode(Bin.Value.Encode(text, true, false)), Model.Value.Decode(Model.Value.Encode(text, true, false)));
    }

    [Theory]
    [InlineData("a  b", "a b")]
    [InlineData(" a b", "a b")]
    [InlineData("a b ", "a b")]
    [InlineData("  Once   upon  a time  ", "Once upon a time")]
    public void Differ_exactly_where_remove_extra_whitespaces_applies(string text, string collapsed)
    {
        Assert.Equal(Model.Value.Encode(collapsed, true, false), Model.Value.Encode(text, true, false));
        Assert.Equal(Bin.Value.Encode(collapsed, true, false), Model.Value.Encode(text, true, false));
        Assert.NotEqual(Bin.Value.Encode(collapsed, true, false), Bin.Value.Encode(text, true, false));
        Assert.Equal(text, Bin.Value.Decode(Bin.Value.Encode(text, true, false)));
    }

    [Fact]
    public void A_literal_space_symbol_in_the_text_is_where_the_kinds_part()
    {
        // sentencepiece cannot tell a '▁' in the text from an escaped space; llama2.c's pieces hold
        // real spaces, so to it '▁' is an unknown character spelled with byte tokens.
        int[] bin = Bin.Value.Encode("\u2581a", false, false);
        Assert.Equal([0xE2 + 3, 0x96 + 3, 0x81 + 3], bin[1..4]);
        Assert.DoesNotContain(Model.Value.Encode("\u2581a", false, false), id => id is >= 3 and < 259);
    }

    [Fact]
    public void Both_kinds_behave_alike_through_the_Tokenizer_type()
    {
        Microsoft.ML.Tokenizers.Tokenizer[] kinds = [Bin.Value, Model.Value];
        foreach (var tok in kinds)
        {
            Assert.Equal([1], tok.EncodeToIds(""));
            Assert.Equal(1, tok.EncodeToIds("Once upon a time")[0]);
            Assert.Equal("Once upon a time", tok.Decode(tok.EncodeToIds("Once upon a time")));
        }
        Assert.Equal(kinds[0].EncodeToIds("Once upon a time"), kinds[1].EncodeToIds("Once upon a time"));
        foreach (var tok in kinds)
        {
            // The base class's truncation helpers work on top of the offsets.
            Assert.Equal(3, tok.EncodeToIds("Once upon a time", 3, out _, out int consumed).Count);
            Assert.Equal(tok.EncodeToTokens("Once upon a time", out _)[2].Offset.End.Value, consumed);
            int index = tok.GetIndexByTokenCount("Once upon a time", 3, out _, out int count);
            Assert.Equal((consumed, 3), (index, count));
        }
    }
}
