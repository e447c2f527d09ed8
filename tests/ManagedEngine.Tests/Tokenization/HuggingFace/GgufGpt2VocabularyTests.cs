using System.Text.Json;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tests.Formats.Gguf;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

/// <summary>
/// A GGUF vocabulary with <c>tokenizer.ggml.model = gpt2</c>, written as llama.cpp's converter does from the
/// Llama 3 tokenizer.json (tokens by id, merges as "a b", special added tokens typed CONTROL), loads into a
/// tokenizer that gives the suite's ids through llama.cpp's pre-tokenizer regex for "llama-bpe".
/// </summary>
public class GgufGpt2VocabularyTests
{
    internal static GgufTestWriter Llama3Gguf(string pre)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Llama3Files.TokenizerJson));
        var model = doc.RootElement.GetProperty("model");
        var tokens = new string[128256];
        var types = new int[tokens.Length];
        Array.Fill(types, 1);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject()) tokens[entry.Value.GetInt32()] = entry.Name;
        foreach (var added in doc.RootElement.GetProperty("added_tokens").EnumerateArray())
        {
            int id = added.GetProperty("id").GetInt32();
            tokens[id] = added.GetProperty("content").GetString()!;
            types[id] = 3;
        }
        var merges = model.GetProperty("merges").EnumerateArray().Select(m => m.GetString()!).ToList();
        return new GgufTestWriter()
            .Str("general.architecture", "llama")
            .Str("tokenizer.ggml.model", "gpt2")
            .Str("tokenizer.ggml.pre", pre)
            .Strings("tokenizer.ggml.tokens", tokens)
            .Ints("tokenizer.ggml.token_type", types)
            .Strings("tokenizer.ggml.merges", merges)
            .U32("tokenizer.ggml.bos_token_id", 128000)
            .U32("tokenizer.ggml.eos_token_id", 128009);
    }

    [Fact]
    public void Llama_bpe_gguf_encodes_the_suite_like_the_tokenizer_json()
    {
        using var dir = new TempDir();
        string path = Llama3Gguf("llama-bpe").WriteTo(dir.File("llama3-vocab.gguf"));
        var tok = Assert.IsType<HuggingFaceTokenizer>(TokenizerLoader.Load(path, expectedVocabSize: 128256));
        Assert.True(tok.AddBeginningOfSentence); // llama.cpp adds BOS for the Llama 3 pre-tokenizer
        Assert.Equal(128000, tok.BosId);
        Assert.Equal(128009, tok.EosId);

        var cases = Llama3Files.Suite;
        int passed = cases.Count(c => tok.Encode(c.Text, false, false).SequenceEqual(c.Ids));
        Assert.True(passed == cases.Count, $"{passed}/{cases.Count} suite cases pass");
        foreach (var (text, ids) in cases) Assert.Equal(text, tok.Decode(ids));

        var json = Llama3Files.Tokenizer;
        foreach (string text in ExtraTexts.All)
            Assert.True(json.Encode(text, true, false).SequenceEqual(tok.Encode(text, true, false)), Llama3SuiteTests.Escape(text));
        Assert.Equal([128000, 128009], tok.Encode("<|eot_id|>", true, false, parseSpecialTokens: true));
    }

    [Fact]
    public void Pre_tokenizer_names_select_llama_cpp_regexes()
    {
        using var dir = new TempDir();
        // smollm splits every digit; default splits punctuation runs and groups of three ASCII digits.
        var smollm = GgufTokenizer.Load(Llama3Gguf("smollm").WriteTo(dir.File("smollm.gguf")));
        var llama3 = Llama3Files.Tokenizer;
        Assert.Equal(5, smollm.Encode("12345", false, false).Length);
        Assert.Equal(2, llama3.Encode("12345", false, false).Length);
        Assert.False(smollm.AddBeginningOfSentence);

        var fallback = GgufTokenizer.Load(Llama3Gguf("default").WriteTo(dir.File("default.gguf")));
        Assert.Equal(llama3.Encode("Hello world", false, false), fallback.Encode("Hello world", false, false));

        var ex = Assert.Throws<NotSupportedException>(() => GgufTokenizer.Load(Llama3Gguf("no-such-pre").WriteTo(dir.File("unknown.gguf"))));
        Assert.Contains("'no-such-pre'", ex.Message);
    }

    [Fact]
    public void Merges_naming_unknown_tokens_are_reported()
    {
        using var dir = new TempDir();
        string path = new GgufTestWriter()
            .Str("tokenizer.ggml.model", "gpt2")
            .Strings("tokenizer.ggml.tokens", ["a", "b", "ab"])
            .Strings("tokenizer.ggml.merges", ["a b", "a c"])
            .WriteTo(dir.File("bad-merges.gguf"));
        var ex = Assert.Throws<InvalidDataException>(() => GgufTokenizer.Load(path));
        Assert.Contains("bad-merges.gguf", ex.Message);
        Assert.Contains("'a c'", ex.Message);
    }
}
