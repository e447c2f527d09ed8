using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MlPipelines.Jobs.Benchmarks;

/// <summary>The machine a benchmark ran on, recorded beside its numbers so they can be compared.</summary>
/// <param name="Cpu">The CPU model (<c>/proc/cpuinfo</c> "model name" on Linux; else the architecture).</param>
/// <param name="LogicalCores">Logical processors visible to the process.</param>
/// <param name="SimdWidth">Widest hardware-accelerated vector in bits: 512, 256 or 128.</param>
/// <param name="Avx512F">AVX-512 Foundation is available.</param>
/// <param name="Avx2">AVX2 is available.</param>
/// <param name="Fma">FMA3 is available.</param>
/// <param name="AvxVnni">AVX-VNNI (int8 dot products) is available.</param>
/// <param name="DotNet">The .NET runtime, e.g. ".NET 10.0.0".</param>
/// <param name="Os">The operating system description.</param>
/// <param name="Architecture">The process architecture (X64, Arm64, …).</param>
public sealed record MachineInfo(string Cpu, int LogicalCores, int SimdWidth, bool Avx512F, bool Avx2, bool Fma, bool AvxVnni,
    string DotNet, string Os, string Architecture)
{
    /// <summary>Describes the machine this process runs on.</summary>
    public static MachineInfo Current() => new(
        CpuModel(),
        Environment.ProcessorCount,
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128,
        System.Runtime.Intrinsics.X86.Avx512F.IsSupported,
        System.Runtime.Intrinsics.X86.Avx2.IsSupported,
        System.Runtime.Intrinsics.X86.Fma.IsSupported,
        System.Runtime.Intrinsics.X86.AvxVnni.IsSupported,
        RuntimeInformation.FrameworkDescription,
        RuntimeInformation.OSDescription,
        RuntimeInformation.ProcessArchitecture.ToString());

    /// <summary>The instruction-set flags that are on, e.g. "avx2 fma"; "none" when none is.</summary>
    public string InstructionSets
    {
        get
        {
            var on = new List<string>();
            if (Avx512F) on.Add("avx512f");
            if (Avx2) on.Add("avx2");
            if (Fma) on.Add("fma");
            if (AvxVnni) on.Add("avxvnni");
            return on.Count == 0 ? "none" : string.Join(' ', on);
        }
    }

    private static string CpuModel()
    {
        const string cpuinfo = "/proc/cpuinfo";
        try
        {
            if (File.Exists(cpuinfo))
            {
                foreach (string line in File.ReadLines(cpuinfo))
                {
                    int colon = line.IndexOf(':');
                    if (colon > 0 && line[..colon].Trim() == "model name" && line[(colon + 1)..].Trim() is { Length: > 0 } name)
                        return name;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Fall through to what the runtime knows.
        }
        return $"{RuntimeInformation.ProcessArchitecture} CPU (model unknown)";
    }
}
