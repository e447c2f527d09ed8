using Microsoft.ML.OnnxRuntime;

namespace MlPipelines.Pipelines.Onnx;

/// <summary>How the ONNX Runtime engine runs a model.</summary>
public sealed record OnnxEngineOptions
{
    /// <summary>The execution provider (default: CPU).</summary>
    public ExecutionProvider Provider { get; init; } = ExecutionProvider.Cpu;

    /// <summary>The GPU's device id for CUDA or DirectML.</summary>
    public int DeviceId { get; init; }

    /// <summary>
    /// When the requested provider is not available, run on the CPU instead of failing; the model's
    /// <see cref="OnnxLanguageModel.FallbackNotice"/> then says what happened.
    /// </summary>
    public bool FallbackToCpu { get; init; }

    /// <summary>Threads ONNX Runtime uses inside an operator; 0 lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Graph optimisation level (default: all optimisations).</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Provider))
            throw new ArgumentOutOfRangeException(nameof(Provider), Provider, "Unknown execution provider.");
        if (DeviceId < 0)
            throw new ArgumentOutOfRangeException(nameof(DeviceId), DeviceId, "Device id must be ≥ 0.");
        if (IntraOpThreads < 0)
            throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "Thread count must be ≥ 0 (0 = ONNX Runtime's default).");
    }
}
