using MlPipelines.ManagedEngine.Formats;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>HalfPrecision's widening and narrowing against the naive references in <see cref="NaiveHalf"/>.</summary>
public class HalfPrecisionTests
{
    private static readonly ushort[] AllPatterns = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();

    [Fact]
    public void Widen_F16_matches_System_Half_for_every_bit_pattern()
    {
        var widened = new float[AllPatterns.Length];
        HalfPrecision.WidenF16(AllPatterns, widened);
        for (int i = 0; i < AllPatterns.Length; i++)
        {
            float expected = NaiveHalf.F16ToFloat(AllPatterns[i]);
            if (float.IsNaN(expected))
                Assert.True(float.IsNaN(widened[i]) && float.IsNegative(widened[i]) == float.IsNegative(expected), $"0x{i:X4}");
            else
                Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(widened[i]),
                    $"0x{i:X4}: {widened[i]} != {expected}");
        }
    }

    [Theory]
    [InlineData((ushort)0x3C00, 1.0f)]
    [InlineData((ushort)0xC000, -2.0f)]
    [InlineData((ushort)0x7BFF, 65504f)]                  // largest finite
    [InlineData((ushort)0x0400, 6.103515625e-05f)]        // smallest normal, 2^-14
    [InlineData((ushort)0x0001, 5.9604644775390625e-08f)] // smallest subnormal, 2^-24
    [InlineData((ushort)0x03FF, 6.0975551605224609e-05f)] // largest subnormal, 1023 × 2^-24
    [InlineData((ushort)0x7C00, float.PositiveInfinity)]
    [InlineData((ushort)0xFC00, float.NegativeInfinity)]
    public void Widen_F16_known_values(ushort bits, float expected)
    {
        var widened = new float[1];
        HalfPrecision.WidenF16([bits], widened);
        Assert.Equal(expected, widened[0]);
    }

    [Fact]
    public void Widen_F16_keeps_signed_zeros_and_NaN()
    {
        var widened = new float[4];
        HalfPrecision.WidenF16([0x0000, 0x8000, 0x7E00, 0xFE01], widened);
        Assert.Equal(0x0000_0000u, BitConverter.SingleToUInt32Bits(widened[0]));
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(widened[1]));
        Assert.True(float.IsNaN(widened[2]) && !float.IsNegative(widened[2]));
        Assert.True(float.IsNaN(widened[3]) && float.IsNegative(widened[3]));
    }

    [Fact]
    public void Widen_BF16_matches_the_decoded_value_for_every_bit_pattern()
    {
        var widened = new float[AllPatterns.Length];
        HalfPrecision.WidenBf16(AllPatterns, widened);
        for (int i = 0; i < AllPatterns.Length; i++)
        {
            double expected = NaiveHalf.Bf16ToDouble(AllPatterns[i]);
            bool negative = (i & 0x8000) != 0;
            if (double.IsNaN(expected))
                Assert.True(float.IsNaN(widened[i]) && float.IsNegative(widened[i]) == negative, $"0x{i:X4}");
            else
                Assert.True(expected == widened[i] && float.IsNegative(widened[i]) == negative, $"0x{i:X4}: {widened[i]} != {expected}");
        }
    }

    [Fact]
    public void Widen_BF16_keeps_NaN_payloads_and_signed_zeros()
    {
        var widened = new float[4];
        HalfPrecision.WidenBf16([0x7FC1, 0xFF81, 0x0000, 0x8000], widened);
        Assert.Equal(0x7FC1_0000u, BitConverter.SingleToUInt32Bits(widened[0]));
        Assert.Equal(0xFF81_0000u, BitConverter.SingleToUInt32Bits(widened[1])); // a signalling NaN stays one
        Assert.Equal(0x0000_0000u, BitConverter.SingleToUInt32Bits(widened[2]));
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(widened[3]));
    }

    /// <summary>Floats that exercise rounding: specials, ties, subnormals, overflow, and random bit patterns of every exponent.</summary>
    private static float[] NarrowingInputs()
    {
        var values = new List<float>
        {
            0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue, float.PositiveInfinity,
            float.NegativeInfinity, float.NaN, -float.NaN, BitConverter.UInt32BitsToSingle(0x7F80_0001), // signalling NaN
            BitConverter.UInt32BitsToSingle(0xFFC0_1234),
            1 + MathF.ScaleB(1, -11), 1 + 3 * MathF.ScaleB(1, -11), 1 + MathF.ScaleB(1, -8), 1 + 3 * MathF.ScaleB(1, -8),
            65504f, 65519.99f, 65520f, 65536f, MathF.ScaleB(1, -24), MathF.ScaleB(1, -25), 3 * MathF.ScaleB(1, -26),
            MathF.ScaleB(1, -14), MathF.ScaleB(1, -126), MathF.ScaleB(1, -127), MathF.ScaleB(1, -149),
        };
        var random = new Random(20240611);
        for (int i = 0; i < 200_000; i++)
            values.Add(BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)));
        // Exact ties for bfloat16: low 16 bits 0x8000, with even and odd kept parts.
        for (int i = 0; i < 2000; i++)
            values.Add(BitConverter.UInt32BitsToSingle(((uint)random.Next(0, 0x7F80) << 16) | 0x8000u));
        return values.ToArray();
    }

    [Fact]
    public void Narrow_to_F16_matches_System_Half()
    {
        float[] inputs = NarrowingInputs();
        var narrowed = new ushort[inputs.Length];
        HalfPrecision.NarrowToF16(inputs, narrowed);
        for (int i = 0; i < inputs.Length; i++)
        {
            ushort expected = NaiveHalf.FloatToF16(inputs[i]);
            if (float.IsNaN(inputs[i]))
                Assert.True((narrowed[i] & 0x7C00) == 0x7C00 && (narrowed[i] & 0x03FF) != 0 && (narrowed[i] >> 15) == (expected >> 15), $"{inputs[i]}");
            else
                Assert.True(expected == narrowed[i], $"{inputs[i]:R} (0x{BitConverter.SingleToUInt32Bits(inputs[i]):X8}): 0x{narrowed[i]:X4} != 0x{expected:X4}");
        }
    }

    [Theory]
    [InlineData(1.00048828125f, (ushort)0x3C00)]          // 1 + 2^-11: a tie, to even (1.0)
    [InlineData(1.00146484375f, (ushort)0x3C02)]          // 1 + 3·2^-11: a tie, to even (up)
    [InlineData(65520f, (ushort)0x7C00)]                  // halfway past 65504: overflows to infinity
    [InlineData(2.98023223876953125e-08f, (ushort)0x0000)] // 2^-25: a tie between 0 and 2^-24, to even (0)
    [InlineData(4.470348358154297e-08f, (ushort)0x0001)]  // 3·2^-26: nearer 2^-24
    [InlineData(-0f, (ushort)0x8000)]
    public void Narrow_to_F16_known_values(float value, ushort expected)
    {
        var narrowed = new ushort[1];
        HalfPrecision.NarrowToF16([value], narrowed);
        Assert.Equal(expected, narrowed[0]);
        Assert.Equal(expected, NaiveHalf.FloatToF16(value));
    }

    [Fact]
    public void Narrow_to_BF16_matches_round_to_nearest_even_by_hand()
    {
        float[] inputs = NarrowingInputs();
        var narrowed = new ushort[inputs.Length];
        HalfPrecision.NarrowToBf16(inputs, narrowed);
        for (int i = 0; i < inputs.Length; i++)
        {
            ushort expected = NaiveHalf.FloatToBf16(inputs[i]);
            if (float.IsNaN(inputs[i]))
                Assert.True((narrowed[i] & 0x7F80) == 0x7F80 && (narrowed[i] & 0x007F) != 0 && (narrowed[i] >> 15) == (expected >> 15),
                    $"NaN 0x{BitConverter.SingleToUInt32Bits(inputs[i]):X8} became 0x{narrowed[i]:X4}");
            else
                Assert.True(expected == narrowed[i], $"{inputs[i]:R} (0x{BitConverter.SingleToUInt32Bits(inputs[i]):X8}): 0x{narrowed[i]:X4} != 0x{expected:X4}");
        }
    }

    [Theory]
    [InlineData(0x3F80_8000u, (ushort)0x3F80)] // 1 + 2^-8: a tie between 1 and 1 + 2^-7, to even (down)
    [InlineData(0x3F81_8000u, (ushort)0x3F82)] // 1 + 3·2^-8: a tie, to even (up)
    [InlineData(0x3F80_8001u, (ushort)0x3F81)] // just past the tie: up
    [InlineData(0x7F7F_8000u, (ushort)0x7F80)] // a tie above the largest finite bfloat16: to infinity
    [InlineData(0x7F7F_7FFFu, (ushort)0x7F7F)] // just below that tie: stays finite
    [InlineData(0x0000_8000u, (ushort)0x0000)] // subnormal tie between 0 and the smallest bfloat16 subnormal: to 0
    [InlineData(0x0001_8000u, (ushort)0x0002)] // subnormal tie, to even (up)
    [InlineData(0x0000_0001u, (ushort)0x0000)] // the smallest float subnormal rounds to +0
    [InlineData(0x8000_0001u, (ushort)0x8000)] // ... and its negative to -0
    [InlineData(0x807F_FFFFu, (ushort)0x8080)] // largest negative subnormal rounds up to -2^-126
    [InlineData(0x7F80_0000u, (ushort)0x7F80)] // +inf
    [InlineData(0xFF80_0000u, (ushort)0xFF80)] // -inf
    public void Narrow_to_BF16_known_values(uint bits, ushort expected)
    {
        var narrowed = new ushort[1];
        HalfPrecision.NarrowToBf16([BitConverter.UInt32BitsToSingle(bits)], narrowed);
        Assert.Equal(expected, narrowed[0]);
        Assert.Equal(expected, NaiveHalf.FloatToBf16(BitConverter.UInt32BitsToSingle(bits)));
    }

    [Fact]
    public void Narrow_to_BF16_keeps_a_signalling_NaN_a_NaN()
    {
        // Rounding a NaN whose payload lies only in the low 16 bits would produce infinity.
        var narrowed = new ushort[2];
        HalfPrecision.NarrowToBf16([BitConverter.UInt32BitsToSingle(0x7F80_0001), BitConverter.UInt32BitsToSingle(0xFF80_0001)], narrowed);
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)narrowed[0] << 16)) && narrowed[0] < 0x8000);
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)narrowed[1] << 16)) && narrowed[1] >= 0x8000);
    }

    [Fact]
    public void Widening_what_was_narrowed_is_within_half_an_ulp()
    {
        var random = new Random(7);
        float[] values = Enumerable.Range(0, 10_000).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var halves = new ushort[values.Length];
        var back = new float[values.Length];
        HalfPrecision.NarrowToF16(values, halves);
        HalfPrecision.WidenF16(halves, back);
        for (int i = 0; i < values.Length; i++)
            Assert.True(Math.Abs(back[i] - values[i]) <= Math.Max(Math.Abs(values[i]) * MathF.ScaleB(1, -11), MathF.ScaleB(1, -25)), $"F16 {values[i]}");
        HalfPrecision.NarrowToBf16(values, halves);
        HalfPrecision.WidenBf16(halves, back);
        for (int i = 0; i < values.Length; i++)
            Assert.True(Math.Abs(back[i] - values[i]) <= Math.Abs(values[i]) * MathF.ScaleB(1, -8), $"BF16 {values[i]}");
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => HalfPrecision.WidenF16(new ushort[3], new float[2]));
        Assert.Throws<ArgumentException>(() => HalfPrecision.WidenBf16(new ushort[2], new float[3]));
        Assert.Throws<ArgumentException>(() => HalfPrecision.NarrowToF16(new float[3], new ushort[2]));
        Assert.Throws<ArgumentException>(() => HalfPrecision.NarrowToBf16(new float[2], new ushort[3]));
    }
}
