using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// <c>Y = X Wᵀ</c> for weights in a ggml block format and activations quantised to int8 (<see cref="QuantizedActivations"/>).
/// Each output is computed by one thread, group after group in a fixed order, so results do not depend on the thread
/// count or on how many tokens are multiplied together (prefill and decode give the same bits).
/// </summary>
/// <remarks>
/// Per group of 32 values the integer products are summed exactly into eight int32 lanes (lanes 0–3 hold the first
/// half-group, 4–7 the second), converted to fp32 and fused-multiply-added with
/// <c>(mul_lo · s, mul_hi · s)</c>, s being the activation scale; the lanes are summed once at the end of the row. The
/// offset terms (<c>add · scale · Σq</c> per half-group) accumulate in a separate scalar. Prefill takes four tokens per
/// pass over a row, so each block is decoded once for four dot products.
/// </remarks>
internal static unsafe class BlockKernels
{
    /// <summary>Rows <paramref name="rowStart"/>..<paramref name="rowEnd"/> of the product for <paramref name="tokens"/> tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<F>(byte* w, long rowBytes, int cols, QuantizedActivations x, int tokens, float* y, int yStride,
        int rowStart, int rowEnd, KernelPath path) where F : struct, IBlockFormat
    {
        bool native = path >= KernelPath.Native256 && Avx2.IsSupported;
        float* mul = stackalloc float[16];
        float* add = stackalloc float[16];
        for (int r = rowStart; r < rowEnd; r++)
        {
            byte* row = w + r * rowBytes;
            int t = 0;
            for (; t + 4 <= tokens; t += 4)
            {
                if (native) Four<F, NativeVariant>(row, cols, x, t, y + (long)t * yStride + r, yStride, mul, add);
                else Four<F, PortableVariant>(row, cols, x, t, y + (long)t * yStride + r, yStride, mul, add);
            }
            for (; t < tokens; t++)
                y[(long)t * yStride + r] = native ? One<F, NativeVariant>(row, cols, x, t, mul, add) : One<F, PortableVariant>(row, cols, x, t, mul, add);
        }
    }

    // Not inlined: inside the dispatching method the JIT ran out of registers and kept the accumulators on the stack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float One<F, P>(byte* row, int cols, QuantizedActivations x, int t, float* mul, float* add) where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* xq = x.Values(t);
        float* xs = x.Scales(t), xh = x.HalfSums(t);
        Vector256<float> acc = Vector256<float>.Zero;
        float offset = 0f;
        int blocks = cols / F.BlockElements, groups = F.BlockElements / 32;
        for (int b = 0; b < blocks; b++)
        {
            byte* block = row + (long)b * F.BlockBytes;
            F.Scales(block, mul, add);
            int g0 = b * groups;
            for (int g = 0; g < groups; g++)
            {
                Vector256<int> isum = Dot<F, P>(F.Group(block, g), Vector256.Load(xq + (g0 + g) * 32));
                float s = xs[g0 + g];
                acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(isum), Scale(mul[2 * g] * s, mul[2 * g + 1] * s), acc);
                if (F.HasOffsets)
                    offset += add[2 * g] * xh[2 * (g0 + g)] + add[2 * g + 1] * xh[2 * (g0 + g) + 1];
            }
        }
        return Vector256.Sum(acc) + offset;
    }

    // Not inlined: inside the dispatching method the JIT ran out of registers and kept the accumulators on the stack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Four<F, P>(byte* row, int cols, QuantizedActivations x, int t, float* y, int yStride, float* mul, float* add)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        sbyte* q0 = x.Values(t), q1 = x.Values(t + 1), q2 = x.Values(t + 2), q3 = x.Values(t + 3);
        float* s0 = x.Scales(t), s1 = x.Scales(t + 1), s2 = x.Scales(t + 2), s3 = x.Scales(t + 3);
        float* h0 = x.HalfSums(t), h1 = x.HalfSums(t + 1), h2 = x.HalfSums(t + 2), h3 = x.HalfSums(t + 3);
        Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
        float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
        int blocks = cols / F.BlockElements, groups = F.BlockElements / 32;
        for (int b = 0; b < blocks; b++)
        {
            byte* block = row + (long)b * F.BlockBytes;
            F.Scales(block, mul, add);
            int g0 = b * groups;
            for (int g = 0; g < groups; g++)
            {
                Vector256<byte> wq = F.Group(block, g);
                int i = g0 + g;
                float mLo = mul[2 * g], mHi = mul[2 * g + 1];
                a0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wq, Vector256.Load(q0 + i * 32))), Scale(mLo * s0[i], mHi * s0[i]), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wq, Vector256.Load(q1 + i * 32))), Scale(mLo * s1[i], mHi * s1[i]), a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wq, Vector256.Load(q2 + i * 32))), Scale(mLo * s2[i], mHi * s2[i]), a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(Dot<F, P>(wq, Vector256.Load(q3 + i * 32))), Scale(mLo * s3[i], mHi * s3[i]), a3);
                if (F.HasOffsets)
                {
                    float aLo = add[2 * g], aHi = add[2 * g + 1];
                    o0 += aLo * h0[2 * i] + aHi * h0[2 * i + 1];
                    o1 += aLo * h1[2 * i] + aHi * h1[2 * i + 1];
                    o2 += aLo * h2[2 * i] + aHi * h2[2 * i + 1];
                    o3 += aLo * h3[2 * i] + aHi * h3[2 * i + 1];
                }
            }
        }
        y[0] = Vector256.Sum(a0) + o0;
        y[yStride] = Vector256.Sum(a1) + o1;
        y[2L * yStride] = Vector256.Sum(a2) + o2;
        y[3L * yStride] = Vector256.Sum(a3) + o3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(float lo, float hi) => Vector256.Create(Vector128.Create(lo), Vector128.Create(hi));

    /// <summary>Eight int32 lanes, lane i = Σ of products 4i..4i+3 (exact); unsigned weights use u8 × s8 products directly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot<F, P>(Vector256<byte> w, Vector256<sbyte> x) where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        if (P.Native && F.Unsigned)
        {
            if (AvxVnni.IsSupported)
                return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, w, x);
            return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w, x), Vector256.Create((short)1));
        }
        return Int8Dot.Quads(w.AsSByte(), x, P.Native);
    }
}
