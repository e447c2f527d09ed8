using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// The 128-bit and scalar paths of <see cref="MatMulKernel"/>. They keep the 256-bit path's arithmetic exactly:
/// eight accumulator lanes, lane <c>i</c> taking columns <c>k + i</c> of each block of 8 with a fused multiply-add,
/// summed as ((0+1)+(2+3)) + ((4+5)+(6+7)), then the tail unfused in order. So every path gives the same bits, and
/// only speed differs. (A 4-lane layout would be more natural for 128-bit vectors but would change the sums.)
/// </summary>
internal static unsafe partial class MatMulKernel
{
    /// <summary>128-bit vectors: 4 rows × 1 token tiles (8 accumulators, the same as the SSE/NEON register budget allows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply128(float* w, int wStride, int cols, float* x, int xStride, int tokens, float* y, int yStride, int rowStart, int rowEnd)
    {
        int r = rowStart;
        for (; r + 4 <= rowEnd; r += 4)
            for (int t = 0; t < tokens; t++)
                Tile4x1Of128(w + (long)r * wStride, wStride, cols, x + (long)t * xStride, y + (long)t * yStride + r);
        for (; r < rowEnd; r++)
            for (int t = 0; t < tokens; t++)
                y[(long)t * yStride + r] = Dot128(w + (long)r * wStride, x + (long)t * xStride, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1Of128(float* w0, int wStride, int cols, float* x, float* y)
    {
        float* w1 = w0 + wStride, w2 = w1 + wStride, w3 = w2 + wStride;
        Vector128<float> l0 = default, h0 = default, l1 = default, h1 = default, l2 = default, h2 = default, l3 = default, h3 = default;
        int k = 0;
        for (; k + 8 <= cols; k += 8)
        {
            Vector128<float> vl = Vector128.Load(x + k), vh = Vector128.Load(x + k + 4);
            l0 = Vector128.FusedMultiplyAdd(Vector128.Load(w0 + k), vl, l0);
            h0 = Vector128.FusedMultiplyAdd(Vector128.Load(w0 + k + 4), vh, h0);
            l1 = Vector128.FusedMultiplyAdd(Vector128.Load(w1 + k), vl, l1);
            h1 = Vector128.FusedMultiplyAdd(Vector128.Load(w1 + k + 4), vh, h1);
            l2 = Vector128.FusedMultiplyAdd(Vector128.Load(w2 + k), vl, l2);
            h2 = Vector128.FusedMultiplyAdd(Vector128.Load(w2 + k + 4), vh, h2);
            l3 = Vector128.FusedMultiplyAdd(Vector128.Load(w3 + k), vl, l3);
            h3 = Vector128.FusedMultiplyAdd(Vector128.Load(w3 + k + 4), vh, h3);
        }
        y[0] = Tail(KernelPaths.Sum8(l0, h0), w0, x, k, cols);
        y[1] = Tail(KernelPaths.Sum8(l1, h1), w1, x, k, cols);
        y[2] = Tail(KernelPaths.Sum8(l2, h2), w2, x, k, cols);
        y[3] = Tail(KernelPaths.Sum8(l3, h3), w3, x, k, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot128(float* w, float* x, int cols)
    {
        Vector128<float> lo = default, hi = default;
        int k = 0;
        for (; k + 8 <= cols; k += 8)
        {
            lo = Vector128.FusedMultiplyAdd(Vector128.Load(w + k), Vector128.Load(x + k), lo);
            hi = Vector128.FusedMultiplyAdd(Vector128.Load(w + k + 4), Vector128.Load(x + k + 4), hi);
        }
        return Tail(KernelPaths.Sum8(lo, hi), w, x, k, cols);
    }

    /// <summary>No vectors at all: one dot product after another.</summary>
    private static void MultiplyScalar(float* w, int wStride, int cols, float* x, int xStride, int tokens, float* y, int yStride, int rowStart, int rowEnd)
    {
        for (int r = rowStart; r < rowEnd; r++)
            for (int t = 0; t < tokens; t++)
                y[(long)t * yStride + r] = DotScalar(w + (long)r * wStride, x + (long)t * xStride, cols);
    }

    /// <summary>Eight scalar accumulators, one per lane of the vector paths.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotScalar(float* w, float* x, int cols)
    {
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
        int k = 0;
        for (; k + 8 <= cols; k += 8)
        {
            a0 = MathF.FusedMultiplyAdd(w[k], x[k], a0);
            a1 = MathF.FusedMultiplyAdd(w[k + 1], x[k + 1], a1);
            a2 = MathF.FusedMultiplyAdd(w[k + 2], x[k + 2], a2);
            a3 = MathF.FusedMultiplyAdd(w[k + 3], x[k + 3], a3);
            a4 = MathF.FusedMultiplyAdd(w[k + 4], x[k + 4], a4);
            a5 = MathF.FusedMultiplyAdd(w[k + 5], x[k + 5], a5);
            a6 = MathF.FusedMultiplyAdd(w[k + 6], x[k + 6], a6);
            a7 = MathF.FusedMultiplyAdd(w[k + 7], x[k + 7], a7);
        }
        return Tail(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)), w, x, k, cols);
    }
}
