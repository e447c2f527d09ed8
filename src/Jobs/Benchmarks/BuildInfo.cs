using System.Diagnostics;
using System.Reflection;
using MlPipelines.ManagedEngine.Inference;

namespace MlPipelines.Jobs.Benchmarks;

/// <summary>Whether the engines run optimized code: a Debug build disables the JIT optimizer and is several times slower.</summary>
public static class BuildInfo
{
    /// <summary>True when the managed engine and this library were compiled with optimizations (a Release build).</summary>
    public static bool IsOptimized { get; } = Optimized(typeof(TransformerModel).Assembly) && Optimized(typeof(BuildInfo).Assembly);

    private static bool Optimized(Assembly assembly) =>
        assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };
}
