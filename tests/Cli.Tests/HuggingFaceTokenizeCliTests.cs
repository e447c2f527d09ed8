using System.Text;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary><c>mlpipe tokenize</c> with a Hugging Face tokenizer.json (the committed Llama 3 tokenizer).</summary>
public class HuggingFaceTokenizeCliTests
{
    private static string Llama3Json => Path.Combine(TestPaths.Models, "llama3-tokenizer", "tokenizer.json");

    private static List<(string Text, string Ids)> Suite()
    {
        const string separator = "\n__ggml_vocab_test__\n";
        string dir = Path.Combine(TestPaths.Golden, "llama.cpp-vocab");
        string inp = File.ReadAllText(Path.Combine(dir, "ggml-vocab-llama-bpe.gguf.inp"), Encoding.UTF8);
        string[] texts = inp[..^separator.Length].Split(separator);
        string[] ids = File.ReadAllText(Path.Combine(dir, "ggml-vocab-llama-bpe.gguf.out"), Encoding.UTF8).Split('\n');
        return texts.Select((t, i) => (t, ids[i].Trim())).ToList();
    }

    /// <summary>
    /// Every one-line case of llama.cpp's Llama 3 suite (tests/data/golden/llama.cpp-vocab/ggml-vocab-llama-bpe.gguf.*),
    /// one per input line: the ids are the suite's, and decoding them gives the lines back. One process per direction,
    /// since loading the 9 MB vocabulary is most of a run.
    /// </summary>
    [Fact]
    public void Prints_the_suite_ids_and_decodes_them_back()
    {
        var cases = Suite().Where(c => c.Text.Length > 0 && !c.Text.Contains('\n') && !c.Text.Contains('\r')).ToList();
        Assert.True(cases.Count >= 20, $"only {cases.Count} one-line cases");
        var encoded = CliRunner.RunWithInput(string.Join('\n', cases.Select(c => c.Text)) + "\n", "tokenize", "--tokenizer", Llama3Json, "--no-bos", "--lines");
        Assert.True(encoded.ExitCode == 0, encoded.Stderr);
        Assert.Equal(cases.Select(c => c.Ids), encoded.Stdout.Split(Environment.NewLine)[..cases.Count]);

        var decoded = CliRunner.RunWithInput(string.Join('\n', cases.Select(c => c.Ids)) + "\n", "tokenize", "--tokenizer", Llama3Json, "--decode", "--lines");
        Assert.True(decoded.ExitCode == 0, decoded.Stderr);
        Assert.Equal(cases.Select(c => c.Text), decoded.Stdout.Split(Environment.NewLine)[..cases.Count]);
    }

    [Fact]
    public void Bos_is_the_config_s_begin_of_text()
    {
        var result = CliRunner.Run("tokenize", "--tokenizer", Llama3Json, "--text", "Hello world");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("128000 9906 1917", result.Stdout.Trim());
    }
}
