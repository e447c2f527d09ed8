namespace MlPipelines.OnnxEngine;

/// <summary>The ONNX Runtime execution provider a model runs on.</summary>
public enum ExecutionProvider
{
    /// <summary>The CPU (always available).</summary>
    Cpu,

    /// <summary>NVIDIA GPUs through CUDA (needs the Microsoft.ML.OnnxRuntime.Gpu package).</summary>
    Cuda,

    /// <summary>DirectX 12 GPUs on Windows (needs the Microsoft.ML.OnnxRuntime.DirectML package).</summary>
    DirectML,
}
