using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// <see cref="Attention"/>'s weighted sum of values on the 128-bit and scalar paths. Each output element is its
/// own chain over the positions, so the vector width does not change the arithmetic; what must match the 256-bit
/// path is which elements are fused: those below the last multiple of 8 of the head width, the rest unfused.
/// </summary>
internal static unsafe class AttentionPortable
{
    /// <summary><c>o += Σ_s p[s] · v_s</c> (chains continuing from <c>o</c>); <paramref name="vectors"/> selects 128-bit vectors over scalars.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightedSum(float* o, float* p, float* v, int stride, int count, int headDim, bool vectors)
    {
        int fused = headDim - headDim % 8, i = 0;
        if (vectors)
        {
            for (; i + 32 <= fused; i += 32)
                Block8(o + i, p, v + i, stride, count);
            for (; i + 4 <= fused; i += 4)
            {
                Vector128<float> acc = Vector128.Load(o + i);
                for (int s = 0; s < count; s++)
                    acc = Vector128.FusedMultiplyAdd(Vector128.Load(v + (long)s * stride + i), Vector128.Create(p[s]), acc);
                acc.Store(o + i);
            }
        }
        for (; i < fused; i++)
        {
            float sum = o[i];
            for (int s = 0; s < count; s++)
                sum = MathF.FusedMultiplyAdd(v[(long)s * stride + i], p[s], sum);
            o[i] = sum;
        }
        for (; i < headDim; i++)
        {
            float sum = o[i];
            for (int s = 0; s < count; s++)
                sum += p[s] * v[(long)s * stride + i];
            o[i] = sum;
        }
    }

    /// <summary>32 elements in 8 registers, one pass over the positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block8(float* o, float* p, float* v, int stride, int count)
    {
        Vector128<float> a0 = Vector128.Load(o), a1 = Vector128.Load(o + 4), a2 = Vector128.Load(o + 8), a3 = Vector128.Load(o + 12);
        Vector128<float> a4 = Vector128.Load(o + 16), a5 = Vector128.Load(o + 20), a6 = Vector128.Load(o + 24), a7 = Vector128.Load(o + 28);
        for (int s = 0; s < count; s++)
        {
            float* row = v + (long)s * stride;
            Vector128<float> w = Vector128.Create(p[s]);
            a0 = Vector128.FusedMultiplyAdd(Vector128.Load(row), w, a0);
            a1 = Vector128.FusedMultiplyAdd(Vector128.Load(row + 4), w, a1);
            a2 = Vector128.FusedMultiplyAdd(Vector128.Load(row + 8), w, a2);
            a3 = Vector128.FusedMultiplyAdd(Vector128.Load(row + 12), w, a3);
            a4 = Vector128.FusedMultiplyAdd(Vector128.Load(row + 16), w, a4);
            a5 = Vector128.FusedMultiplyAdd(Vector128.Load(row + 20), w, a5);
            a6 = Vector128.FusedMultiplyAdd(Vector128.Load(row + 24), w, a6);
            a7 = Vector128.FusedMultiplyAdd(Vector128.Load(row + 28), w, a7);
        }
        a0.Store(o); a1.Store(o + 4); a2.Store(o + 8); a3.Store(o + 12);
        a4.Store(o + 16); a5.Store(o + 20); a6.Store(o + 24); a7.Store(o + 28);
    }
}
