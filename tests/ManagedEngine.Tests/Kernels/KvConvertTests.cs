using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

/// <summary>
/// <see cref="KvConvert"/> against .NET's own <see cref="Half"/> conversions, bit for bit, on every <see cref="KernelPath"/>
/// (each has its own implementation: scalar, 128-bit, 256-bit): widening for all 65536 halves, narrowing for random bit
/// patterns of every class and for the values where rounding changes (every fp16 value, every midpoint between two
/// neighbours, and the floats either side of each midpoint).
/// </summary>
public class KvConvertTests
{
    private static ushort Reference(float x) => BitConverter.HalfToUInt16Bits((Half)x);

    private static uint Reference(ushort h) => BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf(h));

    [Fact]
    public void Widening_is_exact_for_every_half_on_every_path()
    {
        ushort[] inOrder = [.. Enumerable.Range(0, 65536).Select(i => (ushort)i)];
        // In order, each group of 16 shares an exponent (all fast path or all full conversion); shuffled, groups mix
        // normal halves with zeros, subnormals, infinities and NaNs, so the lanes of one full conversion disagree.
        ushort[] shuffled = [.. inOrder];
        new Random(3).Shuffle(shuffled);
        foreach (ushort[] halves in new[] { inOrder, shuffled })
        {
            uint[] expected = [.. halves.Select(Reference)];
            foreach (KernelPath path in Enum.GetValues<KernelPath>())
            {
                var widened = new float[halves.Length];
                KvConvert.ToF32(halves, widened, path);
                AssertBits(expected, widened, halves, path.ToString());
            }
            AssertBits(expected, [.. halves.Select(KvConvert.ToF32)], halves, "scalar ToF32(ushort)");
        }
    }

    [Fact]
    public void Narrowing_matches_Half_for_random_bit_patterns()
    {
        // 2^20 uniformly random patterns (every class: both signs, float subnormals, half subnormals, normals, overflow,
        // infinities, NaNs with random payloads), plus 7 for the scalar tail after the vectors.
        var rng = new Random(11);
        var floats = new float[(1 << 20) + 7];
        for (int i = 0; i < floats.Length; i++)
            floats[i] = BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32));
        AssertNarrowsAsHalf(floats);
    }

    [Fact]
    public void Narrowing_matches_Half_where_rounding_changes()
    {
        var floats = new List<float>
        {
            0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, float.MinValue, float.Epsilon,
            65504f, 65519.996f, 65520f, 65536f, 1e10f, MathF.ScaleB(1, -25), MathF.ScaleB(1, -26), MathF.ScaleB(1, -14),
        };
        // NaNs: quiet and signalling, payloads that do and do not survive the 13 dropped bits, both signs.
        foreach (uint nan in new uint[] { 0x7F80_0001, 0x7F80_1FFF, 0x7F80_2000, 0x7FC0_0000, 0x7FFF_FFFF, 0x7FBF_E000 })
        {
            floats.Add(BitConverter.UInt32BitsToSingle(nan));
            floats.Add(BitConverter.UInt32BitsToSingle(nan | 0x8000_0000));
        }
        // Every finite half, the midpoint to the next one up (a tie: the even one wins) and the floats either side of it.
        for (int h = 0; h < 0x7C00; h++)
        {
            double value = (double)BitConverter.UInt16BitsToHalf((ushort)h);
            double next = h == 0x7BFF ? 65536 : (double)BitConverter.UInt16BitsToHalf((ushort)(h + 1));
            float midpoint = (float)((value + next) / 2);   // exact: a half's neighbours' mean needs 12 significant bits
            foreach (float x in new[] { (float)value, midpoint, MathF.BitDecrement(midpoint), MathF.BitIncrement(midpoint) })
            {
                floats.Add(x);
                floats.Add(-x);
            }
        }
        AssertNarrowsAsHalf([.. floats]);
    }

    [Fact]
    public void Short_destinations_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => KvConvert.ToF16(new float[5], new ushort[4]));
        Assert.Throws<ArgumentException>(() => KvConvert.ToF32(new ushort[5], new float[4]));
    }

    private static void AssertNarrowsAsHalf(float[] floats)
    {
        ushort[] expected = [.. floats.Select(Reference)];
        foreach (KernelPath path in Enum.GetValues<KernelPath>())
        {
            var halves = new ushort[floats.Length];
            KvConvert.ToF16(floats, halves, path);
            for (int i = 0; i < floats.Length; i++)
                if (halves[i] != expected[i])
                    Assert.Fail($"{path}: {BitConverter.SingleToUInt32Bits(floats[i]):X8} became {halves[i]:X4}, (Half) gives {expected[i]:X4}");
        }
        for (int i = 0; i < floats.Length; i++)
            Assert.True(KvConvert.ToF16(floats[i]) == expected[i], $"scalar: {BitConverter.SingleToUInt32Bits(floats[i]):X8}");
    }

    private static void AssertBits(uint[] expected, float[] actual, ushort[] halves, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(actual[i]);
            if (bits != expected[i])
                Assert.Fail($"{what}: half {halves[i]:X4} became {bits:X8}, (float) gives {expected[i]:X8}");
        }
    }
}
