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
