using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Tokenization.HuggingFace;

/// <summary>Malformed or hostile tokenizer.json files: an InvalidDataException naming the file, never a crash or a huge allocation.</summary>
public class HostileTokenizerJsonTests
{
    private const string Model = """{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}""";

    public static TheoryData<string, string> Cases() => new()
    {
        { "", "" },
        { "{\"model\":", "" },
        { "[1,2,3]", "expected an object" },
        { "{}", "$.model is missing" },
        { "{\"model\": 5}", "$.model is the number 5" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":[\"a\"]}}", "$.model.vocab is an array" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":\"zero\"}}}", "expected an integer" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":2147483647}}}", "is 2147483647" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":1e300}}}", "expected an integer" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":-1}}}", "is -1" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0}}}", "which 'a' has too" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a c\"]}}", "names 'c', which is not in the vocabulary" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}", "merges into 'ab'" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"ab\"]}}", "two tokens separated by one space" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[[\"a\",7]]}}", "$.model.merges[0][1] is the number 7" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":{}}}", "$.model.merges is an object" },
        { "{\"model\": {\"type\":\"BPE\",\"vocab\":{\"a\":0},\"unk_token\":\"<unk>\"}}", "unk_token" },
        { "{\"model\": " + Model + ", \"added_tokens\":[{\"id\":99999999,\"content\":\"<x>\"}]}", "beyond the 4 tokens" },
        { "{\"model\": " + Model + ", \"added_tokens\":[{\"id\":3}]}", "$.added_tokens[0].content is missing" },
        { "{\"model\": " + Model + ", \"added_tokens\":{}}", "$.added_tokens is an object" },
        { "{\"model\": " + Model + ", \"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Sideways\"}}", "Sideways" },
        { "{\"model\": " + Model + ", \"pre_tokenizer\":{\"pretokenizers\":[]}}", "$.pre_tokenizer.type is missing" },
        { "{\"model\": " + Model + ", \"decoder\":{\"type\":\"Strip\",\"content\":\" \",\"start\":1e20,\"stop\":0}}", "$.decoder.start" },
        { "{\"model\": " + Model + ", \"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}}],\"special_tokens\":{}}}", "special_tokens.<s> is missing" },
        { new string('[', 100_000), "" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_files_are_reported_with_the_file_name(string content, string expected)
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.json");
        File.WriteAllText(path, content);
        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));
        Assert.Contains(path, ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Truncated_copies_of_the_real_file_are_reported()
    {
        using var dir = new TempDir();
        byte[] data = File.ReadAllBytes(Llama3Files.TokenizerJson);
        foreach (int length in new[] { 1, 100, 5000, data.Length / 2, data.Length - 2 })
        {
            string path = dir.File($"cut{length}.json");
            File.WriteAllBytes(path, data[..length]);
            var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));
            Assert.Contains(path, ex.Message);
        }
    }

    [Fact]
    public void Unsupported_kinds_say_what_is_not_supported()
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer.json");
        File.WriteAllText(path, """{"model":{"type":"Unigram","vocab":[]}}""");
        Assert.Contains("Unigram", Assert.Throws<NotSupportedException>(() => HuggingFaceTokenizer.Load(path)).Message);
        File.WriteAllText(path, "{\"model\":" + Model + ",\"normalizer\":{\"type\":\"NFKC\"}}");
        Assert.Contains("'NFKC'", Assert.Throws<NotSupportedException>(() => HuggingFaceTokenizer.Load(path)).Message);
        File.WriteAllText(path, "{\"model\":" + Model + ",\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a++\"},\"behavior\":\"Isolated\"}}");
        Assert.Contains("a++", Assert.Throws<NotSupportedException>(() => HuggingFaceTokenizer.Load(path)).Message);
    }

    [Fact]
    public void A_bad_tokenizer_config_is_reported_with_its_name()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), "{\"model\":" + Model + "}");
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"bos_token": 7}""");
        var ex = Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.Load(dir.File("tokenizer.json")));
        Assert.Contains(dir.File("tokenizer_config.json"), ex.Message);
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"bos_token": "<nope>"}""");
        ex = Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.Load(dir.File("tokenizer.json")));
        Assert.Contains("'<nope>'", ex.Message);
    }

    [Fact]
    public void A_minimal_file_works()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), "{\"model\":" + Model + "}");
        var tok = HuggingFaceTokenizer.Load(dir.File("tokenizer.json"));
        Assert.Equal([2, 0, 2], tok.Encode("abaab", false, false));
        Assert.Equal([0], tok.Encode("ac", false, false)); // no unk, no byte fallback: tokenizers drops 'c'
        Assert.Equal(-1, tok.BosId);
        Assert.Equal([2], tok.Encode("ab", addBos: true, addEos: true));
    }
}
