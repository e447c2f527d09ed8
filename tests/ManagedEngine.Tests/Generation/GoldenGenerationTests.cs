using MlPipelines.ManagedEngine.Generation;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Generation;

/// <summary>
/// The managed engine against llama2.c run.c's own output on stories260K (tests/data/golden):
/// the token ids (the printed text is checked through mlpipe in Cli.Tests).
/// </summary>
public class GoldenGenerationTests
{
    [Theory]
    [InlineData("greedy_bos_256", 0f, 0.9f, 0UL)]
    [InlineData("sample_bos_t1_p09_s133742", 1f, 0.9f, 133742UL)]
    public void Token_ids_match_run_c(string golden, float temperature, float topP, ulong seed)
    {
        int[] expected = GoldenIds(golden);
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

    /// <summary>Unconfigured sampling is greedy (the library's one default, the ML.NET transform's too): run.c's -t 0 story.</summary>
    [Fact]
    public void Default_options_generate_run_c_s_greedy_story()
    {
        int[] expected = GoldenIds("greedy_bos_256");
        using TransformerModel model = ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        using var session = model.CreateSession();
        int[] ids = Generator.Generate(session, [model.Config.BosId], new GenerationOptions()).Select(t => t.Id).ToArray();
        Assert.Equal(expected, ids);
    }

    private static int[] GoldenIds(string golden) => File.ReadAllText(Path.Combine(TestPaths.Golden, golden + ".ids"))
        .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
}
