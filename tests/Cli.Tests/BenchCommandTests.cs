using System.Text.Json;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>`mlpipe bench` on stories260K: the table, the JSON report, and one-line argument errors. No timing assertions.</summary>
public sealed class BenchCommandTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>, IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // Small counts: this checks structure, not speed.
    private static string[] Fast(string model, params string[] extra) =>
        ["bench", "--model", model, "--runs", "2", "--decode-tokens", "8", "--prefill", "16,32", "--warmup", "0.1", .. extra];

    [Fact]
    public void Managed_engine_prints_a_row_per_thread_count_and_writes_json()
    {
        string json = _dir.File("bench.json");
        var result = CliRunner.Run(Fast(TestPaths.Stories260K, "--threads", "1,2", "--json", json));

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("machine: ", StringComparison.Ordinal) && l.Contains("logical cores"));
        Assert.Contains(lines, l => l.StartsWith("model:   stories260K: dim 64", StringComparison.Ordinal));
        string[] table = lines.Where(l => l.StartsWith('|')).ToArray();
        Assert.Equal(4, table.Length); // header, rule, two rows
        Assert.Contains(lines, l => l == "weights: F32 in llama2.c; files 1.0 MiB; KV cache 0.6 MiB per managed session");
        Assert.Contains(lines, l => l.StartsWith("memory:  RSS = resident set right after loading", StringComparison.Ordinal));
        foreach (string column in new[] { "weights", "load ms", "RSS MiB", "model MiB", "peak MiB", "decode tok/s", "prefill-16 tok/s", "prefill-32 tok/s" })
            Assert.Contains($" {column} ", table[0]);
        Assert.Matches(RowPattern("managed", 1, "F32"), table[2]);
        Assert.Matches(RowPattern("managed", 2, "F32"), table[3]);
        Assert.Contains("run 2/2 managed ×2", result.Stderr);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp"));

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        var machine = root.GetProperty("machine");
        Assert.True(machine.GetProperty("logicalCores").GetInt32() > 0);
        Assert.Contains(machine.GetProperty("simdWidth").GetInt32(), new[] { 128, 256, 512 });
        Assert.False(string.IsNullOrWhiteSpace(machine.GetProperty("cpu").GetString()));
        Assert.Equal("stories260K", root.GetProperty("model").GetProperty("name").GetString());
        Assert.Equal(260_032, root.GetProperty("model").GetProperty("parameters").GetInt64());
        var format = root.GetProperty("model").GetProperty("weightFormat");
        Assert.Equal(("F32", "Llama2c"), (format.GetProperty("name").GetString(), format.GetProperty("container").GetString()));
        Assert.StartsWith("mlpipe bench", root.GetProperty("command").GetString());
        var rows = root.GetProperty("rows");
        Assert.Equal(2, rows.GetArrayLength());
        foreach (var row in rows.EnumerateArray())
        {
            Assert.Equal("managed", row.GetProperty("engine").GetString());
            AssertPositive(row.GetProperty("decodeTokensPerSecond"), runs: 2);
            var prefill = row.GetProperty("prefill");
            Assert.Equal([16, 32], prefill.EnumerateArray().Select(p => p.GetProperty("length").GetInt32()));
            foreach (var p in prefill.EnumerateArray())
                AssertPositive(p.GetProperty("tokensPerSecond"), runs: 2);
            Assert.True(row.GetProperty("warmup").GetProperty("rounds").GetInt32() >= 1);
            Assert.True(row.GetProperty("loadSeconds").GetDouble() > 0);
            var load = row.GetProperty("load");
            Assert.Equal("F32", load.GetProperty("weights").GetString());
            Assert.False(load.GetProperty("requantized").GetBoolean());
            Assert.True(load.GetProperty("residentAfterBytes").GetInt64() > 0);
            Assert.Equal(load.GetProperty("residentAfterBytes").GetInt64() - load.GetProperty("residentBeforeBytes").GetInt64(),
                load.GetProperty("modelBytes").GetInt64());
            Assert.Equal(5L * 2 * 512 * 32 * 4, load.GetProperty("kvCacheBytes").GetInt64());   // 5 layers × K,V × 512 positions × kv_dim 32
            Assert.True(row.GetProperty("peak").GetProperty("bytes").GetInt64() >= load.GetProperty("residentAfterBytes").GetInt64() / 2);
        }
        Assert.Equal([1, 2], rows.EnumerateArray().Select(r => r.GetProperty("threads").GetInt32()));
    }

    [Fact]
    public void An_export_directory_is_measured_as_written_not_re_exported()
    {
        var result = CliRunner.Run(Fast(f.ExportDirectory, "--engine", "onnx", "--profile", "fused", "--weights", "int4"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("measured as written", result.Stderr);
    }

    [Fact]
    public void Onnx_engine_runs_an_export_directory()
    {
        var result = CliRunner.Run(Fast(f.ExportDirectory, "--engine", "onnx", "--threads", "1"));

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        string[] rows = result.Stdout.Split('\n').Where(l => l.StartsWith("| onnx", StringComparison.Ordinal)).ToArray();
        Assert.Single(rows);
        Assert.Matches(RowPattern("onnx", 1, "F32"), rows[0]);
        Assert.Contains("weights: F32 (ONNX export); files ", result.Stdout);
    }

    [Fact]
    public void Onnx_engine_runs_another_tools_export_named_by_its_graph_file()
    {
        // A Hub repository's layout: config.json and the tokenizer at the top, the graph in onnx/ under its own name.
        string optimum = MlPipelines.OnnxEngine.Tests.Onnx.OptimumExportWriter.Write(f.ExportDirectory, _dir.File("optimum"), dropHiddenState: true, dropPositionIds: false);
        string hub = _dir.File("hub");
        Directory.CreateDirectory(Path.Combine(hub, "onnx"));
        File.Move(Path.Combine(optimum, "config.json"), Path.Combine(hub, "config.json"));
        File.Move(Path.Combine(optimum, "tokenizer.model"), Path.Combine(hub, "tokenizer.model"));
        File.Move(Path.Combine(optimum, "model.onnx"), Path.Combine(hub, "onnx", "model_q4.onnx"));
        long graphBytes = new FileInfo(Path.Combine(hub, "onnx", "model_q4.onnx")).Length;

        var result = CliRunner.Run(Fast(Path.Combine(hub, "onnx", "model_q4.onnx"), "--engine", "onnx", "--threads", "1"));

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Single(result.Stdout.Split('\n'), l => l.StartsWith("| onnx", StringComparison.Ordinal));
        Assert.Contains("weights: ONNX export by another tool; files ", result.Stdout);
        Assert.Contains($"{graphBytes / 1e6:F1} MB", result.Stdout);
    }

    [Theory]
    [InlineData("Unknown model shape 'xl'", "--shape", "xl")]
    [InlineData("--prefill 1024 is longer than the model's context of 512 tokens", "--prefill", "1024")]
    [InlineData("--runs must be at least 1, not 0", "--runs", "0")]
    [InlineData("--decode-tokens must be at least 1, not 0", "--decode-tokens", "0")]
    [InlineData("exceed the model's context of 512 tokens", "--decode-tokens", "600")]
    [InlineData("--threads takes comma-separated whole numbers ≥ 1 (like 1,2); 'x' is not one", "--threads", "1,x")]
    [InlineData("--threads takes comma-separated whole numbers ≥ 1 (like 1,2); '0' is not one", "--threads", "0")]
    [InlineData("--engine takes managed, onnx or managed,onnx; 'gpu' is not an engine", "--engine", "gpu")]
    [InlineData("Quantization q8_0 applies to the managed engine", "--engine", "onnx", "--quantize", "q8_0")]
    [InlineData("Unknown quantization 'q4'", "--quantize", "q4")]
    [InlineData("--warmup must be between 0 and 30 seconds", "--warmup", "-1")]
    [InlineData("--weights int4 needs --profile fused", "--engine", "onnx", "--weights", "int4")]
    public void Bad_arguments_are_one_line_errors(string expected, params string[] args)
    {
        string[] argv = args[0] == "--shape" ? ["bench", .. args] : ["bench", "--model", TestPaths.Stories260K, .. args];
        var result = CliRunner.Run(argv);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Stderr);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("mlpipe: error: ", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public void Model_and_shape_together_are_an_error()
    {
        var result = CliRunner.Run("bench", "--model", TestPaths.Stories260K, "--shape", "15m");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("Give --model or --shape, not both.", result.Stderr);
    }

    [Fact]
    public void A_missing_json_directory_is_reported_before_measuring()
    {
        var result = CliRunner.Run(Fast(TestPaths.Stories260K, "--json", _dir.File(Path.Combine("nope", "bench.json"))));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("does not exist", result.Stderr);
        Assert.DoesNotContain("warm-up", result.Stderr);
    }

    [Theory]
    [InlineData("stories260K-hf", 1_044_992 + 437, "F32", "F32")]                     // model.safetensors + config.json
    [InlineData("tiny-random-gguf/llama-2-tiny-random.gguf", 1_750_560, "F16", "F32 (converted on load)|F16")]   // widened, or run as stored
    [InlineData("stories260K/stories260K_q80.bin", 294_816, "Q8_0 (llama2.c int8)", "Q8_0")]
    public void Hugging_Face_gguf_and_int8_models_are_benchmarked_sized_and_described(string model, long bytes, string stored, string run)
    {
        string json = _dir.File("bench.json");
        var result = CliRunner.Run(Fast(Path.Combine(TestPaths.Models, model), "--threads", "1", "--json", json));
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Matches(RowPattern("managed", 1, run), Assert.Single(result.Stdout.Split('\n'), l => l.StartsWith("| managed", StringComparison.Ordinal)));
        Assert.Contains($"weights: {stored}", result.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(bytes, doc.RootElement.GetProperty("model").GetProperty("fileBytes").GetInt64());
        Assert.Equal(stored, doc.RootElement.GetProperty("model").GetProperty("weightFormat").GetProperty("name").GetString());
        Assert.Contains(doc.RootElement.GetProperty("rows")[0].GetProperty("load").GetProperty("weights").GetString(), run.Split('|'));
    }

    [Fact]
    public void Quantising_on_load_is_reported_per_row()
    {
        string json = _dir.File("bench.json");
        var result = CliRunner.Run(Fast(TestPaths.Stories260K, "--threads", "1", "--quantize", "q8_0", "--json", json));
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Matches(RowPattern("managed", 1, "Q8_0 (quantised on load)"), result.Stdout.Split('\n').Single(l => l.StartsWith("| managed", StringComparison.Ordinal)));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.True(doc.RootElement.GetProperty("rows")[0].GetProperty("load").GetProperty("requantized").GetBoolean());
    }

    // | engine | threads | weights | load ms | RSS MiB | model MiB | peak MiB | decode (min–max) | …; weights may list alternatives as "a|b".
    private static string RowPattern(string engine, int threads, string weights) =>
        $@"^\| {engine} +\| {threads} +\| (?:{string.Join("|", weights.Split('|').Select(System.Text.RegularExpressions.Regex.Escape))}) +\| +[0-9.]+ \| +[0-9.]+ \| +-?[0-9.]+ \| +[0-9.]+ \| +[0-9.]+ \(";

    private static void AssertPositive(JsonElement measurement, int runs)
    {
        double min = measurement.GetProperty("min").GetDouble(), median = measurement.GetProperty("median").GetDouble();
        double max = measurement.GetProperty("max").GetDouble();
        Assert.True(min > 0 && double.IsFinite(max), $"min {min}, max {max}");
        Assert.InRange(median, min, max);
        Assert.Equal(runs, measurement.GetProperty("runs").GetArrayLength());
    }
}
