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

    /// <summary>
    /// A GGUF gpt2 vocabulary (built as llama.cpp's converter builds it) written back out as tokenizer.json: Hugging Face's
    /// tokenizers reads that file and gives llama.cpp's suite ids, as does this library's reader, with BOS named by the
    /// tokenizer_config.json written beside it.
    /// </summary>
    [Fact]
    public void Tokenizer_json_written_from_a_gguf_vocabulary_encodes_like_llama_cpp_in_hugging_face_tokenizers()
    {
        using var dir = new MlPipelines.Tests.Support.TempDir();
        string gguf = GgufGpt2VocabularyTests.Llama3Gguf("llama-bpe").WriteTo(dir.File("vocab.gguf"));
        var fromGguf = Assert.IsType<MlPipelines.ManagedEngine.Tokenization.HuggingFace.HuggingFaceTokenizer>(
            MlPipelines.ManagedEngine.Formats.Gguf.GgufTokenizer.Load(gguf));
        File.WriteAllBytes(dir.File("tokenizer.json"), fromGguf.ToTokenizerJson());
        File.WriteAllBytes(dir.File("tokenizer_config.json"), fromGguf.ToTokenizerConfigJson("{{ bos_token }}"));

        var reread = MlPipelines.ManagedEngine.Tokenization.HuggingFace.HuggingFaceTokenizer.Load(dir.File("tokenizer.json"));
        Assert.Equal((128000, 128009, true), (reread.BosId, reread.EosId, reread.AddBeginningOfSentence));
        var suite = Llama3Files.Suite;
        Assert.All(suite, c => Assert.Equal(c.Ids, reread.Encode(c.Text, false, false)));
        Assert.Equal("{{ bos_token }}", MlPipelines.ManagedEngine.Chat.ChatFormat.FromDirectory(dir.Path)!.Template.Source);

        if (!ReferenceAvailable) return;
        var reference = new Tokenizers.DotNet.Tokenizer(vocabPath: dir.File("tokenizer.json"));
        foreach (var (text, ids) in suite)
            Assert.Equal([128000, .. ids], reference.Encode(text).Select(id => (int)id).ToArray());   // its post-processor adds BOS
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
