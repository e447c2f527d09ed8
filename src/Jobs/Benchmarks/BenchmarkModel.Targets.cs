using System.Diagnostics;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Jobs.Benchmarks;

// Opening the model as a benchmark target, with its load time, memory and weight format recorded.
public sealed partial class BenchmarkModel
{
    /// <summary>How the model's weights are stored in its files (see <see cref="ResolvedModel.WeightFormat"/>).</summary>
    public ModelWeightFormat WeightFormat => Model.WeightFormat;

    /// <summary>The model as a report records it.</summary>
    /// <param name="synthetic">True for a random-weight checkpoint of a named shape.</param>
    public BenchmarkModelInfo Describe(bool synthetic) =>
        new(Name, Location, synthetic, Config, BenchmarkModelInfo.ParameterCount(Config), FileBytes()) { WeightFormat = WeightFormat };

    /// <summary>
    /// Opens the model on <paramref name="engine"/> (see <see cref="Open"/>) as a benchmark target: the time the opening
    /// took, and the process's resident memory read right before and right after it (outside that time), with how the
    /// engine holds the weights (<see cref="ModelLoad"/>).
    /// </summary>
    /// <inheritdoc cref="Open" path="/param"/>
    /// <inheritdoc cref="Open" path="/exception"/>
    public BenchmarkTarget OpenTarget(EngineKind engine, int threads, string? quantization = null)
    {
        CheckQuantization(engine, quantization);
        bool requantized = engine == EngineKind.Managed && ManagedModelLoader.RequantizesOnLoad(Model, quantization is not null);
        string? stored = Checkpoint is null ? null : WeightFormat.SingleType;   // read before measuring, not during
        long before = ProcessMemory.ResidentBytes();
        long start = Stopwatch.GetTimestamp();
        ILanguageModel model = Open(engine, threads, quantization);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long after = ProcessMemory.ResidentBytes();
        long? kvCache = engine == EngineKind.Managed ? TransformerSession.KvCacheBytes(Config) : null;
        return new BenchmarkTarget(EngineName(engine), threads, model, seconds)
        {
            Load = new ModelLoad(WeightsAsRun(engine, model.Description.Precision, stored, requantized), requantized, before, after, kvCache),
        };
    }

    /// <summary>The name rows and progress lines give <paramref name="engine"/>: <c>managed</c> or <c>onnx</c>.</summary>
    public static string EngineName(EngineKind engine) => engine == EngineKind.Onnx ? "onnx" : "managed";

    // What the engine computes with, from the precision the loaded model reports: ONNX Runtime runs the export's weights
    // (fp32, or the fp16/int4/int8 of a fused export); the managed engine runs fp32 ("F32", converted on load unless the file is F32) or int8 Q8_0 (a llama2.c
    // int8 file, or quantised on load), and any other precision it reports (weights used as stored) is shown as it is.
    private static string WeightsAsRun(EngineKind engine, string precision, string? storedType, bool requantized) =>
        engine != EngineKind.Managed ? (precision == "fp32" ? "F32" : precision) : precision switch
        {
            "fp32" => storedType == "F32" ? "F32" : "F32 (converted on load)",
            "int8 (Q8_0)" => requantized ? "Q8_0 (quantised on load)" : "Q8_0",
            _ => precision,
        };
}
