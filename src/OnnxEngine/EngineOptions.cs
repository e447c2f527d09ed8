using Microsoft.ML.OnnxRuntime;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// How an engine runs a model: one settings type that both engines honour. A setting an engine cannot honour is an
/// error naming it (see <see cref="Validate"/>), never silently ignored.
/// </summary>
public sealed record EngineOptions
{
    /// <summary>
    /// Threads: per session on the managed engine (0: one per processor); inside an operator on ONNX Runtime
    /// (0: ONNX Runtime's default). Results do not depend on it.
    /// </summary>
    public int Threads { get; init; }

    /// <summary>Managed engine only: quantise fp32 weights to int8 (Q8_0) on load. int8 checkpoints are int8 anyway.</summary>
    public bool Quantize { get; init; }

    /// <summary>Managed engine: how sessions store keys and values (fp32 by default; fp16 halves the cache).</summary>
    public MlPipelines.ManagedEngine.Inference.KvCacheFormat KvCache { get; init; }

    /// <summary>ONNX Runtime's execution provider (default: CPU). The managed engine runs on the CPU only.</summary>
    public ExecutionProvider Provider { get; init; } = ExecutionProvider.Cpu;

    /// <summary>The GPU's device id for CUDA or DirectML.</summary>
    public int DeviceId { get; init; }

    /// <summary>
    /// When the requested provider is not available, run on the CPU instead of failing; the model's
    /// <see cref="ManagedEngine.Model.EngineDescription.Notice"/> then says what happened.
    /// </summary>
    public bool FallbackToCpu { get; init; }

    /// <summary>ONNX Runtime's graph optimisation level (default: all optimisations).</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is invalid or that <paramref name="engine"/> cannot honour.</summary>
    public void Validate(EngineKind engine)
    {
        if (!Enum.IsDefined(Provider))
            throw new ArgumentOutOfRangeException(nameof(Provider), Provider, "Unknown execution provider.");
        if (DeviceId < 0)
            throw new ArgumentOutOfRangeException(nameof(DeviceId), DeviceId, "Device id must be ≥ 0.");
        if (Threads < 0)
            throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Thread count must be ≥ 0 (0 = the engine's default).");
        if (engine == EngineKind.Managed && Provider != ExecutionProvider.Cpu)
            throw new ArgumentException($"{nameof(Provider)} = {Provider} applies to the ONNX Runtime engine; the managed engine runs on the CPU.", nameof(Provider));
        if (engine == EngineKind.Onnx && KvCache != MlPipelines.ManagedEngine.Inference.KvCacheFormat.F32)
            throw new ArgumentException($"{nameof(KvCache)} applies to the managed engine; ONNX Runtime keeps the cache the graph defines.", nameof(KvCache));
        if (engine == EngineKind.Onnx && Quantize)
            throw new ArgumentException($"{nameof(Quantize)} applies to the managed engine; export an int8 model for ONNX Runtime instead.", nameof(Quantize));
    }
}
