using Microsoft.ML;
using MlPipelines.Pipelines.Transforms;

namespace MlPipelines.Cli.Tests.Kill;

/// <summary>
/// This test assembly's entry point (the test SDK's generated empty one is switched off in Cli.Tests.csproj): run as
/// <c>dotnet MlPipelines.Cli.Tests.dll save-pipeline MODEL TOKENIZER OUT [small]</c> it fits a pipeline and saves it with
/// <see cref="LlamaPipelineModel.Save"/>, so that <see cref="PipelineSaveKillTests"/> can kill a process in the middle of
/// a library call. The test runner loads the assembly as a library and never calls this.
/// </summary>
internal static class PipelineSaveProgram
{
    public static int Main(string[] args)
    {
        if (args is not ["save-pipeline", string model, string tokenizer, string output, .. var rest])
        {
            Console.Error.WriteLine("usage: MlPipelines.Cli.Tests.dll save-pipeline MODEL TOKENIZER OUT [small]");
            return 2;
        }
        var ml = new MLContext(seed: 1);
        var texts = Enumerable.Range(0, 2000).Select(i => new Row { Text = $"Once upon a time {i} there was a dog number {i * 7 % 113}" }).ToList();
        IDataView data = ml.Data.LoadFromEnumerable(texts);
        var reference = LlamaModelReference.Managed(model, tokenizer);
        IEstimator<ITransformer> pipeline = ml.Transforms.Text.TokenizeWithLlama(reference, "Tokens", "Text");
        // The full pipeline adds ML.NET stages whose saved state is large (a bag-of-n-grams vocabulary), so the save
        // takes long enough to be killed in the middle of it; "small" is the different, earlier pipeline it replaces.
        if (rest is not ["small"])
            pipeline = pipeline.Append(ml.Transforms.Text.EmbedWithLlama(reference, "Embedding", "Text"))
                .Append(ml.Transforms.Text.FeaturizeText("Features", "Text"));
        ITransformer fitted = pipeline.Fit(data);
        LlamaPipelineModel.Save(ml, fitted, data.Schema, output);
        Console.WriteLine($"saved {output}");
        return 0;
    }

    private sealed class Row
    {
        public string Text { get; set; } = "";
    }
}
