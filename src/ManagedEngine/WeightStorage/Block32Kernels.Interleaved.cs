using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// Q8_0 and Q4_0 re-laid once, at load, eight rows at a time (the kernels' lanes), so that a pass over the matrix is one
/// sequential stream and no kernel transposes or reduces across lanes.
/// </summary>
/// <remarks>
/// <para>
/// Layout: per group of eight rows (8g … 8g+7) and per block column b, in that order, <c>8 · BlockBytes</c> bytes (the
/// same size as the eight blocks in the file): the eight fp16 scales, then the quantised values as 32-byte chunks in which
/// lane r (bytes 4r … 4r+3) holds four consecutive bytes of row r's block — chunk m takes bytes 4m … 4m+3 of every
/// row. For Q8_0 chunk k is then values 4k … 4k+3 of each row: the transposed vectors the prefill kernel used to build per
/// block. For Q4_0 the byte j of a block holds value j in its low nibble and value j+16 in its high one, so chunk m's low
/// nibbles are values 4m … 4m+3 and its high nibbles values 16+4m … 16+4m+3: the same vectors after a mask and a shift,
/// at four bits per value. Rows after the last whole group (and the scalar and portable paths) read the file's layout.
/// Decode prefetches nothing: on one sequential stream the hardware prefetcher does better alone (a prefetch 512 B or
/// 2 KB ahead cost llama3-1b Q8_0 one-thread decode 12–27 % on a Zen 4 core).
/// </para>
/// <para>
/// Why: the file's layout asks decode to walk eight rows in step (eight streams a row apart, 34 or 18 bytes at a time),
/// which on a Zen 4 core read Q8_0 weights at 11 GB/s where one sequential stream reads 20+; and each prefill block was
/// transposed again for every tile. The arithmetic per (row, token) is unchanged — <c>acc ← fma(I, d·s, acc)</c> over the
/// blocks in order, I exact — so the bits equal every other path's.
/// </para>
/// </remarks>
internal static unsafe partial class Block32Kernels
{
    /// <summary>Whether <paramref name="format"/> has an interleaved layout (Q8_0, Q4_0).</summary>
    public static bool Interleaves(WeightFormat format) => format is WeightFormat.Q8_0 or WeightFormat.Q4_0;

    /// <summary>Whether the interleaved kernels run on <paramref name="path"/> on this machine (x86 with AVX2).</summary>
    public static bool RunsInterleaved(KernelPath path) => path >= KernelPath.Native256 && Avx2.IsSupported;

    /// <summary>Bytes of the interleaved copy of a <paramref name="rows"/> × <paramref name="cols"/> matrix (whole groups of eight rows only).</summary>
    public static long InterleavedBytes(WeightFormat format, int rows, int cols) =>
        (long)(rows / 8) * (cols / 32) * 8 * WeightFormats.RowBytes(format, 32);

    /// <summary>Writes the interleaved layout of the matrix at <paramref name="source"/> to <paramref name="destination"/> (<see cref="InterleavedBytes"/> long).</summary>
    public static void Interleave<F>(byte* source, long rowBytes, int rows, int cols, byte* destination) where F : struct, IBlockFormat
    {
        int blocks = cols / 32, bb = F.BlockBytes, chunks = (bb - 2) / 4;
        byte* dst = destination;
        for (long g = 0; g < rows / 8; g++)
            for (int b = 0; b < blocks; b++, dst += 8 * bb)
                for (int r = 0; r < 8; r++)
                {
                    byte* src = source + (8 * g + r) * rowBytes + (long)b * bb;
                    ((ushort*)dst)[r] = *(ushort*)src;
                    for (int m = 0; m < chunks; m++)
                        *(uint*)(dst + 16 + 32 * m + 4 * r) = *(uint*)(src + 2 + 4 * m);
                }
    }

    /// <summary>
    /// Rows rowStart..rowEnd of <c>Y = X Wᵀ</c> with the whole groups of eight read from <paramref name="interleaved"/>
    /// and the rows outside them from the file's layout at <paramref name="w"/>. x86 with AVX2 only (<see cref="RunsInterleaved"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyInterleaved<F>(byte* w, byte* interleaved, long rowBytes, int rows, int cols, QuantizedActivations x,
        int tokens, float* y, int yStride, int rowStart, int rowEnd, bool finiteScales) where F : struct, IBlockFormat
    {
        int groupStart = (rowStart + 7) / 8, groupEnd = Math.Min(rowEnd, rows / 8 * 8) / 8;
        if (groupStart >= groupEnd)
        {
            Multiply<F>(w, rowBytes, cols, x, tokens, y, yStride, rowStart, rowEnd, KernelPath.Native256, finiteScales);
            return;
        }
        int blocks = cols / 32;
        long groupBytes = (long)blocks * 8 * F.BlockBytes;
        for (int r = rowStart; r < 8 * groupStart; r++)
            for (int t = 0; t < tokens; t++)
                y[(long)t * yStride + r] = Row<F>(w + r * rowBytes, cols, x, t);
        if (tokens == 1)
        {
            for (int g = groupStart; g < groupEnd; g++)
            {
                if (finiteScales) GroupDecode<F, FiniteScales>(interleaved + g * groupBytes, blocks, x, y + 8 * g);
                else GroupDecode<F, AnyScales>(interleaved + g * groupBytes, blocks, x, y + 8 * g);
            }
        }
        else
        {
            float* acc = stackalloc float[TileTokens * 8];
            for (int t0 = 0; t0 < tokens; t0 += TileTokens)
            {
                int n = Math.Min(TileTokens, tokens - t0);
                for (int g = groupStart; g < groupEnd; g++)
                    if (F.Format == WeightFormat.Q8_0 && !AvxVnni.IsSupported)
                        GroupPrefillSigned(interleaved + g * groupBytes, blocks, x, t0, n, y + (long)t0 * yStride + 8 * g, yStride, acc);
                    else
                        GroupPrefill<F>(interleaved + g * groupBytes, blocks, x, t0, n, y + (long)t0 * yStride + 8 * g, yStride, acc);
            }
        }
        for (int r = 8 * groupEnd; r < rowEnd; r++)
            for (int t = 0; t < tokens; t++)
                y[(long)t * yStride + r] = Row<F>(w + r * rowBytes, cols, x, t);
    }

    /// <summary>One group of eight rows for token 0 (decode): the whole row in one register of eight lanes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void GroupDecode<F, S>(byte* group, int blocks, QuantizedActivations x, float* y)
        where F : struct, IBlockFormat where S : struct, IScaleDecoding
    {
        int bias = SumBias<F, NativeVariant>();
        sbyte* xq = x.Values(0);
        float* xs = x.Scales(0);
        int* c = x.Corrections(0, bias);
        Vector256<float> acc = Vector256<float>.Zero;
        byte* p = group;
        for (int b = 0; b < blocks; b++, p += 8 * F.BlockBytes)
        {
            Load<F>(p, out Vector256<int> w0, out Vector256<int> w1, out Vector256<int> w2, out Vector256<int> w3,
                out Vector256<int> w4, out Vector256<int> w5, out Vector256<int> w6, out Vector256<int> w7);
            Vector256<int> sums = EightQuads<F>(bias != 0 ? Vector256.Create(c[b]) : Vector256<int>.Zero, w0, w1, w2, w3, w4, w5, w6, w7, (int*)(xq + b * 32));
            acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums), GroupScales<S>(p) * Vector256.Create(xs[b]), acc);
        }
        acc.Store(y);
    }

    /// <summary>One group of eight rows for tokens t0..t0+n−1 (prefill): each block loaded once for the tile's tokens.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void GroupPrefill<F>(byte* group, int blocks, QuantizedActivations x, int t0, int n, float* y, int yStride, float* acc)
        where F : struct, IBlockFormat
    {
        int bias = SumBias<F, NativeVariant>();
        for (int i = 0; i < n; i++) Vector256<float>.Zero.Store(acc + i * 8);
        byte* p = group;
        for (int b = 0; b < blocks; b++, p += 8 * F.BlockBytes)
        {
            long first = x.TileIndex(t0, b);
            sbyte* xq = x.TiledValues + first * 32;
            float* xs = x.TiledScales + first;
            int* c = x.TiledCorrections(bias) + first;
            Vector256<float> d = GroupScales<AnyScales>(p);
            Load<F>(p, out Vector256<int> w0, out Vector256<int> w1, out Vector256<int> w2, out Vector256<int> w3,
                out Vector256<int> w4, out Vector256<int> w5, out Vector256<int> w6, out Vector256<int> w7);
            for (int i = 0; i < n; i++)
            {
                Vector256<int> sums = EightQuads<F>(bias != 0 ? Vector256.Create(c[i]) : Vector256<int>.Zero, w0, w1, w2, w3, w4, w5, w6, w7, (int*)(xq + i * 32));
                float* a = acc + i * 8;
                Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums), d * Vector256.Create(xs[i]), Vector256.Load(a)).Store(a);
            }
        }
        for (int i = 0; i < n; i++) Vector256.Load(acc + i * 8).Store(y + (long)i * yStride);
    }

    /// <summary>
    /// <see cref="GroupPrefill{F}"/> for Q8_0 without VNNI: the AVX2 idiom <c>maddubs(|w|, sign(x, w))</c> with the weights'
    /// magnitudes taken once per block rather than once per token (the integer sums, and so the bits, are the same).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void GroupPrefillSigned(byte* group, int blocks, QuantizedActivations x, int t0, int n, float* y, int yStride, float* acc)
    {
        for (int i = 0; i < n; i++) Vector256<float>.Zero.Store(acc + i * 8);
        byte* p = group;
        for (int b = 0; b < blocks; b++, p += 8 * Q8_0Blocks.BlockBytes)
        {
            long first = x.TileIndex(t0, b);
            sbyte* xq = x.TiledValues + first * 32;
            float* xs = x.TiledScales + first;
            Vector256<float> d = GroupScales<AnyScales>(p);
            sbyte* q = (sbyte*)p + 16;
            Vector256<sbyte> w0 = Vector256.Load(q), w1 = Vector256.Load(q + 32), w2 = Vector256.Load(q + 64), w3 = Vector256.Load(q + 96);
            Vector256<sbyte> w4 = Vector256.Load(q + 128), w5 = Vector256.Load(q + 160), w6 = Vector256.Load(q + 192), w7 = Vector256.Load(q + 224);
            Vector256<byte> a0 = Avx2.Abs(w0), a1 = Avx2.Abs(w1), a2 = Avx2.Abs(w2), a3 = Avx2.Abs(w3);
            Vector256<byte> a4 = Avx2.Abs(w4), a5 = Avx2.Abs(w5), a6 = Avx2.Abs(w6), a7 = Avx2.Abs(w7);
            for (int i = 0; i < n; i++)
            {
                int* quads = (int*)(xq + i * 32);
                Vector256<int> low = SignedQuadDot(Vector256<int>.Zero, a0, w0, quads[0]);
                Vector256<int> high = SignedQuadDot(Vector256<int>.Zero, a4, w4, quads[4]);
                low = SignedQuadDot(low, a1, w1, quads[1]);
                high = SignedQuadDot(high, a5, w5, quads[5]);
                low = SignedQuadDot(low, a2, w2, quads[2]);
                high = SignedQuadDot(high, a6, w6, quads[6]);
                low = SignedQuadDot(low, a3, w3, quads[3]);
                high = SignedQuadDot(high, a7, w7, quads[7]);
                float* a = acc + i * 8;
                Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(low + high), d * Vector256.Create(xs[i]), Vector256.Load(a)).Store(a);
            }
        }
        for (int i = 0; i < n; i++) Vector256.Load(acc + i * 8).Store(y + (long)i * yStride);
    }

    /// <summary><paramref name="sum"/> plus, per lane, four signed weights times the token's four activations (AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedQuadDot(Vector256<int> sum, Vector256<byte> magnitudes, Vector256<sbyte> w, int quad) =>
        sum + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitudes, Avx2.Sign(Vector256.Create(quad).AsSByte(), w)), Vector256.Create((short)1));

    /// <summary>
    /// The eight vectors of an interleaved block as the multiply-adds take them: vector k = values 4k..4k+3 of each row
    /// (Q8_0 flipped to unsigned on VNNI, as <see cref="Prepared{F}"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load<F>(byte* p, out Vector256<int> w0, out Vector256<int> w1, out Vector256<int> w2, out Vector256<int> w3,
        out Vector256<int> w4, out Vector256<int> w5, out Vector256<int> w6, out Vector256<int> w7) where F : struct, IBlockFormat
    {
        byte* q = p + 16;
        if (F.Format == WeightFormat.Q8_0)
        {
            Vector256<byte> flip = AvxVnni.IsSupported ? Vector256.Create((byte)0x80) : Vector256<byte>.Zero;
            w0 = (Vector256.Load(q) ^ flip).AsInt32(); w1 = (Vector256.Load(q + 32) ^ flip).AsInt32();
            w2 = (Vector256.Load(q + 64) ^ flip).AsInt32(); w3 = (Vector256.Load(q + 96) ^ flip).AsInt32();
            w4 = (Vector256.Load(q + 128) ^ flip).AsInt32(); w5 = (Vector256.Load(q + 160) ^ flip).AsInt32();
            w6 = (Vector256.Load(q + 192) ^ flip).AsInt32(); w7 = (Vector256.Load(q + 224) ^ flip).AsInt32();
        }
        else
        {
            Vector256<byte> mask = Vector256.Create((byte)0x0F);
            Vector256<byte> c0 = Vector256.Load(q), c1 = Vector256.Load(q + 32), c2 = Vector256.Load(q + 64), c3 = Vector256.Load(q + 96);
            w0 = (c0 & mask).AsInt32(); w4 = (Avx2.ShiftRightLogical(c0.AsUInt16(), 4).AsByte() & mask).AsInt32();
            w1 = (c1 & mask).AsInt32(); w5 = (Avx2.ShiftRightLogical(c1.AsUInt16(), 4).AsByte() & mask).AsInt32();
            w2 = (c2 & mask).AsInt32(); w6 = (Avx2.ShiftRightLogical(c2.AsUInt16(), 4).AsByte() & mask).AsInt32();
            w3 = (c3 & mask).AsInt32(); w7 = (Avx2.ShiftRightLogical(c3.AsUInt16(), 4).AsByte() & mask).AsInt32();
        }
    }

    /// <summary>The group's eight fp16 scales (the block's first 16 bytes) as fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> GroupScales<S>(byte* p) where S : struct, IScaleDecoding
    {
        Vector256<int> bits = Avx2.ConvertToVector256Int32(Vector128.Load((ushort*)p));
        if (!S.Finite)
            return HalfRows.F16(bits.AsUInt32());
        // As DecodeHalves: the sign-extended half in a float's top bits, masked, is h · 2^-112 exactly.
        Vector256<int> shifted = Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(bits, 16), 3) & Vector256.Create(unchecked((int)0x8FFFE000));
        return shifted.AsSingle() * Vector256.Create(BitConverter.Int32BitsToSingle((127 + 112) << 23));
    }
}

/// <summary>How a kernel converts fp16 scales, as a generic argument (one branch-free loop per kind).</summary>
internal interface IScaleDecoding
{
    /// <summary>True when no scale is an infinity or NaN, so the four-instruction conversion is exact.</summary>
    static abstract bool Finite { get; }
}

/// <summary>Scales known finite.</summary>
internal readonly struct FiniteScales : IScaleDecoding
{
    public static bool Finite => true;
}

/// <summary>Any fp16 scale, infinities and NaNs included.</summary>
internal readonly struct AnyScales : IScaleDecoding
{
    public static bool Finite => false;
}
