using System.Runtime.InteropServices;

namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

/// <summary>
/// Hugging Face's own tokenizers (Rust, through Tokenizers.DotNet) as a second, independent reference on texts
/// beyond llama.cpp's suite. Tokenizers always recognises special tokens in text, so it is compared with
/// <c>parseSpecialTokens: true</c>; its decode skips special tokens, as <c>Decode</c> here does.
/// </summary>
public class TokenizersDotNetReferenceTests
{
    // The package ships its native library for linux-x64 here (see ManagedEngine.Tests.csproj).
    private static bool ReferenceAvailable => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    [Fact]
    public void Llama3_ids_and_text_match_hugging_face_tokenizers()
    {
        if (!ReferenceAvailable) return;
        var reference = new Tokenizers.DotNet.Tokenizer(vocabPath: Llama3Files.TokenizerJson);
        var tok = Llama3Files.Tokenizer;
        var texts = ExtraTexts.All.Concat(Llama3Files.Suite.Select(c => c.Text)).Concat(Generated()).ToList();
        var failures = new List<string>();
        foreach (string text in texts)
        {
            int[] expected = reference.Encode(text).Select(id => (int)id).ToArray();
            int[] actual = tok.Encode(text, addBos: false, addEos: false, parseSpecialTokens: true);
            if (!expected.SequenceEqual(actual))
                failures.Add($"{Llama3SuiteTests.Escape(text)}: expected [{string.Join(' ', expected)}], got [{string.Join(' ', actual)}]");
            else if (reference.Decode(expected.Select(id => (uint)id).ToArray()) != tok.Decode(actual))
                failures.Add($"{Llama3SuiteTests.Escape(text)}: decodes to '{tok.Decode(actual)}', tokenizers says '{reference.Decode(expected.Select(id => (uint)id).ToArray())}'");
        }
        Assert.True(failures.Count == 0, $"{texts.Count - failures.Count}/{texts.Count} texts agree:\n" + string.Join('\n', failures));
    }

    /// <summary>Seeded random mixes of the characters pre-tokenizers treat differently.</summary>
    private static IEnumerable<string> Generated()
    {
        string[] atoms = ["a", "Z", "é", "ſ", "K", "ß", "'s", "'LL", "'", " ", "  ", "\n", "\r\n", "\t", "\u00A0", "\u3000", "7", "42", "١", "²",
            "!", "...", "中", "文", "𠀀", "𝐀", "🦙", "👍🏽", "\u200D", "\u0301", "-", "_", "<|eot_id|>", "<", "|", "Ġ", "▁"];
        var random = new Random(1234);
        for (int i = 0; i < 300; i++)
            yield return string.Concat(Enumerable.Range(0, random.Next(1, 16)).Select(_ => atoms[random.Next(atoms.Length)]));
    }
}
