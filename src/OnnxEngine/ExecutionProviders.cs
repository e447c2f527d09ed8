using Microsoft.ML.OnnxRuntime;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// Turns <see cref="EngineOptions"/> into ONNX Runtime session options. Availability is checked
/// against the providers the loaded native library reports before anything is appended, so a
/// CPU-only build never reaches a missing native entry point (which would surface as a raw
/// <see cref="EntryPointNotFoundException"/>).
/// </summary>
internal static class ExecutionProviders
{
    public static string NativeName(ExecutionProvider provider) => provider switch
    {
        ExecutionProvider.Cpu => "CPUExecutionProvider",
        ExecutionProvider.Cuda => "CUDAExecutionProvider",
        ExecutionProvider.DirectML => "DmlExecutionProvider",
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, null),
    };

    /// <summary>What a user must do to get <paramref name="provider"/>.</summary>
    public static string Requirement(ExecutionProvider provider) => provider switch
    {
        ExecutionProvider.Cuda =>
            "reference the Microsoft.ML.OnnxRuntime.Gpu package instead of Microsoft.ML.OnnxRuntime " +
            "(Linux x64 and Windows x64 with an NVIDIA GPU, CUDA 12 and cuDNN 9; in this repository: build with " +
            "-p:OnnxRuntimePackage=Microsoft.ML.OnnxRuntime.Gpu)",
        ExecutionProvider.DirectML =>
            "reference the Microsoft.ML.OnnxRuntime.DirectML package instead of Microsoft.ML.OnnxRuntime " +
            "(Windows 10/11 on x64 or arm64 with a DirectX 12 GPU; in this repository: build with " +
            "-p:OnnxRuntimePackage=Microsoft.ML.OnnxRuntime.DirectML)",
        _ => "",
    };

    /// <summary>Creates session options; <paramref name="active"/> is the provider actually used.</summary>
    public static SessionOptions Create(EngineOptions options, out ExecutionProvider active, out string? fallbackNotice)
    {
        options.Validate(EngineKind.Onnx);
        var session = new SessionOptions
        {
            GraphOptimizationLevel = options.OptimizationLevel,
            IntraOpNumThreads = options.Threads,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        HugePageAllocator.Apply(session);
        active = ExecutionProvider.Cpu;
        fallbackNotice = null;
        if (options.Provider == ExecutionProvider.Cpu)
            return session;

        try
        {
            AppendGpu(session, options);
            active = options.Provider;
        }
        catch (ExecutionProviderUnavailableException e) when (options.FallbackToCpu)
        {
            fallbackNotice = $"{e.Message} Falling back to the CPU provider.";
        }
        catch
        {
            session.Dispose();
            throw;
        }
        return session;
    }

    private static void AppendGpu(SessionOptions session, EngineOptions options)
    {
        string name = NativeName(options.Provider);
        string[] available = OrtEnv.Instance().GetAvailableProviders();
        if (!available.Contains(name, StringComparer.Ordinal))
            throw new ExecutionProviderUnavailableException(options.Provider,
                $"The {options.Provider} execution provider is not available: this ONNX Runtime build offers only " +
                $"{string.Join(", ", available)}. To use it, {Requirement(options.Provider)}; or allow falling back to the CPU " +
                "(EngineOptions.FallbackToCpu).");
        try
        {
            if (options.Provider == ExecutionProvider.Cuda)
                session.AppendExecutionProvider_CUDA(options.DeviceId);
            else
                session.AppendExecutionProvider_DML(options.DeviceId);
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            throw new ExecutionProviderUnavailableException(options.Provider,
                $"The {options.Provider} execution provider could not be started on device {options.DeviceId}: {e.Message}. " +
                $"Check the GPU, its driver and runtime libraries; the package needed is described as: {Requirement(options.Provider)}.", e);
        }
    }
}
