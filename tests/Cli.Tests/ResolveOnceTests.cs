using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Tests.Support;

namespace MlPipelines.Cli.Tests;

/// <summary>
/// A model is resolved once per command: every name a command looks up (the model, and the tokenizer when one is
/// named) is resolved exactly once, whichever engine and whatever else the command does with it.
/// </summary>
public class ResolveOnceTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    public static TheoryData<string[]> Commands()
    {
        string hf = Path.Combine(TestPaths.Models, "stories260K-hf");
        string gguf = Path.Combine(TestPaths.Models, "tiny-random-gguf", "llama-2-tiny-random.gguf");
        return new TheoryData<string[]>
        {
            new[] { "generate", "-n", "8", "-t", "0" },                                                        // the default model
            new[] { "generate", "--model", TestPaths.Stories260K, "-z", TestPaths.Tok512Model, "-n", "8", "-t", "0" },
            new[] { "generate", "--model", hf, "-z", TestPaths.Tok512Model, "-n", "8", "-t", "0", "--engine", "onnx" },
            new[] { "generate", "--model", gguf, "-n", "4", "-t", "0", "--quantize", "q8_0" },
            new[] { "tokenize", "-z", TestPaths.Stories260K, "--text", "Once upon a time" },
            new[] { "bench", "--model", TestPaths.Stories260K, "--engine", "managed,onnx", "--threads", "1", "--decode-tokens", "4",
                "--prefill", "8", "--runs", "1", "--warmup", "0" },
        };
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Each_name_is_resolved_once(string[] args) => AssertResolvedOnce(args);

    [Fact]
    public void Export_parity_and_embed_resolve_each_name_once()   // demo: DemoTests
    {
        using var dir = new TempDir();
        AssertResolvedOnce(["export", "--model", TestPaths.Stories260K, "--out", dir.File("export")]);
        File.WriteAllText(dir.File("prompts.txt"), "Once upon a time\n");
        AssertResolvedOnce(["parity", "--model", TestPaths.Stories260K, "--onnx", f.ExportDirectory, "--prompts", dir.File("prompts.txt"), "--steps", "4"]);
        File.WriteAllText(dir.File("in.txt"), "one\ntwo\n");
        AssertResolvedOnce(["embed", "-i", dir.File("in.txt"), "-o", dir.File("out.csv"), "--model", TestPaths.Stories260K, "-z", TestPaths.Tok512Bin]);
        AssertResolvedOnce(["embed", "-i", dir.File("in.txt"), "-o", dir.File("out2.jsonl"), "--engine", "onnx"]);
    }

    private static void AssertResolvedOnce(string[] args)
    {
        IReadOnlyList<string> names;
        CliRunner.Result result;
        using (var log = ModelLocator.RecordResolutions())
        {
            result = CliRunner.Run(args);
            names = log.Names;
        }
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', args)}: {result.Stderr}");
        Assert.NotEmpty(names);
        var repeated = names.GroupBy(n => n).Where(g => g.Count() > 1).Select(g => $"{g.Key} ×{g.Count()}").ToList();
        Assert.True(repeated.Count == 0, $"{string.Join(' ', args)} resolved {string.Join(", ", repeated)} (all: {string.Join(", ", names)})");
    }
}
