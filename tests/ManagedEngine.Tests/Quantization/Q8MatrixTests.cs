using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Quantization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Quantization;

public class Q8MatrixTests
{
    // (rows, cols, group): row-aligned groups of 32/64 (vector kernels), odd group sizes (segment kernel), and
    // straddling layouts: groups over the flattened matrix that cross rows, including groups longer than a row.
    public static TheoryData<int, int, int> Shapes() => new()
    {
        { 7, 64, 32 }, { 5, 96, 32 }, { 3, 128, 64 }, { 4, 256, 128 }, { 9, 172, 172 }, { 17, 33, 11 },
        { 64, 172, 32 }, { 64, 172, 64 }, { 12, 100, 8 }, { 10, 45, 25 }, { 6, 50, 60 }, { 4, 7, 28 }, { 4, 96, 64 },
    };

    // Every path runs on every machine (the wider ones in software where the hardware lacks them).
    private static KernelPath[] Kernels() => Enum.GetValues<KernelPath>();

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatVec_MatchesNaiveDequantisedReference(int rows, int cols, int group)
    {
        var rng = new Random(rows * 1000 + cols * 7 + group);
        Q8Matrix m = RandomMatrix(rng, rows, cols, group);
        float[] x = RandomFloats(rng, cols, 2f);
        var xq = m.CreateInputVector();
        xq.Quantize(x);
        double[] reference = Q8Reference.MatVec(m, xq, out double[] magnitude);

        foreach (KernelPath kernel in Kernels())
        {
            var y = new float[rows];
            m.MatVec(y, xq, 0, rows, kernel);
            for (int r = 0; r < rows; r++)
            {
                // The per-group integer sums are exact; what remains is fp32 rounding of at most
                // cols / G + 2 scaled partial sums: bounded by 1e-6 of the sum of |products|.
                double tolerance = 1e-6 * magnitude[r] + 1e-30;
                Assert.True(Math.Abs(y[r] - reference[r]) <= tolerance,
                    $"{kernel} row {r}: {y[r]} vs reference {reference[r]} (tolerance {tolerance})");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatVec_ErrorAgainstUnquantisedInputIsBoundedByActivationScales(int rows, int cols, int group)
    {
        var rng = new Random(rows + cols + group);
        Q8Matrix m = RandomMatrix(rng, rows, cols, group);
        float[] x = RandomFloats(rng, cols, 3f);
        var y = new float[rows];
        m.MatVec(y, x);
        var xq = m.CreateInputVector();
        xq.Quantize(x);
        for (int r = 0; r < rows; r++)
        {
            // |Σ W (x - x̃)| ≤ Σ |W| · s_x / 2, with s_x the activation scale of the run holding column c.
            double exact = 0, bound = 0;
            for (int c = 0; c < cols; c++)
            {
                exact += (double)m[r, c] * x[c];
                bound += Math.Abs(m[r, c]) * Q8Reference.ActivationScale(m, xq, r, c) / 2;
            }
            Assert.True(Math.Abs(y[r] - exact) <= bound * 1.0001 + 1e-5, $"row {r}: {y[r]} vs {exact}, bound {bound}");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatVec_RowSplitsGiveIdenticalResultsAndLeaveOtherRowsAlone(int rows, int cols, int group)
    {
        var rng = new Random(42);
        Q8Matrix m = RandomMatrix(rng, rows, cols, group);
        var xq = m.CreateInputVector();
        xq.Quantize(RandomFloats(rng, cols, 1f));
        var whole = new float[rows];
        m.MatVec(whole, xq, 0, rows);

        var split = new float[rows];
        Array.Fill(split, float.NaN);
        int a = rows / 3, b = 2 * rows / 3;
        m.MatVec(split, xq, b, rows);
        Assert.All(split[..b], v => Assert.True(float.IsNaN(v)));
        m.MatVec(split, xq, 0, a);
        m.MatVec(split, xq, a, a); // empty range
        m.MatVec(split, xq, a, b);
        Assert.Equal(whole, split); // bit-identical
    }

    [Fact]
    public void SegmentKernel_SimdIsBitIdenticalToScalar_OnStraddlingRows()
    {
        var rng = new Random(7);
        Q8Matrix m = RandomMatrix(rng, 64, 172, 32);
        Assert.True(m.GroupsStraddleRows);
        var xq = m.CreateInputVector();
        xq.Quantize(RandomFloats(rng, 172, 1f));
        float[] scalar = new float[64], simd = new float[64];
        m.MatVec(scalar, xq, 0, 64, KernelPath.Scalar);
        m.MatVec(simd, xq, 0, 64, KernelPaths.Best);
        Assert.Equal(scalar, simd);
    }

    [Fact]
    public unsafe void DotInt8_SimdEqualsScalarExactly_IncludingMinus128Weights()
    {
        var rng = new Random(3);
        for (int n = 0; n <= 300; n += 1 + n / 10)
        {
            var w = new sbyte[n];
            var x = new sbyte[n];
            for (int i = 0; i < n; i++)
            {
                w[i] = (sbyte)rng.Next(-128, 128);
                x[i] = (sbyte)rng.Next(-127, 128);
            }
            if (n > 0) { w[0] = -128; x[0] = -127; }
            int expected = 0;
            for (int i = 0; i < n; i++) expected += w[i] * x[i];
            fixed (sbyte* pw = w, px = x)
            {
                foreach (KernelPath path in Enum.GetValues<KernelPath>())
                    Assert.Equal(expected, Int8Dot.Dot(pw, px, n, path));
            }
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 100)]
    [InlineData(8, 768)]
    [InlineData(5, 172)]
    public void Quantize_DequantisedErrorIsAtMostHalfAScale(int rows, int cols)
    {
        var rng = new Random(cols);
        float[] w = RandomFloats(rng, rows * cols, 0.5f);
        w[0] = 0; // a zero and a repeated extreme exercise both ends of the range
        if (w.Length > 1) w[1] = -w.Max(MathF.Abs);
        Q8Matrix m = Q8Matrix.Quantize(w, rows, cols);
        Assert.Equal(0, cols % m.GroupSize);
        ReadOnlySpan<float> scales = m.Scales;
        for (int i = 0; i < w.Length; i++)
        {
            float scale = scales[i / m.GroupSize];
            float deq = m[i / cols, i % cols];
            // Half a scale from rounding, plus float rounding of x / scale and of q · scale.
            Assert.True(Math.Abs(deq - w[i]) <= scale / 2 * (1 + 1e-5) + 1e-7 * Math.Abs(w[i]),
                $"element {i}: {w[i]} -> {deq}, scale {scale}");
        }
        Assert.All(m.Values.ToArray(), v => Assert.InRange(v, (sbyte)-127, (sbyte)127));
    }

    [Fact]
    public void Quantize_ZeroGroupHasZeroScaleAndValues()
    {
        var w = new float[64];
        w[40] = 1f;
        Q8Matrix m = Q8Matrix.Quantize(w, 2, 32, 32);
        Assert.Equal([0f, 1f / 127f], m.Scales.ToArray());
        Assert.Equal(127, m.Values[40]);
        var y = new float[2];
        m.MatVec(y, Enumerable.Repeat(1f, 32).ToArray());
        Assert.Equal(0f, y[0]);
        Assert.Equal(1f, y[1], 1e-6f);
    }

    [Theory]
    [InlineData(2048, 64)]
    [InlineData(768, 64)]
    [InlineData(96, 32)]
    [InlineData(172, 172)]
    [InlineData(43, 43)]
    [InlineData(1000, 250)]
    [InlineData(1009, 1)] // prime above 256: only groups of one divide it
    public void DefaultGroupSize_PrefersSixtyFourThenThirtyTwoThenADivisor(int cols, int expected) =>
        Assert.Equal(expected, Q8Matrix.DefaultGroupSize(cols));

    [Fact]
    public void BadArgumentsFailClearly()
    {
        var w = new float[6 * 10];
        Assert.Contains("does not divide the row length 10", Assert.Throws<ArgumentException>(() => Q8Matrix.Quantize(w, 6, 10, 4)).Message);
        Assert.Contains("Expected 60 weights", Assert.Throws<ArgumentException>(() => Q8Matrix.Quantize(w.AsSpan(1), 6, 10, 5)).Message);
        Assert.Throws<ArgumentException>(() => Q8Matrix.FromGroups(new sbyte[60], new float[6], 6, 10, 7));

        Q8Matrix m = Q8Matrix.Quantize(w, 6, 10, 5);
        var xq = new QuantizedVector(10, 5);
        Assert.Contains("not been quantised", Assert.Throws<ArgumentException>(() => m.MatVec(new float[6], xq, 0, 6)).Message);
        xq.Quantize(new float[10]);
        Assert.Contains("needs 6", Assert.Throws<ArgumentException>(() => m.MatVec(new float[5], xq, 0, 5)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.MatVec(new float[6], xq, 4, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.MatVec(new float[6], xq, 4, 3));
        Assert.Contains("this matrix needs 10 and 5",
            Assert.Throws<ArgumentException>(() => m.MatVec(new float[6], new QuantizedVector(10, 2), 0, 6)).Message);
    }

    [Theory]
    [InlineData(768, 2048, 64)]
    [InlineData(64, 172, 32)]
    public void MatVec_AllocatesNothingAfterWarmUp(int rows, int cols, int group)
    {
        var rng = new Random(1);
        Q8Matrix m = group == 64 ? Q8Matrix.Quantize(RandomFloats(rng, rows * cols, 1f), rows, cols, group) : RandomMatrix(rng, rows, cols, group);
        float[] x = RandomFloats(rng, cols, 1f), y = new float[rows];
        var xq = m.CreateInputVector();
        xq.Quantize(x);
        m.MatVec(y, xq, 0, rows);
        m.MatVec(y, x, 0, rows);

        // Windows of ten steps: a per-step allocation shows in each, the runtime's one-off tiering work in one only.
        long allocated = Allocations.FewestBytes(_ =>
        {
            xq.Quantize(x);
            m.MatVec(y, xq, 0, rows / 2);
            m.MatVec(y, xq, rows / 2, rows);
            m.MatVec(y, x, 0, rows);
        }, steps: 10);
        Assert.Equal(0, allocated);
    }

    /// <summary>A matrix in the flattened-group layout with random int8 values (including -128) and scales.</summary>
    internal static Q8Matrix RandomMatrix(Random rng, int rows, int cols, int group)
    {
        int n = rows * cols;
        var q = new sbyte[n];
        for (int i = 0; i < n; i++) q[i] = (sbyte)rng.Next(-128, 128);
        var s = new float[n / group];
        for (int i = 0; i < s.Length; i++) s[i] = (float)(rng.NextDouble() * 0.02 + 0.001);
        return Q8Matrix.FromGroups(q, s, rows, cols, group);
    }

    internal static float[] RandomFloats(Random rng, int n, float amplitude)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * amplitude);
        return a;
    }
}
