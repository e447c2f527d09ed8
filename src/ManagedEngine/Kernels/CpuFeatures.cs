using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>The vector instruction sets the kernels can use on this machine, for descriptions and benchmark records.</summary>
public static class CpuFeatures
{
    /// <summary>A short list such as <c>avx512f+avx2+fma</c>, <c>neon</c> or <c>scalar</c>.</summary>
    public static string Describe()
    {
        var parts = new List<string>();
        if (Vector512.IsHardwareAccelerated) parts.Add("avx512f");
        if (AvxVnni.IsSupported) parts.Add("avxvnni");
        if (Avx2.IsSupported) parts.Add("avx2");
        if (Fma.IsSupported) parts.Add("fma");
        if (System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported) parts.Add("neon");
        if (parts.Count == 0) parts.Add(Vector128.IsHardwareAccelerated ? "sse" : "scalar");
        return string.Join('+', parts);
    }
}
