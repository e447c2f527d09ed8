using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// The 128-bit and scalar paths of <see cref="MatMulKernel"/>. They keep the 256-bit path's arithmetic exactly: sixteen
/// accumulator lanes, lane <c>i</c> taking column <c>k + i</c> of each group of 16 with a fused multiply-add (a last
/// group of eight into lanes 0–7), lanes i and i+8 added, summed as ((0+1)+(2+3)) + ((4+5)+(6+7)), then the tail
/// unfused in order. So every path gives the same bits, and only speed differs.
/// </summary>
internal static unsafe partial class MatMulKernel
{
    /// <summary>128-bit vectors: 2 rows × 1 token tiles (8 accumulators, within the SSE/NEON register budget).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply128(float* w, int wStride, int cols, float* x, int xStride, int tokens, float* y, int yStride, int rowStart, int rowEnd)
    {
        int r = rowStart;
        for (; r + 2 <= rowEnd; r += 2)
            for (int t = 0; t < tokens; t++)
            {
                float* xt = x + (long)t * xStride, yt = y + (long)t * yStride + r;
                yt[0] = Dot128(w + (long)r * wStride, xt, cols, w + (long)(r + 1) * wStride, out yt[1]);
            }
        for (; r < rowEnd; r++)
            for (int t = 0; t < tokens; t++)
                y[(long)t * yStride + r] = Dot128(w + (long)r * wStride, x + (long)t * xStride, cols, null, out _);
    }

    /// <summary>Row <paramref name="w"/>'s dot product with <paramref name="x"/>, and row <paramref name="w1"/>'s if not null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot128(float* w, float* x, int cols, float* w1, out float second)
    {
        // Lanes 0–3, 4–7, 8–11, 12–15 of each row.
        Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector128<float> b0 = default, b1 = default, b2 = default, b3 = default;
        bool two = w1 != null;
        int k = 0;
        for (; k + 16 <= cols; k += 16)
        {
            Vector128<float> v0 = Vector128.Load(x + k), v1 = Vector128.Load(x + k + 4), v2 = Vector128.Load(x + k + 8), v3 = Vector128.Load(x + k + 12);
            a0 = Vector128.FusedMultiplyAdd(Vector128.Load(w + k), v0, a0);
            a1 = Vector128.FusedMultiplyAdd(Vector128.Load(w + k + 4), v1, a1);
            a2 = Vector128.FusedMultiplyAdd(Vector128.Load(w + k + 8), v2, a2);
            a3 = Vector128.FusedMultiplyAdd(Vector128.Load(w + k + 12), v3, a3);
            if (two)
            {
                b0 = Vector128.FusedMultiplyAdd(Vector128.Load(w1 + k), v0, b0);
                b1 = Vector128.FusedMultiplyAdd(Vector128.Load(w1 + k + 4), v1, b1);
                b2 = Vector128.FusedMultiplyAdd(Vector128.Load(w1 + k + 8), v2, b2);
                b3 = Vector128.FusedMultiplyAdd(Vector128.Load(w1 + k + 12), v3, b3);
            }
        }
        second = two ? Finish128(b0, b1, b2, b3, w1, x, k, cols) : 0;
        return Finish128(a0, a1, a2, a3, w, x, k, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish128(Vector128<float> a0, Vector128<float> a1, Vector128<float> a2, Vector128<float> a3, float* w, float* x, int k, int cols)
    {
        if (k + 8 <= cols)
        {
            a0 = Vector128.FusedMultiplyAdd(Vector128.Load(w + k), Vector128.Load(x + k), a0);
            a1 = Vector128.FusedMultiplyAdd(Vector128.Load(w + k + 4), Vector128.Load(x + k + 4), a1);
            k += 8;
        }
        return Tail(KernelPaths.Sum8(a0 + a2, a1 + a3), w, x, k, cols);
    }

    /// <summary>No vectors at all: one dot product after another.</summary>
    private static void MultiplyScalar(float* w, int wStride, int cols, float* x, int xStride, int tokens, float* y, int yStride, int rowStart, int rowEnd)
    {
        for (int r = rowStart; r < rowEnd; r++)
            for (int t = 0; t < tokens; t++)
                y[(long)t * yStride + r] = DotScalar(w + (long)r * wStride, x + (long)t * xStride, cols);
    }

    /// <summary>Sixteen scalar accumulators, one per lane of the vector paths: the arithmetic written out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotScalar(float* w, float* x, int cols)
    {
        float* a = stackalloc float[16];
        new Span<float>(a, 16).Clear();
        int k = 0;
        for (; k + 16 <= cols; k += 16)
            for (int i = 0; i < 16; i++)
                a[i] = MathF.FusedMultiplyAdd(w[k + i], x[k + i], a[i]);
        if (k + 8 <= cols)
        {
            for (int i = 0; i < 8; i++)
                a[i] = MathF.FusedMultiplyAdd(w[k + i], x[k + i], a[i]);
            k += 8;
        }
        Span<float> lanes = stackalloc float[8];
        for (int i = 0; i < 8; i++)
            lanes[i] = a[i] + a[i + 8];
        return Tail(KernelPaths.Sum8(lanes), w, x, k, cols);
    }
}
