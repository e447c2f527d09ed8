using MlPipelines.Tests.Support;

namespace MlPipelines.Fuzz.Tests;

/// <summary>
/// What a user sees: mutants of each model and tokenizer format given to <c>mlpipe generate</c> or <c>mlpipe tokenize</c>
/// (in-process) end with exit code 0, or 1 and a single <c>mlpipe: error:</c> line naming the file: never a stack
/// trace or an exception escaping the program.
/// </summary>
public class CliMutantTests(SeedFilesFixture f) : IClassFixture<SeedFilesFixture>
{
    private const int MutantsPerFormat = 25;

    /// <summary>A format: which target's mutator edits it, the seed file, its name in the folder, and the command line.</summary>
    private sealed record Format(string Target, Func<SeedFiles, byte[]> Seed, string FileName, Func<string, string[]> Command, Action<string, SeedFiles>? Beside = null);

    private static readonly Dictionary<string, Format> Formats = new()
    {
        ["llama2c"] = new("llama2c", s => s.ModelBytes("stories260K/stories260K.bin"), "model.bin",
            dir => ["generate", "--model", Path.Combine(dir, "model.bin"), "-n", "3"],
            (dir, s) => File.Copy(s.Model("stories260K/tok512.bin"), Path.Combine(dir, "tok512.bin"))),
        ["llama2c-q80"] = new("llama2c-q80", s => s.ModelBytes("stories260K/stories260K_q80.bin"), "model.bin",
            dir => ["generate", "--model", Path.Combine(dir, "model.bin"), "-n", "3"],
            (dir, s) => File.Copy(s.Model("stories260K/tok512.bin"), Path.Combine(dir, "tok512.bin"))),
        ["safetensors"] = new("safetensors", s => s.ModelBytes("stories260K-hf/model.safetensors"), "model.safetensors",
            dir => ["generate", "--model", dir, "--tokenizer", Path.Combine(dir, "tok512.model"), "-n", "3"],
            (dir, s) =>
            {
                File.Copy(s.Model("stories260K-hf/config.json"), Path.Combine(dir, "config.json"));
                File.Copy(s.Model("stories260K/tok512.model"), Path.Combine(dir, "tok512.model"));
            }),
        ["hf-config"] = new("hf-config", s => s.ModelBytes("stories260K-hf/config.json"), "config.json",
            dir => ["generate", "--model", dir, "--tokenizer", Path.Combine(dir, "tok512.model"), "-n", "3"],
            (dir, s) =>
            {
                File.Copy(s.Model("stories260K-hf/model.safetensors"), Path.Combine(dir, "model.safetensors"));
                File.Copy(s.Model("stories260K/tok512.model"), Path.Combine(dir, "tok512.model"));
            }),
        ["gguf"] = new("gguf", s => File.ReadAllBytes(s.TinyGguf), "model.gguf", dir => ["generate", "--model", Path.Combine(dir, "model.gguf"), "-n", "3"]),
        ["sentencepiece"] = new("sentencepiece", s => s.ModelBytes("stories260K/tok512.model"), "tok512.model",
            dir => ["tokenize", "--tokenizer", Path.Combine(dir, "tok512.model"), "--text", "Once upon a time"]),
        ["tokenizer-bin"] = new("tokenizer-bin", s => s.ModelBytes("stories260K/tok512.bin"), "tok512.bin",
            dir => ["tokenize", "--tokenizer", Path.Combine(dir, "tok512.bin"), "--text", "Once upon a time"]),
        ["tokenizer-json"] = new("tokenizer-json", s => s.Tok512TokenizerJson, "tokenizer.json",
            dir => ["tokenize", "--tokenizer", Path.Combine(dir, "tokenizer.json"), "--text", "Once upon a time"]),
        ["gguf-tokenizer"] = new("gguf-tokenizer", s => File.ReadAllBytes(s.TinyGguf), "model.gguf",
            dir => ["tokenize", "--tokenizer", Path.Combine(dir, "model.gguf"), "--text", "Once upon a time"]),
    };

    public static TheoryData<string> FormatNames() => [.. Formats.Keys];

    [Theory]
    [MemberData(nameof(FormatNames))]
    public void A_malformed_file_is_one_error_line_naming_it_and_exit_code_1(string name)
    {
        Format format = Formats[name];
        var mutator = new Mutator(FuzzTargets.Get(format.Target), [format.Seed(f.Seeds)]);
        int failures = 0;
        for (int i = 1; i <= MutantsPerFormat; i++)
        {
            using var dir = new TempDir();
            format.Beside?.Invoke(dir.Path, f.Seeds);
            File.WriteAllBytes(Path.Combine(dir.Path, format.FileName), mutator.Mutant(seed: 23, i));
            string[] command = format.Command(dir.Path);
            CliRunner.Result? result = null;
            Exception? escaped = Record.Exception(() => result = CliRunner.Run(command));
            Assert.True(escaped is null, $"mutant {i}: mlpipe {string.Join(' ', command)} threw {escaped}");
            Assert.True(result!.ExitCode is 0 or 1, $"mutant {i}: exit code {result.ExitCode}\n{result.Stderr}");
            if (result.ExitCode == 0) continue;
            failures++;
            string error = result.Stderr.TrimEnd('\n', '\r');
            Assert.True(error.StartsWith("mlpipe: error: ", StringComparison.Ordinal) && !error.Contains('\n'),
                $"mutant {i}: expected one 'mlpipe: error:' line, got:\n{result.Stderr}");
            Assert.True(error.Contains(dir.Path, StringComparison.Ordinal), $"mutant {i}: the error does not name the file: {error}");
        }
        Assert.True(failures > 0, $"{name}: no mutant was refused; the mutator did not reach the parser");
    }
}
