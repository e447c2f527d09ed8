using Microsoft.ML;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

/// <summary>
/// Sampling seeds come from the MLContext as for every ML.NET component: the same seeded context repeats its texts,
/// another seed gives other texts, rows within a run differ even with equal prompts, and random runs are opt-in.
/// </summary>
public class GenerationSeedTests
{
    private static readonly string[] Prompts = ["Once upon a time", "Once upon a time", "Once upon a time", "The dog"];

    private static List<string> Generate(MLContext ml, LlamaGenerateOptions? options = null)
    {
        IDataView data = TextRows.Load(ml, Prompts);
        var model = LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin);
        options ??= new LlamaGenerateOptions();
        options = options with { MaxNewTokens = 24, Temperature = 1f };
        return TextRows.Column<ReadOnlyMemory<char>>(
            ml.Transforms.Text.GenerateWithLlama(model, "Out", "Text", options).Fit(data).Transform(data), "Out")
            .Select(m => m.ToString()).ToList();
    }

    [Fact]
    public void The_same_seeded_context_gives_the_same_texts_and_another_seed_other_texts()
    {
        List<string> first = Generate(new MLContext(seed: 7)), again = Generate(new MLContext(seed: 7)), other = Generate(new MLContext(seed: 8));
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void Rows_with_the_same_prompt_differ_within_a_run()
    {
        List<string> texts = Generate(new MLContext(seed: 7));
        Assert.Equal(3, texts.Take(3).Distinct().Count());
    }

    [Fact]
    public void An_explicit_seed_wins_and_random_seeds_are_opt_in()
    {
        var explicitSeed = new LlamaGenerateOptions { Seed = 42 };
        Assert.Equal(Generate(new MLContext(seed: 1), explicitSeed), Generate(new MLContext(seed: 2), explicitSeed));

        var random = new LlamaGenerateOptions { RandomSeed = true };
        Assert.NotEqual(Generate(new MLContext(seed: 7), random), Generate(new MLContext(seed: 7), random));
    }
}
