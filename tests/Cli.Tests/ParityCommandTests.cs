using System.Text.Json;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.OnnxEngine.Tests.Parity;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>`mlpipe parity`: exit codes, the table, the JSON report, and argument errors.</summary>
public sealed class ParityCommandTests(ExportedStoriesFixture f, PerturbedStoriesFixture perturbed)
    : IClassFixture<ExportedStoriesFixture>, IClassFixture<PerturbedStoriesFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string PromptsFile(params string[] lines)
    {
        string path = _dir.File($"prompts-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(path, lines);
        return path;
    }

    private string[] Args(string onnx, string prompts, params string[] extra) =>
        ["parity", "--model", TestPaths.Stories260K, "--onnx", onnx, "--prompts", prompts, .. extra];

    [Fact]
    public void Matching_engines_exit_0_and_write_a_json_report()
    {
        string json = _dir.File("report.json");
        // Blank and whitespace-only lines are not prompts.
        string prompts = PromptsFile("Once upon a time", "", "The little bird was sad.", "   ", "Tom had a red ball");
        var result = CliRunner.Run(Args(f.ExportDirectory, prompts, "--json", json));

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("PASSED", result.Stdout);
        Assert.Contains("3/3 identical", result.Stdout);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp"));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean());
        Assert.Equal(3, root.GetProperty("prompts").GetArrayLength());
        Assert.InRange(root.GetProperty("maxAbsLogitDiff").GetDouble(), 0, 1e-4);
        Assert.Equal(200, root.GetProperty("options").GetProperty("steps").GetInt32());
        Assert.Equal(200, root.GetProperty("prompts")[2].GetProperty("continuation").GetProperty("length").GetInt32());
    }

    [Fact]
    public void Another_tools_export_is_compared_and_its_contract_reported()
    {
        // Optimum's names and layout (config.json, no mlpipe.json, no last_hidden_state), the graph file named directly.
        string optimum = OptimumExportWriter.Write(f.ExportDirectory, _dir.File("optimum"), dropHiddenState: true, dropPositionIds: true);
        var result = CliRunner.Run(Args(Path.Combine(optimum, "model.onnx"), PromptsFile("Once upon a time"), "--steps", "20"));

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("ONNX contract: optimum: 5 layers", result.Stdout);
        Assert.Contains("no position_ids", result.Stdout);
        Assert.Contains($"configuration from {Path.Combine(optimum, "config.json")}", result.Stdout);
        Assert.Contains("embeddings not compared", result.Stdout);
        Assert.Contains("PASSED", result.Stdout);
    }

    [Fact]
    public void A_perturbed_export_exits_2_and_names_the_failing_figures()
    {
        string json = _dir.File("perturbed.json");
        string prompts = PromptsFile("Once upon a time", "Lily went to the park");
        var result = CliRunner.Run(Args(perturbed.ExportDirectory, prompts, "--json", json, "--steps", "50"));

        Assert.True(result.ExitCode == 2, result.Stdout + result.Stderr);
        Assert.Contains("FAILED", result.Stdout);
        Assert.Contains("max |Δlogit|", result.Stdout);
        Assert.Contains("exceeds 0.0001", result.Stdout);
        Assert.Empty(result.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.False(root.GetProperty("passed").GetBoolean());
        Assert.False(root.GetProperty("logitsWithinTolerance").GetBoolean());
        Assert.False(root.GetProperty("cosineWithinTolerance").GetBoolean());
        string[] failures = root.GetProperty("failures").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Contains(failures, r => r.StartsWith("max |Δlogit|", StringComparison.Ordinal));
        Assert.Contains(failures, r => r.StartsWith("min embedding cosine", StringComparison.Ordinal));
    }

    [Fact]
    public void Loose_thresholds_let_the_perturbed_export_pass()
    {
        var result = CliRunner.Run(Args(perturbed.ExportDirectory, PromptsFile("Once upon a time"),
            "--steps", "20", "--max-abs-diff", "100", "--min-cosine", "0.5", "--allow-greedy-divergence"));
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
    }

    [Fact]
    public void Missing_prompts_file_is_an_error()
    {
        string missing = _dir.File("nope.txt");
        var result = CliRunner.Run(Args(f.ExportDirectory, missing));
        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"mlpipe: error: The prompts file '{missing}' does not exist.", result.Stderr.Trim());
    }

    [Fact]
    public void A_prompts_file_without_prompts_is_an_error()
    {
        var result = CliRunner.Run(Args(f.ExportDirectory, PromptsFile("", "  ", "")));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("mlpipe: error: The prompts file", result.Stderr);
        Assert.Contains("holds no prompts", result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void Missing_onnx_directory_is_an_error()
    {
        string missing = _dir.File("no-export");
        var result = CliRunner.Run(Args(missing, PromptsFile("Once upon a time")));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("mlpipe: error:", result.Stderr);
        Assert.Contains(missing, result.Stderr);
        Assert.Single(result.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void A_json_path_in_a_missing_directory_is_an_error_before_anything_runs()
    {
        string json = Path.Combine(_dir.File("missing"), "report.json");
        var result = CliRunner.Run(Args(f.ExportDirectory, PromptsFile("Once upon a time"), "--json", json));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("mlpipe: error: Cannot write the report", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Theory]
    [InlineData("--steps", "-1", "--steps must be")]
    [InlineData("--max-abs-diff", "-0.5", "--max-abs-diff must be")]
    [InlineData("--min-cosine", "1.5", "--min-cosine must lie in")]
    public void Invalid_numbers_are_errors_naming_the_flag(string flag, string value, string message)
    {
        var result = CliRunner.Run(Args(f.ExportDirectory, PromptsFile("Once upon a time"), flag, value));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"mlpipe: error: {message}", result.Stderr);
    }

    [Fact]
    public void Onnx_and_prompts_are_required()
    {
        var result = CliRunner.Run("parity", "--model", TestPaths.Stories260K);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--onnx", result.Stderr + result.Stdout);
    }
}
