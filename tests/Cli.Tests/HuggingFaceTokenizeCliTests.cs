using System.Text;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary><c>mlpipe tokenize</c> with a Hugging Face tokenizer.json (the committed Llama 3 tokenizer).</summary>
public class HuggingFaceTokenizeCliTests
{
    private static string Llama3Json => Path.Combine(TestPaths.Models, "llama3-tokenizer", "tokenizer.json");

    /// <summary>A few of llama.cpp's Llama 3 cases (tests/data/golden/llama.cpp-vocab/ggml-vocab-llama-bpe.gguf.*).</summary>
    public static TheoryData<string> SuiteTexts()
    {
        var data = new TheoryData<string>();
        foreach (int i in new[] { 0, 11, 18, 21, 22 }) data.Add(Suite()[i].Text);
        return data;
    }

    private static List<(string Text, string Ids)> Suite()
    {
        const string separator = "\n__ggml_vocab_test__\n";
        string dir = Path.Combine(TestPaths.Golden, "llama.cpp-vocab");
        string inp = File.ReadAllText(Path.Combine(dir, "ggml-vocab-llama-bpe.gguf.inp"), Encoding.UTF8);
        string[] texts = inp[..^separator.Length].Split(separator);
        string[] ids = File.ReadAllText(Path.Combine(dir, "ggml-vocab-llama-bpe.gguf.out"), Encoding.UTF8).Split('\n');
        return texts.Select((t, i) => (t, ids[i].Trim())).ToList();
    }

    [Theory]
    [MemberData(nameof(SuiteTexts))]
    public void Prints_the_suite_ids_and_decodes_them_back(string text)
    {
        string expected = Suite().Single(c => c.Text == text).Ids;
        var encoded = CliRunner.Run("tokenize", "--tokenizer", Llama3Json, "--no-bos", "--text", text);
        Assert.True(encoded.ExitCode == 0, encoded.Stderr);
        Assert.Equal(expected, encoded.Stdout.TrimEnd('\n', '\r'));

        var decoded = CliRunner.Run("tokenize", "--tokenizer", Llama3Json, "--decode", "--text", expected);
        Assert.True(decoded.ExitCode == 0, decoded.Stderr);
        Assert.Equal(text + Environment.NewLine, decoded.Stdout);
    }

    [Fact]
    public void Bos_is_the_config_s_begin_of_text()
    {
        var result = CliRunner.Run("tokenize", "--tokenizer", Llama3Json, "--text", "Hello world");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("128000 9906 1917", result.Stdout.Trim());
    }
}
