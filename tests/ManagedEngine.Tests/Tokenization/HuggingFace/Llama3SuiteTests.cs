using System.Text;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

/// <summary>The Llama 3 tokenizer.json against llama.cpp's Llama 3 vocabulary suite, every case.</summary>
public class Llama3SuiteTests
{
    [Fact]
    public void Encodes_every_case_of_the_llama_bpe_suite()
    {
        var tok = Llama3Files.Tokenizer;
        var failures = new List<string>();
        var cases = Llama3Files.Suite;
        foreach (var (text, expected) in cases)
        {
            int[] actual = tok.Encode(text, addBos: false, addEos: false);
            if (!actual.SequenceEqual(expected))
                failures.Add($"{Escape(text)}: expected [{string.Join(' ', expected)}], got [{string.Join(' ', actual)}]");
        }
        Assert.True(failures.Count == 0, $"{cases.Count - failures.Count}/{cases.Count} cases pass:\n" + string.Join('\n', failures));
        Assert.True(cases.Count >= 40);
    }

    [Fact]
    public void Decoding_each_case_gives_back_its_text()
    {
        var tok = Llama3Files.Tokenizer;
        foreach (var (text, ids) in Llama3Files.Suite)
            Assert.Equal(text, tok.Decode(ids));
    }

    [Fact]
    public void Piece_bytes_concatenate_to_the_utf8_of_each_case()
    {
        var tok = Llama3Files.Tokenizer;
        foreach (var (text, ids) in Llama3Files.Suite)
        {
            var bytes = new List<byte>();
            int previous = tok.BosId;
            foreach (int id in ids)
            {
                bytes.AddRange(tok.GetPieceBytes(previous, id).ToArray());
                previous = id;
            }
            Assert.Equal(Encoding.UTF8.GetBytes(text), bytes.ToArray());
        }
    }

    [Fact]
    public void Emoji_and_cjk_split_across_tokens_print_partial_utf8_that_joins_up()
    {
        var tok = Llama3Files.Tokenizer;
        int partial = 0;
        foreach (string text in new[] { "🦙🦙 llamas", "生成式人工智能", "👨‍👩‍👧 family", "𠀀𝐀 rare planes", "ឃើញថា" })
        {
            int[] ids = tok.Encode(text, addBos: false, addEos: false);
            var pieces = ids.Select(id => tok.GetPieceBytes(tok.BosId, id).ToArray()).ToList();
            Assert.Equal(Encoding.UTF8.GetBytes(text), pieces.SelectMany(p => p).ToArray());
            partial += pieces.Count(p => !IsCompleteUtf8(p));
            Assert.Equal(text, tok.Decode(ids));
        }
        // Some tokens end inside a character: streaming callers must hold such bytes back.
        Assert.True(partial > 0);
    }

    private static bool IsCompleteUtf8(byte[] bytes) => System.Text.Unicode.Utf8.IsValid(bytes);

    internal static string Escape(string s) => s.Replace("\n", "\\n").Replace("\t", "\\t").Replace("\r", "\\r");
}
