using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// <c>Y = X Wᵀ</c> for the 32-value block formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) with Block32 activations.
/// </summary>
/// <remarks>
/// <para>
/// The arithmetic of every output (row, token) is one fp32 chain over the row's blocks, in order:
/// <c>acc ← fma(I, d·s, acc)</c>, then for formats with minimums <c>acc ← fma(m, s·Σx, acc)</c>, where <c>I</c> is the
/// block's exact integer dot product (its bias included; |I| &lt; 2^24, so exact in fp32), <c>d</c> and <c>m</c> the
/// block's fp16 scale and minimum, <c>s</c> the activation block's scale. Every kernel below computes exactly that, so the
/// bits do not depend on the path, the thread count (rows are split between threads) or how many tokens a call carries.
/// </para>
/// <para>
/// The kernels put eight rows in the eight lanes of a vector, so that the conversion and the fused multiply-add are paid
/// once per eight (row, token) pairs rather than once per pair. Decode sums each row's block in int32 lanes and reduces
/// eight rows at once with horizontal adds. Prefill transposes a block of eight rows once (vector k holds values
/// 4k..4k+3 of each row) and reuses it for every token of the chunk: one VNNI multiply-add per 32 products, the activation
/// quad broadcast. On VNNI, Q8_0's signed values are flipped to unsigned (<c>q + 128</c>) and the block sum starts at
/// <c>−128 · Σx</c>, as Q4_0's and Q5_0's do with their own biases. Rows after the last group of eight take a scalar loop
/// with the same operations.
/// </para>
/// </remarks>
internal static unsafe partial class Block32Kernels
{
    /// <summary>Tokens per prefill tile: their accumulators (eight floats each) stay in L1, and each weight block is
    /// transposed once per tile.</summary>
    private const int TileTokens = QuantizedActivations.TileTokens;

    /// <summary>How far past the current column the decode kernel prefetches (measured from 512 B to 16 KB: 4 KB best).</summary>
    private const int PrefetchDistance = 4096;

    /// <summary>
    /// Rows rowStart..rowEnd of <c>Y = X Wᵀ</c> for the chunk's tokens. <c>finiteScales</c>: no block scale or minimum is
    /// an fp16 infinity or NaN (<see cref="StoredMatrix"/> checks once per matrix), so decode may convert them with four
    /// instructions instead of twelve.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply<F>(byte* w, long rowBytes, int cols, QuantizedActivations x, int tokens, float* y, int yStride,
        int rowStart, int rowEnd, KernelPath path, bool finiteScales) where F : struct, IBlockFormat
    {
        bool native = path >= KernelPath.Native256 && Avx2.IsSupported;
        int r = rowStart;
        if (native && tokens >= 2)
        {
            float* acc = stackalloc float[TileTokens * 8];
            for (int t0 = 0; t0 < tokens; t0 += TileTokens)
            {
                int n = Math.Min(TileTokens, tokens - t0);
                for (r = rowStart; r + 8 <= rowEnd; r += 8)
                    EightRowsTransposed<F>(w + r * rowBytes, rowBytes, cols, x, t0, n, y + (long)t0 * yStride + r, yStride, acc);
            }
        }
        else
        {
            for (; r + 8 <= rowEnd; r += 8)
                for (int t = 0; t < tokens; t++)
                {
                    if (native && finiteScales) EightRows<F, NativeVariant>(w + r * rowBytes, rowBytes, cols, x, t, y + (long)t * yStride + r);
                    else EightRows<F, PortableVariant>(w + r * rowBytes, rowBytes, cols, x, t, y + (long)t * yStride + r);
                }
        }
        for (; r < rowEnd; r++)
            for (int t = 0; t < tokens; t++)
                y[(long)t * yStride + r] = Row<F>(w + r * rowBytes, cols, x, t);
    }

    /// <summary>
    /// The bias the integer sums carry on this path: the format's own (Q4_0 8, Q5_0 16), or 128 for Q8_0 on VNNI, whose
    /// unsigned-by-signed multiply-add takes the signed values flipped to <c>q + 128</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SumBias<F, P>() where F : struct, IBlockFormat where P : struct, IKernelVariant =>
        P.Native && AvxVnni.IsSupported && !F.Unsigned ? 128 : F.Bias;

    /// <summary>One row, one token: the reference order, in scalars (rows after the last group of eight).</summary>
    private static float Row<F>(byte* row, int cols, QuantizedActivations x, int t) where F : struct, IBlockFormat
    {
        sbyte* xq = x.Values(t);
        float* xs = x.Scales(t), xsum = x.BlockSums(t);
        int* c = x.Corrections(t, F.Bias);
        float acc = 0f;
        for (int b = 0; b < cols / 32; b++)
        {
            byte* p = row + (long)b * F.BlockBytes;
            int sum = Vector256.Sum(Int8Dot.Quads(F.Group(p, 0).AsSByte(), Vector256.Load(xq + b * 32), native: false));
            if (F.Bias != 0) sum += c[b];
            acc = MathF.FusedMultiplyAdd(sum, Fp16.Read(p + F.ScaleOffset) * xs[b], acc);
            if (F.MinOffset >= 0) acc = MathF.FusedMultiplyAdd(Fp16.Read(p + F.MinOffset), xsum[b], acc);
        }
        return acc;
    }

    /// <summary>Rows r..r+7 for token <paramref name="t"/> (decode): each row's block summed in int32 lanes, the eight rows reduced together.</summary>
    // Not inlined: inside the dispatching method the JIT ran out of registers and kept values on the stack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void EightRows<F, P>(byte* row, long rowBytes, int cols, QuantizedActivations x, int t, float* y)
        where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        int bias = SumBias<F, P>();
        sbyte* xq = x.Values(t);
        float* xs = x.Scales(t), xsum = x.BlockSums(t);
        int* c = x.Corrections(t, bias);
        long rb = rowBytes;
        // Decode streams each weight once from memory, eight rows at a time; short rows end before the hardware prefetcher
        // has learnt them. Each 64 bytes into the rows, the eight lanes ask for the line PrefetchDistance further on: in
        // their own row while it lasts (rows longer than 4 KB), else in the rows seven past theirs, so that over one row's
        // width they fetch a whole group of eight rows about 4 KB + 7 rows ahead (two groups or so for short rows).
        long line = 0;
        Vector256<float> acc = Vector256<float>.Zero;
        int blocks = cols / 32, bb = F.BlockBytes;
        for (int b = 0; b < blocks; b++)
        {
            long offset = (long)b * bb;
            byte* p = row + offset;
            if (P.Native && offset >= line)
            {
                long ahead = line + PrefetchDistance;
                byte* target = row + ahead + (ahead >= rowBytes ? 7 * rowBytes : 0);
                for (int r = 0; r < 8; r++) Sse.Prefetch0(target + r * rb);
                line += 64;
            }
            Vector256<sbyte> xv = Vector256.Load(xq + b * 32);
            Vector256<int> sums = Reduce<P>(
                RowDot<F, P>(p, xv), RowDot<F, P>(p + rb, xv), RowDot<F, P>(p + 2 * rb, xv), RowDot<F, P>(p + 3 * rb, xv),
                RowDot<F, P>(p + 4 * rb, xv), RowDot<F, P>(p + 5 * rb, xv), RowDot<F, P>(p + 6 * rb, xv), RowDot<F, P>(p + 7 * rb, xv));
            if (bias != 0) sums += Vector256.Create(c[b]);
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums), DecodeHalves<P>(p + F.ScaleOffset, rb) * Vector256.Create(xs[b]), acc);
            if (F.MinOffset >= 0)
                acc = Vector256.FusedMultiplyAdd(DecodeHalves<P>(p + F.MinOffset, rb), Vector256.Create(xsum[b]), acc);
        }
        acc.Store(y);
    }

    /// <summary>
    /// Rows r..r+7 for tokens t0..t0+n−1 (prefill, x86): each block of the eight rows is transposed once — vector k holds
    /// values 4k..4k+3 of each row, a row per lane — then every token adds eight multiply-adds of a broadcast activation
    /// quad into one int32 vector, and one conversion and one fused multiply-add into its accumulator.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void EightRowsTransposed<F>(byte* row, long rowBytes, int cols, QuantizedActivations x, int t0, int n,
        float* y, int yStride, float* acc) where F : struct, IBlockFormat
    {
        int bias = SumBias<F, NativeVariant>();
        long rb = rowBytes;
        int blocks = cols / 32, bb = F.BlockBytes;
        for (int i = 0; i < n; i++) Vector256<float>.Zero.Store(acc + i * 8);
        for (int b = 0; b < blocks; b++)
        {
            byte* p = row + (long)b * bb;
            // The tile's tokens for this block, one after another (QuantizedActivations' block-major copy). Found before
            // the transposed weights exist: a call while they are live would make the JIT keep them on the stack.
            long first = x.TileIndex(t0, b);
            sbyte* xq = x.TiledValues + first * 32;
            float* xs = x.TiledScales + first, xsum = x.TiledBlockSums + first;
            int* c = x.TiledCorrections(bias) + first;
            Transpose(Prepared<F>(p), Prepared<F>(p + rb), Prepared<F>(p + 2 * rb), Prepared<F>(p + 3 * rb),
                Prepared<F>(p + 4 * rb), Prepared<F>(p + 5 * rb), Prepared<F>(p + 6 * rb), Prepared<F>(p + 7 * rb),
                out Vector256<int> w0, out Vector256<int> w1, out Vector256<int> w2, out Vector256<int> w3,
                out Vector256<int> w4, out Vector256<int> w5, out Vector256<int> w6, out Vector256<int> w7);
            Vector256<float> d = RowHalves<NativeVariant>(p + F.ScaleOffset, rb);
            Vector256<float> m = F.MinOffset >= 0 ? RowHalves<NativeVariant>(p + F.MinOffset, rb) : default;
            for (int i = 0; i < n; i++)
            {
                Vector256<int> sums = EightQuads<F>(bias != 0 ? Vector256.Create(c[i]) : Vector256<int>.Zero, w0, w1, w2, w3, w4, w5, w6, w7, (int*)(xq + i * 32));
                float* a = acc + i * 8;
                Vector256<float> v = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums), d * Vector256.Create(xs[i]), Vector256.Load(a));
                if (F.MinOffset >= 0) v = Vector256.FusedMultiplyAdd(m, Vector256.Create(xsum[i]), v);
                v.Store(a);
            }
        }
        for (int i = 0; i < n; i++) Vector256.Load(acc + i * 8).Store(y + (long)i * yStride);
    }

    /// <summary>A block's 32 values as the transposed kernel multiplies them: Q8_0 flipped to unsigned on VNNI.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Prepared<F>(byte* p) where F : struct, IBlockFormat
    {
        Vector256<byte> q = F.Group(p, 0);
        return (AvxVnni.IsSupported && !F.Unsigned ? q ^ Vector256.Create((byte)0x80) : q).AsInt32();
    }

    /// <summary>
    /// One token's block against eight rows held transposed (vector k = values 4k..4k+3 of each row): lane r =
    /// <paramref name="start"/> + Σ of row r's 32 products, as two chains of four multiply-adds (integer sums: the order
    /// is free), which halves the latency per token.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> EightQuads<F>(Vector256<int> start, Vector256<int> w0, Vector256<int> w1, Vector256<int> w2,
        Vector256<int> w3, Vector256<int> w4, Vector256<int> w5, Vector256<int> w6, Vector256<int> w7, int* quads) where F : struct, IBlockFormat
    {
        Vector256<int> low = QuadDot<F>(start, w0, quads[0]);
        Vector256<int> high = QuadDot<F>(Vector256<int>.Zero, w4, quads[4]);
        low = QuadDot<F>(low, w1, quads[1]);
        high = QuadDot<F>(high, w5, quads[5]);
        low = QuadDot<F>(low, w2, quads[2]);
        high = QuadDot<F>(high, w6, quads[6]);
        low = QuadDot<F>(low, w3, quads[3]);
        high = QuadDot<F>(high, w7, quads[7]);
        return low + high;
    }

    /// <summary><paramref name="sum"/> plus, per lane (row), its four values times the token's four activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> QuadDot<F>(Vector256<int> sum, Vector256<int> w, int quad) where F : struct, IBlockFormat
    {
        Vector256<sbyte> x = Vector256.Create(quad).AsSByte();
        if (AvxVnni.IsSupported)
            return AvxVnni.MultiplyWideningAndAdd(sum, w.AsByte(), x);
        Vector256<short> pairs = F.Unsigned ? Avx2.MultiplyAddAdjacent(w.AsByte(), x)
            : Avx2.MultiplyAddAdjacent(Avx2.Abs(w.AsSByte()), Avx2.Sign(x, w.AsSByte()));
        return sum + Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    /// <summary>One row's block times the activations: eight int32 lanes that add up to Σ q·x (unbiased codes; exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> RowDot<F, P>(byte* p, Vector256<sbyte> x) where F : struct, IBlockFormat where P : struct, IKernelVariant
    {
        Vector256<byte> q = F.Group(p, 0);
        if (!P.Native)
            return Int8Dot.Quads(q.AsSByte(), x, native: false);
        if (AvxVnni.IsSupported)
            return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, F.Unsigned ? q : q ^ Vector256.Create((byte)0x80), x);
        Vector256<short> pairs = F.Unsigned ? Avx2.MultiplyAddAdjacent(q, x)
            : Avx2.MultiplyAddAdjacent(Avx2.Abs(q.AsSByte()), Avx2.Sign(x, q.AsSByte()));
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    /// <summary>Lane r = the sum of <paramref name="v0"/>…<paramref name="v7"/>'s lanes of vector r (exact, in int32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Reduce<P>(Vector256<int> v0, Vector256<int> v1, Vector256<int> v2, Vector256<int> v3,
        Vector256<int> v4, Vector256<int> v5, Vector256<int> v6, Vector256<int> v7) where P : struct, IKernelVariant
    {
        if (!P.Native)
            return Vector256.Create(Vector256.Sum(v0), Vector256.Sum(v1), Vector256.Sum(v2), Vector256.Sum(v3),
                Vector256.Sum(v4), Vector256.Sum(v5), Vector256.Sum(v6), Vector256.Sum(v7));
        // Pairs, then quads, within each 128-bit half: g0 holds rows 0–3's low-half sums then their high-half sums.
        Vector256<int> g0 = Avx2.HorizontalAdd(Avx2.HorizontalAdd(v0, v1), Avx2.HorizontalAdd(v2, v3));
        Vector256<int> g1 = Avx2.HorizontalAdd(Avx2.HorizontalAdd(v4, v5), Avx2.HorizontalAdd(v6, v7));
        return Avx2.Permute2x128(g0, g1, 0x20) + Avx2.Permute2x128(g0, g1, 0x31);
    }

    /// <summary>The eight rows' block values transposed: vector k = values 4k..4k+3 of rows 0..7 (lane = row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(Vector256<int> r0, Vector256<int> r1, Vector256<int> r2, Vector256<int> r3,
        Vector256<int> r4, Vector256<int> r5, Vector256<int> r6, Vector256<int> r7,
        out Vector256<int> w0, out Vector256<int> w1, out Vector256<int> w2, out Vector256<int> w3,
        out Vector256<int> w4, out Vector256<int> w5, out Vector256<int> w6, out Vector256<int> w7)
    {
        Vector256<long> t0 = Avx2.UnpackLow(r0, r1).AsInt64(), t1 = Avx2.UnpackHigh(r0, r1).AsInt64();
        Vector256<long> t2 = Avx2.UnpackLow(r2, r3).AsInt64(), t3 = Avx2.UnpackHigh(r2, r3).AsInt64();
        Vector256<long> t4 = Avx2.UnpackLow(r4, r5).AsInt64(), t5 = Avx2.UnpackHigh(r4, r5).AsInt64();
        Vector256<long> t6 = Avx2.UnpackLow(r6, r7).AsInt64(), t7 = Avx2.UnpackHigh(r6, r7).AsInt64();
        // u0: quad 0 of rows 0–3 | quad 4 of rows 0–3; u1 quads 1|5, u2 2|6, u3 3|7; u4..u7 the same for rows 4–7.
        Vector256<int> u0 = Avx2.UnpackLow(t0, t2).AsInt32(), u1 = Avx2.UnpackHigh(t0, t2).AsInt32();
        Vector256<int> u2 = Avx2.UnpackLow(t1, t3).AsInt32(), u3 = Avx2.UnpackHigh(t1, t3).AsInt32();
        Vector256<int> u4 = Avx2.UnpackLow(t4, t6).AsInt32(), u5 = Avx2.UnpackHigh(t4, t6).AsInt32();
        Vector256<int> u6 = Avx2.UnpackLow(t5, t7).AsInt32(), u7 = Avx2.UnpackHigh(t5, t7).AsInt32();
        w0 = Avx2.Permute2x128(u0, u4, 0x20); w4 = Avx2.Permute2x128(u0, u4, 0x31);
        w1 = Avx2.Permute2x128(u1, u5, 0x20); w5 = Avx2.Permute2x128(u1, u5, 0x31);
        w2 = Avx2.Permute2x128(u2, u6, 0x20); w6 = Avx2.Permute2x128(u2, u6, 0x31);
        w3 = Avx2.Permute2x128(u3, u7, 0x20); w7 = Avx2.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>The fp16 field at <paramref name="p"/> of eight rows, <paramref name="rowBytes"/> apart, as raw bits.</summary>
    // Eight scalar loads: a gather measured no faster on AMD, and Intel's microcode for the gather-data-sampling
    // vulnerability makes gathers several times slower there.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> RowBits<P>(byte* p, long rowBytes) where P : struct, IKernelVariant
    {
        Vector128<ushort> halves = Vector128.Create(*(ushort*)p, *(ushort*)(p + rowBytes), *(ushort*)(p + 2 * rowBytes),
            *(ushort*)(p + 3 * rowBytes), *(ushort*)(p + 4 * rowBytes), *(ushort*)(p + 5 * rowBytes), *(ushort*)(p + 6 * rowBytes),
            *(ushort*)(p + 7 * rowBytes));
        return P.Native ? Avx2.ConvertToVector256Int32(halves).AsUInt32() : Vector256.WidenLower(halves.ToVector256Unsafe()).AsUInt32();
    }

    /// <summary>The fp16 field at <paramref name="p"/> of eight rows as fp32 (exact, every half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> RowHalves<P>(byte* p, long rowBytes) where P : struct, IKernelVariant => HalfRows.F16(RowBits<P>(p, rowBytes));

    /// <summary>
    /// <see cref="RowHalves{P}"/> for finite halves on x86 (the caller knows there are no others): sign-extending the half
    /// into the top of a float and masking leaves <c>h · 2^-112</c> exactly (subnormal halves become subnormal floats), and
    /// one multiply by 2^112 restores it. Four instructions where the general conversion takes twelve.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> DecodeHalves<P>(byte* p, long rowBytes) where P : struct, IKernelVariant
    {
        if (!P.Native)
            return RowHalves<P>(p, rowBytes);
        Vector256<int> top = Avx2.ShiftLeftLogical(RowBits<P>(p, rowBytes).AsInt32(), 16);
        Vector256<int> bits = Avx2.ShiftRightArithmetic(top, 3) & Vector256.Create(unchecked((int)0x8FFFE000));
        return bits.AsSingle() * Vector256.Create(BitConverter.Int32BitsToSingle((127 + 112) << 23));
    }

    /// <summary>Whether any block of the matrix has an fp16 infinity or NaN as its scale or minimum.</summary>
    public static bool HasSpecialScales<F>(byte* w, long rowBytes, int rows, int cols) where F : struct, IBlockFormat
    {
        for (long r = 0; r < rows; r++)
            for (int b = 0; b < cols / 32; b++)
            {
                byte* p = w + r * rowBytes + (long)b * F.BlockBytes;
                if ((*(ushort*)(p + F.ScaleOffset) & 0x7C00) == 0x7C00) return true;
                if (F.MinOffset >= 0 && (*(ushort*)(p + F.MinOffset) & 0x7C00) == 0x7C00) return true;
            }
        return false;
    }
}
