using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tests.Support;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Tests.Generation;

/// <summary>
/// The managed engine against llama2.c run.c's own output on stories260K (tests/data/golden):
/// the printed text byte for byte and the token ids.
/// </summary>
public class GoldenGenerationTests
{
    public static TheoryData<string, string[]> GoldenCases => new()
    {
        { "greedy_bos_256", ["-t", "0.0", "-n", "256"] },
        { "sample_bos_t1_p09_s133742", ["-t", "1.0", "-p", "0.9", "-s", "133742", "-n", "256"] },
    };

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void Cli_prints_exactly_what_run_c_printed(string golden, string[] runArgs)
    {
        byte[] expected = File.ReadAllBytes(Path.Combine(TestPaths.Golden, golden + ".txt"));
        var result = CliRunner.Run(["generate", TestPaths.Stories260K, "-z", TestPaths.Tok512Bin, .. runArgs]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected.Append((byte)'\n').ToArray(), result.StdoutBytes);
        Assert.Contains("achieved tok/s", result.Stderr);
    }

    [Theory]
    [InlineData("greedy_bos_256", 0f, 0.9f, 0UL)]
    [InlineData("sample_bos_t1_p09_s133742", 1f, 0.9f, 133742UL)]
    public void Token_ids_match_run_c(string golden, float temperature, float topP, ulong seed)
    {
        int[] expected = File.ReadAllText(Path.Combine(TestPaths.Golden, golden + ".ids"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        using TransformerModel model = ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        using var session = model.CreateSession();
        var options = new GenerationOptions
        {
            MaxSteps = 256,
            Sampling = new SamplingOptions { Temperature = temperature, TopP = topP, Seed = seed == 0 ? null : seed },
        };
        int[] ids = Generator.Generate(session, [model.Config.BosId], options).Select(t => t.Id).ToArray();
        Assert.Equal(expected, ids);
    }

    [Fact]
    public void Sentencepiece_model_tokenizer_prints_the_same_story()
    {
        byte[] expected = File.ReadAllBytes(Path.Combine(TestPaths.Golden, "greedy_bos_256.txt"));
        var result = CliRunner.Run("generate", "--model", TestPaths.Stories260K, "--tokenizer", TestPaths.Tok512Model, "--temperature", "0");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected.Append((byte)'\n').ToArray(), result.StdoutBytes);
    }

    [Fact]
    public void Default_model_is_stories260K_with_its_tokenizer()
    {
        byte[] expected = File.ReadAllBytes(Path.Combine(TestPaths.Golden, "greedy_bos_256.txt"));
        var result = CliRunner.Run("generate", "-t", "0");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(expected.Append((byte)'\n').ToArray(), result.StdoutBytes);
    }
}
