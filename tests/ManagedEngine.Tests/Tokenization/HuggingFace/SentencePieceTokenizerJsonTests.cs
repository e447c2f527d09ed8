using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

/// <summary>
/// SentencePiece models and llama2.c tokenizer.bin files written as tokenizer.json (for onnxruntime-genai): the file,
/// read by Hugging Face's own tokenizers (Rust, through Tokenizers.DotNet) and by this library's reader, gives the ids
/// the original tokenizer gives — which are checked against sentencepiece and llama2.c elsewhere — and decodes back to
/// the same text.
/// </summary>
public class SentencePieceTokenizerJsonTests
{
    private static bool ReferenceAvailable => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    public static TheoryData<string> Sources => new()
    {
        "stories260K/tok512.model", "stories260K/tok512.bin", "llama2-tokenizer/tokenizer.model", "llama2-tokenizer/tokenizer.bin",
    };

    [Theory]
    [MemberData(nameof(Sources))]
    public void Converted_tokenizer_json_encodes_and_decodes_as_the_original(string source)
    {
        PieceTokenizer original = TokenizerLoader.Load(Path.Combine(TestPaths.Models, source));
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tokenizer.json"), original switch
        {
            SentencePieceModelTokenizer sp => sp.ToTokenizerJson(),
            Llama2cTokenizer bin => bin.ToTokenizerJson(),
            _ => throw new InvalidOperationException(source),
        });
        File.WriteAllBytes(dir.File("tokenizer_config.json"), original switch
        {
            SentencePieceModelTokenizer sp => sp.ToTokenizerConfigJson(),
            Llama2cTokenizer bin => bin.ToTokenizerConfigJson(),
            _ => throw new InvalidOperationException(source),
        });

        var reread = HuggingFaceTokenizer.Load(dir.File("tokenizer.json"));
        Assert.Equal((original.BosId, original.EosId, original.AddBeginningOfSentence, original.VocabularySize),
            (reread.BosId, reread.EosId, reread.AddBeginningOfSentence, reread.VocabularySize));
        var reference = ReferenceAvailable ? new Tokenizers.DotNet.Tokenizer(vocabPath: dir.File("tokenizer.json")) : null;

        // Tokenizers recognises the special tokens' text, the original does not; a typed '▁' is a space to a tokenizer.json
        // (and to SentencePiece) but three bytes to run.c (documented on Llama2cTokenizer.ToTokenizerJson).
        bool runC = original is Llama2cTokenizer;
        var texts = ExtraTexts.All.Concat(Generated())
            .Where(t => !t.Contains("<s>", StringComparison.Ordinal) && !t.Contains("</s>", StringComparison.Ordinal) && !t.Contains("<unk>", StringComparison.Ordinal))
            .Where(t => !runC || !t.Contains('\u2581')).ToList();
        var failures = new List<string>();
        foreach (string text in texts)
        {
            int[] expected = original.Encode(text, addBos: true, addEos: false);
            // A '▁' typed at the start of a text decodes with one space more than SentencePiece's decoder leaves (its
            // tokens are the same): the tokenizer.json decoder strips one leading space only.
            bool typedSpaceSymbol = text.Contains('\u2581');
            int[] mine = reread.Encode(text, addBos: true, addEos: false);
            if (!expected.SequenceEqual(mine))
                failures.Add($"reader: '{text}': expected [{string.Join(' ', expected)}], got [{string.Join(' ', mine)}]");
            else if (!typedSpaceSymbol && reread.Decode(mine) != original.Decode(expected))
                failures.Add($"reader: '{text}' decodes to '{reread.Decode(mine)}', the original to '{original.Decode(expected)}'");
            if (reference is null) continue;
            int[] theirs = reference.Encode(text).Select(id => (int)id).ToArray();   // its post-processor adds BOS
            if (!expected.SequenceEqual(theirs))
                failures.Add($"tokenizers: '{text}': expected [{string.Join(' ', expected)}], got [{string.Join(' ', theirs)}]");
            else if (!typedSpaceSymbol && reference.Decode(theirs.Select(id => (uint)id).ToArray()) != original.Decode(expected))
                failures.Add($"tokenizers: '{text}' decodes to '{reference.Decode(theirs.Select(id => (uint)id).ToArray())}', the original to '{original.Decode(expected)}'");
        }
        Assert.True(failures.Count == 0, $"{source}: {texts.Count} texts, {failures.Count} disagreements:\n" + string.Join('\n', failures.Take(20)));
    }

    [Fact]
    public void Every_split_of_a_piece_into_two_pieces_is_a_merge_ranked_by_the_merged_pieces_score()
    {
        var v = new PieceVocabulary("test", ["<unk>", "a", "b", "c", "ab", "bc", "abc"], [0, -1, -2, -3, -4, -5, -6],
            [PieceKind.Unknown, .. Enumerable.Repeat(PieceKind.Normal, 6)], 0, -1, -1, AddDummyPrefix: true, ByteFallback: false, AddBos: false, AddEos: false);
        Assert.Equal([("a", "b"), ("b", "c"), ("a", "bc"), ("ab", "c")], SentencePieceJsonWriter.Merges(v).ToArray());
    }

    /// <summary>Seeded random mixes of what SentencePiece treats differently: spaces, byte fallback, long words.</summary>
    private static IEnumerable<string> Generated()
    {
        string[] atoms = ["a", "the", "The", " ", "  ", "\n", "\t", "once", "upon", "time", "é", "ß", "中", "文", "🦙", "👍🏽", "\u0301",
            "!", "...", "7", "42", "-", "_", "▁", "<", "s>", "hello", "world", "Lily", "was", "happy"];
        var random = new Random(4321);
        for (int i = 0; i < 300; i++)
            yield return string.Concat(Enumerable.Range(0, random.Next(1, 20)).Select(_ => atoms[random.Next(atoms.Length)]));
    }
}
