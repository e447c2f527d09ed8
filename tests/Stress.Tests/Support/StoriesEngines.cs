using System.Collections.Concurrent;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.OnnxEngine;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Tests.Support;

namespace MlPipelines.Stress.Tests.Support;

/// <summary>
/// stories260K on both engines: the llama2.c checkpoint (memory-mapped) on the managed engine and its portable ONNX
/// export (made once for the whole suite) on ONNX Runtime, loaded afresh per test so a test may dispose its model, plus
/// each call's reference result computed alone on a single-threaded model.
/// </summary>
public sealed class StoriesEngines : IDisposable
{
    /// <summary>stories260K's llama2.c checkpoint on the managed engine, and its export on ONNX Runtime.</summary>
    public const string Managed = "managed", Onnx = "onnx";

    /// <summary>The managed engine on the other mapped formats: stories260K as safetensors, a tiny random GGUF (F16, kept as stored).</summary>
    public const string Safetensors = "safetensors", Gguf = "gguf";

    private static readonly string GgufPath = Path.Combine(TestPaths.Models, "tiny-random-gguf", "llama-2-tiny-random.gguf");
    private static readonly string SafetensorsPath = Path.Combine(TestPaths.Models, "stories260K-hf");

    private readonly ExportedStoriesFixture _export = new();
    private readonly ConcurrentDictionary<string, Dictionary<Call, string>> _references = new();

    public static TheoryData<string> Both => new() { Managed, Onnx };

    /// <summary>Both engines and every memory-mapped format of the managed engine.</summary>
    public static TheoryData<string> AllFormats => new() { Managed, Safetensors, Gguf, Onnx };

    public string ExportDirectory => _export.ExportDirectory;

    /// <summary>tok512, shared by every thread of a test (the tokenizer is meant to be thread-safe too).</summary>
    public PieceTokenizer Tokenizer { get; } = ManagedModelLoader.LoadTokenizer(TestPaths.Tok512Bin, TestPaths.Stories260K);

    private readonly PieceTokenizer _ggufTokenizer = ManagedModelLoader.LoadTokenizer(null, GgufPath);

    /// <summary>The tokenizer of <paramref name="engine"/>'s model (tok512 but for the GGUF's Llama 2 vocabulary).</summary>
    public PieceTokenizer TokenizerFor(string engine) => engine == Gguf ? _ggufTokenizer : Tokenizer;

    /// <summary>A new model on <paramref name="engine"/> computing with <paramref name="threads"/> threads per call.</summary>
    public ILanguageModel Load(string engine, int threads) => engine switch
    {
        Managed => ManagedModelLoader.LoadModel(TestPaths.Stories260K, threads),
        Safetensors => ManagedModelLoader.LoadModel(SafetensorsPath, threads),
        Gguf => ManagedModelLoader.LoadModel(GgufPath, threads),
        _ => OnnxLanguageModel.Load(ExportDirectory, new EngineOptions { Threads = threads }),
    };

    /// <summary>
    /// Every call of <see cref="Call.All"/> (<paramref name="perKind"/> each) made alone on a single-threaded model: what the
    /// same call must give from any thread, at any thread count.
    /// </summary>
    internal Dictionary<Call, string> References(string engine, int perKind = 8) =>
        _references.GetOrAdd($"{engine}/{perKind}", _ =>
        {
            using ILanguageModel alone = Load(engine, threads: 1);
            return new StoriesCalls(alone, TokenizerFor(engine)).References(Call.All(perKind));
        });

    public void Dispose() => _export.Dispose();
}

/// <summary>
/// The stress tests run one class at a time (each one saturates the machine on purpose) and share one export.
/// </summary>
[CollectionDefinition(Name)]
public sealed class StressCollection : ICollectionFixture<StoriesEngines>
{
    public const string Name = "stress";
}
