using System.Text;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization;

/// <summary>The heap-based merge gives exactly what run.c's O(n²) loop gives.</summary>
public class MergeEquivalenceTests
{
    private static readonly string[] Alphabet =
    [
        "a", "b", "c", "e", "t", "h", "o", "n", " ", " ", " ", "!", ".", ",", "\n", "\t", "3", "0",
        "é", "ß", "中", "文", "😀", "🦙", "\u2581", "ж", "\uFFFD", "\u00a0",
    ];

    private static string RandomText(Random rng, int maxLength)
    {
        var text = new StringBuilder();
        int length = rng.Next(0, maxLength + 1);
        for (int i = 0; i < length; i++) text.Append(Alphabet[rng.Next(Alphabet.Length)]);
        return text.ToString();
    }

    private static IEnumerable<string> Corpus() =>
        TokenizerCases.LlamaCpp("ggml-vocab-llama-spm.gguf").Select(c => c.Text)
            .Concat(TokenizerCases.Llama2Vectors().Select(v => v.Text))
            .Concat(SentencePieceVariants.EncodeCases("llama2").Select(c => c.Text));

    [Theory]
    [InlineData("tok512")]
    [InlineData("llama2")]
    public void Equals_naive_run_c_on_random_strings_and_corpora(string which)
    {
        var tok = Llama2cTokenizer.Load(which == "tok512" ? TestPaths.Tok512Bin : TestPaths.Llama2TokenizerBin);
        var naive = new NaiveRunCEncoder(tok);
        var rng = new Random(1234);
        var texts = Corpus().Concat(Enumerable.Range(0, 400).Select(_ => RandomText(rng, 60)));
        int count = 0;
        foreach (string text in texts)
        {
            bool bos = count % 2 == 0, eos = count % 3 == 0;
            Assert.Equal(naive.Encode(text, bos, eos), tok.Encode(text, bos, eos));
            count++;
        }
        Assert.True(count > 500);
    }

    [Fact]
    public void Equals_naive_run_c_when_scores_tie_everywhere()
    {
        // Every piece of length 2 and 3 over a tiny alphabet, with scores from {0, -1}: ties everywhere,
        // and merges whose order decides which pieces can form at all.
        string[] chars = ["a", "b", " ", "é"];
        var rng = new Random(99);
        var pieces = new List<(string, float)>();
        foreach (string x in chars) pieces.Add((x, -5));
        foreach (string x in chars)
            foreach (string y in chars)
            {
                pieces.Add((x + y, rng.Next(2) * -1f));
                foreach (string z in chars)
                    if (rng.Next(3) == 0) pieces.Add((x + y + z, rng.Next(2) * -1f));
            }
        using var dir = new TempDir();
        string path = dir.File("tokenizer.bin");
        File.WriteAllBytes(path, TokenizerFileWriter.TokenizerBin(TokenizerFileWriter.WithSpecials(pieces)));
        var tok = Llama2cTokenizer.Load(path);
        var naive = new NaiveRunCEncoder(tok);
        for (int i = 0; i < 2000; i++)
        {
            var text = new StringBuilder();
            int length = rng.Next(0, 30);
            for (int k = 0; k < length; k++) text.Append(rng.Next(10) == 0 ? "z" : chars[rng.Next(chars.Length)]);
            Assert.Equal(naive.Encode(text.ToString(), true, false), tok.Encode(text.ToString(), true, false));
        }
    }

    [Fact]
    public void Long_input_is_fast()
    {
        var tok = Llama2cTokenizer.Load(TestPaths.Llama2TokenizerBin);
        string text = string.Concat(Enumerable.Repeat("Once upon a time, there was a little llama 🦙 who liked 3333 things!!! ", 2000));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int[] ids = tok.Encode(text, true, false);
        watch.Stop();
        Assert.Equal(text, tok.Decode(ids));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }
}
