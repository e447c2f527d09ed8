using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>ggml Q4_K.</summary>
internal readonly unsafe struct Q4_KBlocks : IKQuantFormat
{
    public static WeightFormat Format => WeightFormat.Q4_K;
    public static int BlockElements => 256;
    public static int BlockBytes => 144;
    public static bool SuperBlockActivations => true;
    public static bool Unsigned => true;
    public static bool HasOffsets => true;
    public static int Bias => 0;
    public static int ScaleOffset => -1;
    public static int MinOffset => -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(byte* block, float* mul, float* add) => KScales.Header(block, mul, add);

    public static bool MinimumsInScaleUnits => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float IntegerScales(byte* block, short* scales, short* mins, out float dmin) => KScales.Header(block, scales, mins, out dmin);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Group(byte* block, int g)
    {
        return Nibbles.Of(Vector256.Load(block + 16 + (g >> 1) * 32), high: (g & 1) != 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multipliers(byte* block, float* halves, out float dmin) => KScales.Multipliers(block, halves, out dmin);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> ScaledSums(byte* block, sbyte* x, out Vector256<short> minimums)
    {
        Vector256<byte> packed = KScales.UnpackBytes(block + 4, out minimums);
        return KQuantSums.Q4K(block + 16, x, packed);
    }
}

/// <summary>
/// Q4_K re-laid at load for the kernels (<see cref="StoredMatrix.Relay"/>): 148 bytes per super-block — d, dmin, the
/// eight 6-bit scales and eight 6-bit minimums unpacked to one byte each (16 bytes where the file packs them in 12), then
/// the 128 bytes of nibbles as stored. The same values as <see cref="Q4_KBlocks"/>, so the same bits on every path; decode
/// no longer unpacks the scales once per super-block per row (measured as an upper bound on a Zen 4 core: +4–13 %), for
/// 2.8 % more bytes.
/// </summary>
internal readonly unsafe struct Q4_KUnpackedBlocks : IKQuantFormat
{
    /// <summary>Bytes per re-laid super-block.</summary>
    public const int Bytes = 148;

    public static WeightFormat Format => WeightFormat.Q4_K;
    public static int BlockElements => 256;
    public static int BlockBytes => Bytes;
    public static bool SuperBlockActivations => true;
    public static bool Unsigned => true;
    public static bool HasOffsets => true;
    public static int Bias => 0;
    public static int ScaleOffset => -1;
    public static int MinOffset => -1;
    public static bool MinimumsInScaleUnits => false;

    /// <summary>Re-lays one file block (<see cref="Q4_KBlocks"/>, 144 bytes) at <paramref name="destination"/>.</summary>
    public static void From(byte* block, byte* destination)
    {
        *(uint*)destination = *(uint*)block;   // d, dmin
        short* scales = stackalloc short[16], mins = stackalloc short[16];
        KScales.UnpackIntegers(block + 4, scales, mins);
        for (int g = 0; g < 8; g++)
        {
            destination[4 + g] = (byte)scales[2 * g];
            destination[12 + g] = (byte)mins[2 * g];
        }
        Buffer.MemoryCopy(block + 16, destination + 20, 128, 128);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(byte* block, float* mul, float* add)
    {
        float d = Fp16.Read(block), dmin = Fp16.Read(block + 2);
        for (int g = 0; g < 8; g++)
        {
            // KScales.Unpack's expressions, on the unpacked bytes: the same products.
            float m = d * (int)block[4 + g];
            float a = -(dmin * (int)block[12 + g]);
            mul[2 * g] = mul[2 * g + 1] = m;
            add[2 * g] = add[2 * g + 1] = a;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float IntegerScales(byte* block, short* scales, short* mins, out float dmin)
    {
        KScales.WidenPairs(Vector128.Load(block + 4), scales, mins);
        return KScales.Multipliers(block, Fp16.Table, out dmin);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Group(byte* block, int g) => Nibbles.Of(Vector256.Load(block + 20 + (g >> 1) * 32), high: (g & 1) != 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multipliers(byte* block, float* halves, out float dmin) => KScales.Multipliers(block, halves, out dmin);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> ScaledSums(byte* block, sbyte* x, out Vector256<short> minimums)
    {
        Vector256<byte> packed = Vector256.Create(Vector128.Load(block + 4));
        minimums = KScales.Minimums(packed);
        return KQuantSums.Q4K(block + 20, x, packed);
    }
}

/// <summary>ggml Q5_K.</summary>
internal readonly unsafe struct Q5_KBlocks : IKQuantFormat
{
    public static WeightFormat Format => WeightFormat.Q5_K;
    public static int BlockElements => 256;
    public static int BlockBytes => 176;
    public static bool SuperBlockActivations => true;
    public static bool Unsigned => true;
    public static bool HasOffsets => true;
    public static int Bias => 0;
    public static int ScaleOffset => -1;
    public static int MinOffset => -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(byte* block, float* mul, float* add) => KScales.Header(block, mul, add);

    public static bool MinimumsInScaleUnits => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float IntegerScales(byte* block, short* scales, short* mins, out float dmin) => KScales.Header(block, scales, mins, out dmin);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Group(byte* block, int g)
    {
        Vector256<byte> low = Nibbles.Of(Vector256.Load(block + 48 + (g >> 1) * 32), high: (g & 1) != 0);
        // Bit g of qh[l] is the fifth bit of element l of this group.
        Vector256<byte> high = Vector256.ShiftLeft(Vector256.ShiftRightLogical(Vector256.Load(block + 16).AsUInt16(), g).AsByte() & Vector256.Create((byte)1), 4);
        return low | high;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multipliers(byte* block, float* halves, out float dmin) => KScales.Multipliers(block, halves, out dmin);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> ScaledSums(byte* block, sbyte* x, out Vector256<short> minimums)
    {
        Vector256<byte> packed = KScales.UnpackBytes(block + 4, out minimums);
        Vector256<byte> qh = Vector256.Load(block + 16);
        byte* qs = block + 48;
        return KQuantSums.Add(
            KQuantSums.Pair(Vector256.Load(qs), qh, x, packed, 0),
            KQuantSums.Pair(Vector256.Load(qs + 32), qh, x, packed, 1),
            KQuantSums.Pair(Vector256.Load(qs + 64), qh, x, packed, 2),
            KQuantSums.Pair(Vector256.Load(qs + 96), qh, x, packed, 3));
    }
}

/// <summary>ggml Q6_K.</summary>
internal readonly unsafe struct Q6_KBlocks : IKQuantFormat
{
    public static WeightFormat Format => WeightFormat.Q6_K;
    public static int BlockElements => 256;
    public static int BlockBytes => 210;
    public static bool SuperBlockActivations => true;
    public static bool Unsigned => true;
    public static bool HasOffsets => true;
    public static int Bias => 0;
    public static int ScaleOffset => -1;
    public static int MinOffset => -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(byte* block, float* mul, float* add)
    {
        float d = Fp16.Read(block + 208);
        sbyte* scales = (sbyte*)(block + 192);
        for (int k = 0; k < 16; k++)
        {
            mul[k] = d * scales[k];
            add[k] = -32f * mul[k];
        }
    }

    public static bool MinimumsInScaleUnits => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float IntegerScales(byte* block, short* scales, short* mins, out float dmin)
    {
        (Vector128<short> lo, Vector128<short> hi) = Vector128.Widen(Vector128.Load((sbyte*)(block + 192)));
        // One 256-bit store each: the kernels read them back whole, and a load spanning two narrower stores cannot be
        // forwarded from them (it waits for both to retire).
        Vector256<short> all = Vector256.Create(lo, hi);
        all.Store(scales);
        // The −32 offset: weight = d · scale · (q − 32) = d · scale · q − d · (32 · scale).
        Vector256.ShiftLeft(all, 5).Store(mins);
        return dmin = Fp16.Table[*(ushort*)(block + 208)];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Group(byte* block, int g)
    {
        // Group g = 4n + k: half n of the block (64 ql bytes, 32 qh bytes); k = 0..3 takes ql[l] low, ql[l+32] low, ql[l]
        // high, ql[l+32] high nibbles, and qh[l] bits 2k, 2k+1 as the top two bits.
        int n = g >> 2, k = g & 3;
        Vector256<byte> low = Nibbles.Of(Vector256.Load(block + n * 64 + (k & 1) * 32), high: k >= 2);
        Vector256<byte> qh = Vector256.Load(block + 128 + n * 32);
        Vector256<byte> high = Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh.AsUInt16(), 2 * k).AsByte() & Vector256.Create((byte)3), 4);
        return low | high;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multipliers(byte* block, float* halves, out float dmin) => dmin = halves[*(ushort*)(block + 208)];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> ScaledSums(byte* block, sbyte* x, out Vector256<short> minimums)
    {
        Vector256<short> scales = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(block + 192)));
        minimums = Vector256.ShiftLeft(scales, 5);
        // Scales 0–7 in both 128-bit lanes for the first half of the block, 8–15 for the second.
        Vector256<short> first = Avx2.Permute2x128(scales, scales, 0x00), second = Avx2.Permute2x128(scales, scales, 0x11);
        return KQuantSums.Q6Half(block, block + 128, x, first) + KQuantSums.Q6Half(block + 64, block + 160, x + 128, second);
    }
}

/// <summary>The eight (scale, min) pairs of Q4_K and Q5_K, 6 bits each, packed in 12 bytes.</summary>
internal static unsafe class KScales
{
    /// <summary>
    /// The header Q4_K and Q5_K share (fp16 d, fp16 dmin, the 12 packed bytes) as float multipliers and offsets, per
    /// half-group: mul = d · scale, add = −dmin · min.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Header(byte* block, float* mul, float* add) => Unpack(Fp16.Read(block), Fp16.Read(block + 2), block + 4, mul, add);

    /// <summary>The same header for the integer kernels: int16 scales and minimums per half-group, d returned, dmin given.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Header(byte* block, short* scales, short* mins, out float dmin)
    {
        UnpackIntegers(block + 4, scales, mins);
        return Multipliers(block, Fp16.Table, out dmin);
    }

    /// <summary>The header's d (returned) and dmin, through the fp16 table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multipliers(byte* block, float* halves, out float dmin)
    {
        dmin = halves[*(ushort*)(block + 2)];
        return halves[*(ushort*)block];
    }

    /// <summary>
    /// The twelve packed bytes at <paramref name="s"/> (sixteen read) as bytes 0–7 the eight scales and 8–15 the eight
    /// minimums, in both 128-bit lanes (for per-group byte shuffles); and the minimums as sixteen int16, each repeated
    /// for its two half-groups (<see cref="UnpackIntegers"/>' layout). Vector operations only, no stores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> UnpackBytes(byte* s, out Vector256<short> minimums)
    {
        Vector128<byte> v = Vector128.Load(s);
        // Low bits: scales 0–3 are bytes 0–3, minimums 0–3 bytes 4–7 (6 bits each); scales 4–7 the low nibbles of bytes
        // 8–11, minimums 4–7 their high nibbles.
        Vector128<byte> low = Vector128.Shuffle(v, Vector128.Create((byte)0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
        Vector128<byte> highNibbles = Vector128.ShiftRightLogical(low.AsUInt16(), 4).AsByte();
        low = Vector128.ConditionalSelect(Vector128.Create(0, 0, 0, uint.MaxValue).AsByte(), highNibbles, low)
            & Vector128.Create((byte)63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15);
        // Top two bits of pairs 4–7: bits 6–7 of bytes 0–3 (scales) and 4–7 (minimums), moved to bits 4–5.
        Vector128<byte> top = Vector128.Shuffle(v, Vector128.Create((byte)0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 2, 3, 0xFF, 0xFF, 0xFF, 0xFF, 4, 5, 6, 7));
        top = Vector128.ShiftRightLogical((top & Vector128.Create((byte)0xC0)).AsUInt16(), 2).AsByte();
        Vector256<byte> packed = Vector256.Create(low | top);
        minimums = Minimums(packed);
        return packed;
    }

    /// <summary>The sixteen half-group minimums as int16 (each pair's minimum twice), from bytes 8–15 of <see cref="UnpackBytes"/>' result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Minimums(Vector256<byte> packed) =>
        Avx2.Shuffle(packed, Vector256.Create(
            (byte)8, 0x80, 8, 0x80, 9, 0x80, 9, 0x80, 10, 0x80, 10, 0x80, 11, 0x80, 11, 0x80,
            12, 0x80, 12, 0x80, 13, 0x80, 13, 0x80, 14, 0x80, 14, 0x80, 15, 0x80, 15, 0x80)).AsInt16();

    /// <summary>Per half-group k: mul = d · scale_(k/2), add = −dmin · min_(k/2).</summary>
    /// <remarks>
    /// Pairs 0–3 keep their 6 bits in the low bits of bytes 0–3 (scales) and 4–7 (mins); pairs 4–7 take their low 4 bits
    /// from bytes 8–11 (scale low nibble, min high nibble) and their top 2 bits from the top bits of bytes 0–3 and 4–7.
    /// Unrolled without branches: this runs once per 256 weights per token.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Unpack(float d, float dmin, byte* s, float* mul, float* add)
    {
        uint lo = *(uint*)s, mid = *(uint*)(s + 4), hi = *(uint*)(s + 8);
        // Scales and mins of pairs 0–3 (bytes of lo / mid, low 6 bits) and 4–7 (nibbles of hi plus top bits of lo / mid).
        uint scales03 = lo & 0x3F3F3F3Fu, mins03 = mid & 0x3F3F3F3Fu;
        uint scales47 = (hi & 0x0F0F0F0Fu) | ((lo >> 2) & 0x30303030u);
        uint mins47 = ((hi >> 4) & 0x0F0F0F0Fu) | ((mid >> 2) & 0x30303030u);
        Pair(0, scales03, mins03, d, dmin, mul, add);
        Pair(4, scales47, mins47, d, dmin, mul, add);
    }

    /// <summary>
    /// The same pairs for the integer kernels: <paramref name="scales"/>[k] = scale_(k/2) and <paramref name="mins"/>[k] =
    /// min_(k/2) as int16, sixteen each (one per half-group), in a few vector operations.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void UnpackIntegers(byte* s, short* scales, short* mins)
    {
        uint lo = *(uint*)s, mid = *(uint*)(s + 4), hi = *(uint*)(s + 8);
        uint scales03 = lo & 0x3F3F3F3Fu, mins03 = mid & 0x3F3F3F3Fu;
        uint scales47 = (hi & 0x0F0F0F0Fu) | ((lo >> 2) & 0x30303030u);
        uint mins47 = ((hi >> 4) & 0x0F0F0F0Fu) | ((mid >> 2) & 0x30303030u);
        // Bytes: scales 0–7, then mins 0–7; each repeated for its two half-groups and widened to int16.
        WidenPairs(Vector128.Create(scales03 | (ulong)scales47 << 32, mins03 | (ulong)mins47 << 32).AsByte(), scales, mins);
    }

    /// <summary>Bytes 0–7 (scales) and 8–15 (minimums) of <paramref name="packed"/>, each written twice as int16 (one per half-group).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WidenPairs(Vector128<byte> packed, short* scales, short* mins)
    {
        Vector128<byte> twiceScales = Vector128.Shuffle(packed, Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
        Vector128<byte> twiceMins = Vector128.Shuffle(packed, Vector128.Create((byte)8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
        Vector256.Create(Vector128.WidenLower(twiceScales), Vector128.WidenUpper(twiceScales)).AsInt16().Store(scales);
        Vector256.Create(Vector128.WidenLower(twiceMins), Vector128.WidenUpper(twiceMins)).AsInt16().Store(mins);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair(int first, uint scales, uint mins, float d, float dmin, float* mul, float* add)
    {
        for (int j = 0; j < 4; j++)
        {
            float m = d * (int)((scales >> (8 * j)) & 0xFF);
            float a = -(dmin * (int)((mins >> (8 * j)) & 0xFF));
            int k = 2 * (first + j);
            mul[k] = mul[k + 1] = m;
            add[k] = add[k + 1] = a;
        }
    }
}

/// <summary>The pieces of the k-quants' <see cref="IKQuantFormat.ScaledSums"/> (x86, AVX2), inlined with constant groups.</summary>
internal static unsafe class KQuantSums
{
    /// <summary>One group: the quads of <c>q · x</c> (exact int16 pair sums, then int32) times the half-groups' scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Scaled(Vector256<byte> q, sbyte* x, Vector256<short> scales) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q, Vector256.Load(x)), scales);

    /// <summary>Group <paramref name="g"/>'s scale (Q4_K, Q5_K: one per group) in every int16 lane, from byte g of both lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> GroupScale(Vector256<byte> packed, int g) =>
        Avx2.Shuffle(packed, Vector256.Create((ushort)(0x8000 | g)).AsByte()).AsInt16();

    /// <summary>Q4_K groups 2j and 2j+1: the low and high nibbles of the 32 bytes <paramref name="qs"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Pair(Vector256<byte> qs, sbyte* x, Vector256<byte> packed, int j)
    {
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        return Scaled(qs & mask, x + 64 * j, GroupScale(packed, 2 * j))
            + Scaled(Vector256.ShiftRightLogical(qs.AsUInt16(), 4).AsByte() & mask, x + 64 * j + 32, GroupScale(packed, 2 * j + 1));
    }

    /// <summary>Q5_K groups 2j and 2j+1: as Q4_K, with bit g of each <paramref name="qh"/> byte as the fifth bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Pair(Vector256<byte> qs, Vector256<byte> qh, sbyte* x, Vector256<byte> packed, int j)
    {
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        Vector256<byte> low = (qs & mask) | FifthBit(qh, 2 * j);
        Vector256<byte> high = (Vector256.ShiftRightLogical(qs.AsUInt16(), 4).AsByte() & mask) | FifthBit(qh, 2 * j + 1);
        return Scaled(low, x + 64 * j, GroupScale(packed, 2 * j)) + Scaled(high, x + 64 * j + 32, GroupScale(packed, 2 * j + 1));
    }

    /// <summary>Bit g of each byte moved to bit 4 (16-bit shifts: bits crossing from the neighbour byte are masked off).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> FifthBit(Vector256<byte> qh, int g) =>
        (g <= 4 ? Vector256.ShiftLeft(qh.AsUInt16(), 4 - g) : Vector256.ShiftRightLogical(qh.AsUInt16(), g - 4)).AsByte() & Vector256.Create((byte)0x10);

    /// <summary>
    /// One half of a Q6_K block (64 bytes of low nibbles at <paramref name="ql"/>, 32 of high bit pairs at
    /// <paramref name="qh"/>: groups 4n..4n+3), against its 128 activations; <paramref name="scales"/> holds the half's
    /// eight int16 scales in both 128-bit lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Q6Half(byte* ql, byte* qh, sbyte* x, Vector256<short> scales)
    {
        Vector256<byte> l0 = Vector256.Load(ql), l1 = Vector256.Load(ql + 32), h = Vector256.Load(qh);
        Vector256<byte> mask = Vector256.Create((byte)0x0F), top = Vector256.Create((byte)0x30);
        // Group k: low nibbles of l0, l1, then high nibbles of l0, l1; bits 2k, 2k+1 of h as bits 4–5.
        Vector256<byte> q0 = (l0 & mask) | (Vector256.ShiftLeft(h.AsUInt16(), 4).AsByte() & top);
        Vector256<byte> q1 = (l1 & mask) | (Vector256.ShiftLeft(h.AsUInt16(), 2).AsByte() & top);
        Vector256<byte> q2 = (Vector256.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & mask) | (h & top);
        Vector256<byte> q3 = (Vector256.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & mask) | (Vector256.ShiftRightLogical(h.AsUInt16(), 2).AsByte() & top);
        return Add(
            Scaled(q0, x, Q6Scales(scales, 0)), Scaled(q1, x + 32, Q6Scales(scales, 1)),
            Scaled(q2, x + 64, Q6Scales(scales, 2)), Scaled(q3, x + 96, Q6Scales(scales, 3)));
    }

    /// <summary>Group k of a half: scale 2k in the low 128-bit lane's int16s, scale 2k+1 in the high lane's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Q6Scales(Vector256<short> scales, int k) =>
        Avx2.Shuffle(scales.AsByte(), Vector256.Create(
            Vector128.Create((ushort)((4 * k + 1) << 8 | 4 * k)).AsByte(),
            Vector128.Create((ushort)((4 * k + 3) << 8 | (4 * k + 2))).AsByte())).AsInt16();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Add(Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d) => (a + b) + (c + d);

    /// <summary>A Q4_K super-block's scaled sums: its 128 bytes of nibbles at <paramref name="qs"/>, scales and minimums as <see cref="KScales.UnpackBytes"/> gives them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Q4K(byte* qs, sbyte* x, Vector256<byte> packed) => Add(
        Pair(Vector256.Load(qs), x, packed, 0),
        Pair(Vector256.Load(qs + 32), x, packed, 1),
        Pair(Vector256.Load(qs + 64), x, packed, 2),
        Pair(Vector256.Load(qs + 96), x, packed, 3));
}
