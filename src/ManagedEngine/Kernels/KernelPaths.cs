using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// Which implementation of the matrix kernels (<see cref="MatMulKernel"/>, the Q8 row kernels, attention's
/// weighted sum) runs. Every path computes each output with the same lane layout, fused multiply-adds and
/// lane-pairing order, so all paths give the same bits; the lower ones exist for machines without wide
/// vectors and are forced in tests (and with <c>MLPIPE_KERNELS</c>) so that they run everywhere.
/// </summary>
internal enum KernelPath
{
    /// <summary>Plain C#: eight scalar accumulators standing in for the eight lanes.</summary>
    Scalar,

    /// <summary><see cref="Vector128"/> only: each eight-lane accumulator is a pair of 128-bit vectors.</summary>
    Portable128,

    /// <summary><see cref="Vector256"/> without raw intrinsics.</summary>
    Portable256,

    /// <summary><see cref="Vector256"/> with the x86 intrinsics that beat the portable API (horizontal adds, byte multiply-adds) where supported.</summary>
    Native256,

    /// <summary>
    /// As <see cref="Native256"/>, plus 512-bit Q8 rows (their own, different summation order) and 512-bit fp32 prefill tiles
    /// (two eight-lane accumulators per register: the same sums, the same bits as 256-bit).
    /// </summary>
    Native512,
}

/// <summary>Chooses the <see cref="KernelPath"/>: the best this machine accelerates, unless <c>MLPIPE_KERNELS</c> forces a lower one.</summary>
internal static class KernelPaths
{
    /// <summary>The environment variable read once at start-up: <c>scalar</c>, <c>portable128</c>, <c>portable256</c>, <c>native256</c> or <c>native512</c>.</summary>
    public const string EnvironmentVariable = "MLPIPE_KERNELS";

    /// <summary>The widest path this machine runs in hardware.</summary>
    public static KernelPath Best { get; } =
        Vector512.IsHardwareAccelerated ? KernelPath.Native512
        : Vector256.IsHardwareAccelerated ? KernelPath.Native256
        : Vector128.IsHardwareAccelerated ? KernelPath.Portable128
        : KernelPath.Scalar;

    /// <summary>The path the engine uses: <see cref="Best"/>, or what <c>MLPIPE_KERNELS</c> names.</summary>
    public static KernelPath Default { get; } = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable)) ?? Best;

    /// <summary>The path a setting names, or null for none (empty, <c>auto</c>).</summary>
    /// <exception cref="ArgumentException">The value names no path.</exception>
    public static KernelPath? Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "scalar" => KernelPath.Scalar,
        "portable128" => KernelPath.Portable128,
        "portable256" => KernelPath.Portable256,
        "native256" => KernelPath.Native256,
        "native512" => KernelPath.Native512,
        _ => throw new ArgumentException(
            $"{EnvironmentVariable}={value} is not one of scalar, portable128, portable256, native256, native512, auto."),
    };

    /// <summary>
    /// The sum of eight lanes held as two halves, paired as ((0+1)+(2+3)) + ((4+5)+(6+7)): the order
    /// <see cref="Vector256.Sum{T}"/> uses on x86 (the tests check that), written out so that it is the same on
    /// every machine and path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum8(Vector128<float> lo, Vector128<float> hi) => Sum4(lo) + Sum4(hi);

    /// <summary><see cref="Sum8(Vector128{float}, Vector128{float})"/> of one 256-bit vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum8(Vector256<float> v) => Sum4(v.GetLower()) + Sum4(v.GetUpper());

    /// <summary>Eight scalar lanes in the same pairing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum8(ReadOnlySpan<float> lanes) =>
        ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum4(Vector128<float> v) => (v.GetElement(0) + v.GetElement(1)) + (v.GetElement(2) + v.GetElement(3));
}
