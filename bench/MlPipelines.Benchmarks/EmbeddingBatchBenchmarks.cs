using BenchmarkDotNet.Attributes;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Benchmarks;

/// <summary>
/// Embedding 64 texts of the demo dataset with batch size 1 versus 16, on each engine, on the default
/// model (stories260K). Batching lets the ONNX engine run one padded call per batch and the managed
/// engine spread a batch's rows over the cores.
/// </summary>
[MemoryDiagnoser]
[MedianColumn, MinColumn, MaxColumn]
public class EmbeddingBatchBenchmarks
{
    private LoadedModel _model = null!;
    private Embedder _embedder = null!;
    private string[] _texts = [];

    [Params(EngineKind.Managed, EngineKind.Onnx)]
    public EngineKind Engine { get; set; }

    [Params(1, 16)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var model = ResolvedModel.Resolve(null);
        _model = LanguageModels.Open(model, Engine, exportCacheDirectory: Path.Combine(Path.GetTempPath(), "mlpipe-bench-cache"));
        _embedder = new Embedder(_model.Model, _model.Tokenizer, new EmbeddingOptions { BatchSize = BatchSize });
        string[] sample = File.ReadAllLines(FindRepoFile("data/demo/stories.txt"));
        _texts = Enumerable.Range(0, 64).Select(i => sample[i % sample.Length] + (i >= sample.Length ? $" Then it was day {i}." : "")).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark(Description = "embed 64 texts")]
    public float[][] Embed() => _embedder.Embed(_texts);

    private static string FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MlPipelines.sln")))
                return Path.Combine(dir.FullName, relative);
        // BenchmarkDotNet runs from a generated project; fall back to the working directory.
        return Path.GetFullPath(relative);
    }
}
