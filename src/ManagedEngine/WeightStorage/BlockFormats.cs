using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlPipelines.ManagedEngine.WeightStorage;

// The layouts, in brief (ggml's block structs; fp16 values little-endian):
//   Q8_0  34 B: d, q[32] int8.                                      w = d·q
//   Q4_0  18 B: d, qs[16]: element j low nibble, j+16 high nibble.  w = d·(q − 8)   (bias 8)
//   Q4_1  20 B: d, m, qs[16] as Q4_0.                               w = d·q + m
//   Q5_0  22 B: d, qh (32 high bits), qs[16] as Q4_0.               w = d·(q − 16)  (bias 16)
//   Q5_1  24 B: d, m, qh, qs[16].                                   w = d·q + m
//   Q4_K 144 B: d, dmin, 12 bytes of eight 6-bit (scale, min) pairs, qs[128]: each 64 values share 32 bytes,
//               low nibbles first.                                  w = d·scale_j·q − dmin·min_j
//   Q5_K 176 B: as Q4_K plus qh[32], bit j of qh[l] the fifth bit of element 32j + l.
//   Q6_K 210 B: ql[128] low 4 bits, qh[64] high 2 bits, scales[16] int8 (one per 16 values), d.
//                                                                   w = d·scale_k·(q − 32)

/// <summary>ggml Q8_0.</summary>
internal readonly unsafe struct Q8_0Blocks : IBlockFormat
{
    public static WeightFormat Format => WeightFormat.Q8_0;
    public static int BlockElements => 32;
    public static int BlockBytes => 34;
    public static bool SuperBlockActivations => false;
    public static bool Unsigned => false;
    public static bool HasOffsets => false;
    public static int Bias => 0;
    public static int ScaleOffset => 0;
    public static int MinOffset => -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(byte* block, float* mul, float* add)
    {
        mul[0] = mul[1] = Fp16.Read(block);
        add[0] = add[1] = 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Group(byte* block, int g) => Vector256.Load(block + 2);
}

/// <summary>ggml Q4_0.</summary>
internal readonly unsafe struct Q4_0Blocks : IBlockFormat
{
    public static WeightFormat Format => WeightFormat.Q4_0;
    public static int BlockElements => 32;
    public static int BlockBytes => 18;
    public static bool SuperBlockActivations => false;
    public static bool Unsigned => true;
    public static bool HasOffsets => false;
    public static int Bias => 8;
    public static int ScaleOffset => 0;
    public static int MinOffset => -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(byte* block, float* mul, float* add)
    {
        mul[0] = mul[1] = Fp16.Read(block);
        add[0] = add[1] = 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Group(byte* block, int g) => Nibbles.Split(block + 2);
}

/// <summary>ggml Q4_1.</summary>
internal readonly unsafe struct Q4_1Blocks : IBlockFormat
{
    public static WeightFormat Format => WeightFormat.Q4_1;
    public static int BlockElements => 32;
    public static int BlockBytes => 20;
    public static bool SuperBlockActivations => false;
    public static bool Unsigned => true;
    public static bool HasOffsets => true;
    public static int Bias => 0;
    public static int ScaleOffset => 0;
    public static int MinOffset => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(byte* block, float* mul, float* add)
    {
        mul[0] = mul[1] = Fp16.Read(block);
        add[0] = add[1] = Fp16.Read(block + 2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Group(byte* block, int g) => Nibbles.Split(block + 4);
}

/// <summary>ggml Q5_0.</summary>
internal readonly unsafe struct Q5_0Blocks : IBlockFormat
{
    public static WeightFormat Format => WeightFormat.Q5_0;
    public static int BlockElements => 32;
    public static int BlockBytes => 22;
    public static bool SuperBlockActivations => false;
    public static bool Unsigned => true;
    public static bool HasOffsets => false;
    public static int Bias => 16;
    public static int ScaleOffset => 0;
    public static int MinOffset => -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(byte* block, float* mul, float* add)
    {
        mul[0] = mul[1] = Fp16.Read(block);
        add[0] = add[1] = 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Group(byte* block, int g) =>
        Nibbles.Split(block + 6) | Nibbles.HighBits(*(uint*)(block + 2));
}

/// <summary>ggml Q5_1.</summary>
internal readonly unsafe struct Q5_1Blocks : IBlockFormat
{
    public static WeightFormat Format => WeightFormat.Q5_1;
    public static int BlockElements => 32;
    public static int BlockBytes => 24;
    public static bool SuperBlockActivations => false;
    public static bool Unsigned => true;
    public static bool HasOffsets => true;
    public static int Bias => 0;
    public static int ScaleOffset => 0;
    public static int MinOffset => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(byte* block, float* mul, float* add)
    {
        mul[0] = mul[1] = Fp16.Read(block);
        add[0] = add[1] = Fp16.Read(block + 2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Group(byte* block, int g) =>
        Nibbles.Split(block + 8) | Nibbles.HighBits(*(uint*)(block + 4));
}

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
        return dmin = Fp16.Read(block + 208);
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
}

/// <summary>Nibble and high-bit unpacking shared by the 32-value formats.</summary>
internal static class Nibbles
{
    /// <summary>16 packed bytes → 32 values: the low nibbles (elements 0..15), then the high nibbles (16..31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Split(Vector128<byte> packed) =>
        Vector256.Create(packed & Vector128.Create((byte)0x0F), Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0x0F));

    /// <summary>
    /// <see cref="Split(Vector128{byte})"/> of the 16 bytes at <paramref name="packed"/>: on AVX2 a broadcast load, one
    /// per-lane shift (0 bits low, 4 high) and a mask — three instructions where building from two halves takes five.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<byte> Split(byte* packed)
    {
        if (!Avx2.IsSupported)
            return Split(Vector128.Load(packed));
        Vector256<uint> both = Avx2.BroadcastVector128ToVector256((uint*)packed);
        return Avx2.ShiftRightLogicalVariable(both, Vector256.Create(0u, 0, 0, 0, 4, 4, 4, 4)).AsByte() & Vector256.Create((byte)0x0F);
    }

    /// <summary>The low (or high) nibble of each of 32 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Of(Vector256<byte> packed, bool high) =>
        (high ? Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() : packed) & Vector256.Create((byte)0x0F);

    /// <summary>32 fifth bits (bit j for element j) → 0x10 in byte j where set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> HighBits(uint bits)
    {
        // Broadcast, so that every 128-bit lane holds all four bytes; then byte j takes byte j/8 from its own lane (one
        // in-lane shuffle, vpshufb: building the vector from 32 scalars cost more than the rest of a Q5 block's work);
        // then bit j%8 of it is isolated and moved to bit 4.
        Vector256<byte> spread = Vector256.Shuffle(Vector256.Create(bits).AsByte(), Vector256.Create(
            (byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19));
        Vector256<byte> mask = Vector256.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128,
            1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        return Vector256.Equals(spread & mask, mask) & Vector256.Create((byte)0x10);
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
        dmin = Fp16.Read(block + 2);
        return Fp16.Read(block);
    }

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
        Vector128<byte> packed = Vector128.Create(scales03 | (ulong)scales47 << 32, mins03 | (ulong)mins47 << 32).AsByte();
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
