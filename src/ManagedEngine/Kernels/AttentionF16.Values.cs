using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// The weighted sum of a block of widened value rows, added into an output: <c>o += Σ_s p[s] · v_s</c>, in the arithmetic
/// of <see cref="Attention"/>'s (and <see cref="AttentionPortable"/>'s) weighted sum: each output element below the last
/// multiple of 8 of the head width is one fused multiply-add chain in position order, the rest plain multiply-then-add.
/// The chain starts from the output (zero before the first block) and goes back to it after the block, which changes no
/// bit. Within a block the head is cut into as few passes as possible with every accumulator in a register, as the fp32
/// kernel does (so the chain's latency, not a store and reload, sets the pace).
/// </summary>
internal static unsafe partial class AttentionF16
{
    /// <summary>The 256-bit paths: 64, 48, 32, 16 and 8 elements per pass, then the unfused tail.</summary>
    /// <param name="o">The output, <paramref name="headDim"/> floats, updated.</param>
    /// <param name="p">The weights of the block's rows.</param>
    /// <param name="v">The widened rows, <paramref name="headDim"/> floats apart.</param>
    /// <param name="count">Rows to add.</param>
    /// <param name="headDim">Width of a head.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate256(float* o, float* p, float* v, int count, int headDim)
    {
        int i = 0;
        for (; i + 64 <= headDim; i += 64)
            Block8(o + i, p, v + i, headDim, count);
        if (i + 48 <= headDim)
        {
            Block6(o + i, p, v + i, headDim, count);
            i += 48;
        }
        for (; i + 32 <= headDim; i += 32)
            Block4(o + i, p, v + i, headDim, count);
        for (; i + 16 <= headDim; i += 16)
            Block2(o + i, p, v + i, headDim, count);
        for (; i + 8 <= headDim; i += 8)
        {
            Vector256<float> acc = Vector256.Load(o + i);
            for (int s = 0; s < count; s++)
                acc = Vector256.FusedMultiplyAdd(Vector256.Load(v + (long)s * headDim + i), Vector256.Create(p[s]), acc);
            acc.Store(o + i);
        }
        UnfusedTail(o, p, v, count, i, headDim);
    }

    /// <summary>The 128-bit path (<paramref name="vectors"/>) or the scalar one: the same chains, narrower or one at a time.</summary>
    /// <inheritdoc cref="Accumulate256" path="/param"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate128(float* o, float* p, float* v, int count, int headDim, bool vectors)
    {
        int fused = headDim - headDim % 8, i = 0;
        if (vectors)
        {
            for (; i + 32 <= fused; i += 32)
                Block8Of128(o + i, p, v + i, headDim, count);
            for (; i + 4 <= fused; i += 4)
            {
                Vector128<float> acc = Vector128.Load(o + i);
                for (int s = 0; s < count; s++)
                    acc = Vector128.FusedMultiplyAdd(Vector128.Load(v + (long)s * headDim + i), Vector128.Create(p[s]), acc);
                acc.Store(o + i);
            }
        }
        for (; i < fused; i++)
        {
            float sum = o[i];
            for (int s = 0; s < count; s++)
                sum = MathF.FusedMultiplyAdd(v[(long)s * headDim + i], p[s], sum);
            o[i] = sum;
        }
        UnfusedTail(o, p, v, count, i, headDim);
    }

    /// <summary>Elements <paramref name="i"/>.. past the last multiple of 8: multiply, round, add, as the fp32 kernels do.</summary>
    private static void UnfusedTail(float* o, float* p, float* v, int count, int i, int headDim)
    {
        for (; i < headDim; i++)
        {
            float sum = o[i];
            for (int s = 0; s < count; s++)
                sum += p[s] * v[(long)s * headDim + i];
            o[i] = sum;
        }
    }

    /// <summary>64 elements in 8 registers, one pass over the rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block8(float* o, float* p, float* v, int stride, int count)
    {
        Vector256<float> a0 = Vector256.Load(o), a1 = Vector256.Load(o + 8), a2 = Vector256.Load(o + 16), a3 = Vector256.Load(o + 24);
        Vector256<float> a4 = Vector256.Load(o + 32), a5 = Vector256.Load(o + 40), a6 = Vector256.Load(o + 48), a7 = Vector256.Load(o + 56);
        for (int s = 0; s < count; s++)
        {
            float* row = v + (long)s * stride;
            Vector256<float> w = Vector256.Create(p[s]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), w, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), w, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 16), w, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 24), w, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 32), w, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 40), w, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 48), w, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 56), w, a7);
        }
        a0.Store(o); a1.Store(o + 8); a2.Store(o + 16); a3.Store(o + 24);
        a4.Store(o + 32); a5.Store(o + 40); a6.Store(o + 48); a7.Store(o + 56);
    }

    /// <summary>48 elements in 6 registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block6(float* o, float* p, float* v, int stride, int count)
    {
        Vector256<float> a0 = Vector256.Load(o), a1 = Vector256.Load(o + 8), a2 = Vector256.Load(o + 16);
        Vector256<float> a3 = Vector256.Load(o + 24), a4 = Vector256.Load(o + 32), a5 = Vector256.Load(o + 40);
        for (int s = 0; s < count; s++)
        {
            float* row = v + (long)s * stride;
            Vector256<float> w = Vector256.Create(p[s]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), w, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), w, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 16), w, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 24), w, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 32), w, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 40), w, a5);
        }
        a0.Store(o); a1.Store(o + 8); a2.Store(o + 16); a3.Store(o + 24); a4.Store(o + 32); a5.Store(o + 40);
    }

    /// <summary>32 elements in 4 registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4(float* o, float* p, float* v, int stride, int count)
    {
        Vector256<float> a0 = Vector256.Load(o), a1 = Vector256.Load(o + 8), a2 = Vector256.Load(o + 16), a3 = Vector256.Load(o + 24);
        for (int s = 0; s < count; s++)
        {
            float* row = v + (long)s * stride;
            Vector256<float> w = Vector256.Create(p[s]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), w, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), w, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 16), w, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 24), w, a3);
        }
        a0.Store(o); a1.Store(o + 8); a2.Store(o + 16); a3.Store(o + 24);
    }

    /// <summary>16 elements in 2 registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block2(float* o, float* p, float* v, int stride, int count)
    {
        Vector256<float> a0 = Vector256.Load(o), a1 = Vector256.Load(o + 8);
        for (int s = 0; s < count; s++)
        {
            float* row = v + (long)s * stride;
            Vector256<float> w = Vector256.Create(p[s]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), w, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), w, a1);
        }
        a0.Store(o); a1.Store(o + 8);
    }

    /// <summary>The 128-bit path's 32 elements in 8 registers, one pass over the rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block8Of128(float* o, float* p, float* v, int stride, int count)
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
