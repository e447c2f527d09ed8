using Microsoft.ML;
using Microsoft.ML.Transforms;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// What <c>mlContext.Model.Load</c> finds in a file written by <see cref="LlamaPipelineModel.Save"/>. ML.NET cannot
/// load LLaMA stages itself (its loader registration is internal), and left alone it would report only "Could not load
/// legacy format model". So the file also holds a one-stage ML.NET model: a custom mapping whose factory, which
/// ML.NET locates through the contract name and the assembly recorded with it, refuses with a message that says
/// what to call instead.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class MLNetLoadHint : CustomMappingFactory<MLNetLoadHint.NoColumns, MLNetLoadHint.NoColumns>
{
    public const string ContractName = "MlPipelines.LlamaPipelineModel";

    /// <summary>The message ML.NET's loader passes on.</summary>
    public static string Message =>
        "This file is a pipeline with LLaMA stages, saved by MlPipelines' LlamaPipelineModel.Save; ML.NET cannot load " +
        "those stages itself. Load it with LlamaPipelineModel.Load(mlContext, path, out inputSchema).";

    /// <summary>Neither reads nor writes a column: the stage exists only to be found on load.</summary>
    public sealed class NoColumns;

    public override Action<NoColumns, NoColumns> GetMapping() => throw new InvalidOperationException(Message);

    /// <summary>Writes the stand-in model (ML.NET's own zip layout) for <paramref name="inputSchema"/> into <paramref name="stream"/>.</summary>
    public static void Save(MLContext mlContext, DataViewSchema inputSchema, Stream stream)
    {
        // The mapping declared here makes ML.NET record this assembly with the contract, so its loader finds the factory.
        var estimator = mlContext.Transforms.CustomMapping<NoColumns, NoColumns>(Unused, ContractName);
        ITransformer stage = estimator.Fit(mlContext.Data.LoadFromEnumerable(Array.Empty<NoColumns>()));
        mlContext.Model.Save(stage, inputSchema, stream);
    }

    private static void Unused(NoColumns input, NoColumns output) { }
}
