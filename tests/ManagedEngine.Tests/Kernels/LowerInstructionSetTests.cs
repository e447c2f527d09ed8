using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

/// <summary>
/// The kernel tests again, in a child process whose runtime is told to ignore AVX-512 and AVX-VNNI
/// (<c>DOTNET_EnableAVX512=0</c>, <c>DOTNET_EnableAVXVNNI=0</c>): on a machine that has them, this is the only way the
/// AVX2 branches (<c>vpmaddubsw</c> + <c>vpmaddwd</c> instead of <c>vpdpbusd</c>/<c>vpdpwssd</c>) and the 16-register
/// 256-bit path run; they must give the same bits as every other path. (.NET 10 reads <c>DOTNET_EnableAVX512</c>; the
/// older <c>DOTNET_EnableAVX512F</c> no longer turns AVX-512 off, which the child's own probe test would catch.)
/// </summary>
public class LowerInstructionSetTests
{
    private const string Marker = "MLPIPE_EXPECT_NO_AVX512_NO_VNNI";

    [Fact]
    public async Task Kernel_tests_pass_without_avx512_and_vnni()
    {
        if (Environment.GetEnvironmentVariable(Marker) == "1")
            return;   // already the child
        string assembly = typeof(LowerInstructionSetTests).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList =
            {
                "test", assembly, "--filter",
                "FullyQualifiedName~BlockKernelTests|FullyQualifiedName~HalfDecodeTests|FullyQualifiedName~KernelPathTests" +
                "|FullyQualifiedName~GgmlAgreementTests|FullyQualifiedName~LowerInstructionSetTests.The_child",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_EnableAVX512"] = "0";
        start.Environment["DOTNET_EnableAVXVNNI"] = "0";
        start.Environment[Marker] = "1";
        using var child = Process.Start(start)!;
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        string output = await child.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await child.WaitForExitAsync(timeout.Token);
        Assert.True(child.ExitCode == 0, output + await stderr);
        Assert.Contains("Passed!", output);
    }

    [Fact]
    public void The_child_runs_without_avx512_and_vnni()
    {
        if (Environment.GetEnvironmentVariable(Marker) != "1")
            return;   // only meaningful in the child
        Assert.False(Vector512.IsHardwareAccelerated);
        Assert.False(AvxVnni.IsSupported);
    }
}
