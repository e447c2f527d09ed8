using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.WeightStorage;

namespace MlPipelines.ManagedEngine.Tests.WeightStorage;

/// <summary>
/// One-token products on fp16/bf16 weights: the fused kernel (halves converted in registers, activations rebiased) gives
/// the bits of the scalar path, which widens each half with <c>(float)Half</c>-exact code and multiplies in fp32, and
/// agrees with a double-precision dot product of <see cref="Half"/>-widened weights.
/// </summary>
public unsafe class HalfDecodeTests
{
    public static TheoryData<bool, int> Cases() => new() { { false, 0 }, { true, 0 }, { false, 1 }, { false, 2 }, { false, 3 }, { true, 2 } };

    /// <param name="bf16">bf16 rather than fp16 weights.</param>
    /// <param name="twist">0: ordinary values; 1: fp16 subnormals, zeros of both signs, the largest halves; 2: an
    /// activation of 2^16 (too large to rebias: the widening path); 3: an infinity and a NaN among the weights.</param>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Fused_decode_gives_the_widening_paths_bits(bool bf16, int twist)
    {
        const int rows = 11, cols = 328;   // 11 rows: five pairs and a single row; 328 = 20 groups of sixteen and one of eight
        var random = new Random(7 + twist);
        var halves = new ushort[rows * cols];
        for (int i = 0; i < halves.Length; i++)
        {
            float value = (float)((random.NextDouble() - 0.5) * 0.2);
            halves[i] = bf16 ? (ushort)(BitConverter.SingleToUInt32Bits(value) >> 16) : BitConverter.HalfToUInt16Bits((Half)value);
        }
        if (twist == 1)
            for (int i = 0; i < halves.Length; i += 3)
                halves[i] = (ushort)(random.Next(4) switch { 0 => random.Next(1, 0x400), 1 => 0x8000 | random.Next(0, 0x400), 2 => 0x7BFF, _ => 0 });
        if (twist == 3)
        {
            halves[5 * cols + 17] = 0x7C00;       // +infinity
            halves[9 * cols + 200] = 0xFE01;      // a NaN
        }
        float[] x = Enumerable.Range(0, cols).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        x[3] = 1e-30f;                            // tiny activations scale up exactly
        if (twist == 2) x[100] = bf16 ? 1e30f : 65536f;
        fixed (ushort* w = halves)
        fixed (float* xp = x)
        {
            var matrix = new StoredMatrix((byte*)w, bf16 ? WeightFormat.BF16 : WeightFormat.F16, rows, cols);
            float[]? first = null;
            foreach (KernelPath path in Enum.GetValues<KernelPath>())
            {
                var y = new float[rows];
                fixed (float* yp = y)
                {
                    // A row range that does not start at zero, as a worker thread gets it.
                    matrix.Multiply(xp, 1, yp, rows, 0, 2, path);
                    matrix.Multiply(xp, 1, yp, rows, 2, rows, path);
                }
                first ??= y;
                Assert.True(first.AsSpan().SequenceEqual(y), $"{path}: [{string.Join(", ", y)}] vs [{string.Join(", ", first)}]");
            }
            // The fused kernel itself ran on the wide paths, except where its bits could differ (twists 2 and 3).
            var direct = new float[rows];
            fixed (float* dp = direct)
                foreach (KernelPath path in new[] { KernelPath.Portable256, KernelPath.Native256, KernelPath.Native512 })
                {
                    bool specials = !bf16 && HalfRows.HasSpecialHalves(w, halves.Length);
                    bool ran = HalfRows.TryDecode(w, bf16, specials, cols, xp, null, dp, 0, rows, path);
                    Assert.Equal(twist < 2 || (bf16 && twist == 2), ran);
                    if (ran) Assert.Equal(first, direct);
                    // The same with the activations rebiased once by the caller (as a session does for all threads).
                    var rebiased = new float[cols];
                    fixed (float* rp = rebiased)
                        if (!bf16 && HalfRows.Rebias(xp, cols, rp))
                        {
                            Array.Clear(direct);
                            Assert.Equal(ran, HalfRows.TryDecode(w, bf16, specials, cols, xp, rp, dp, 0, rows, path));
                            if (ran) Assert.Equal(first, direct);
                        }
                }
            float[] fused = first!;
            for (int r = 0; r < rows; r++)
            {
                double sum = 0;
                for (int c = 0; c < cols; c++)
                {
                    ushort h = halves[r * cols + c];
                    sum += (bf16 ? BitConverter.UInt32BitsToSingle((uint)h << 16) : (double)BitConverter.UInt16BitsToHalf(h)) * x[c];
                }
                if (double.IsNaN(sum)) Assert.True(float.IsNaN(fused[r]), $"row {r}: {fused[r]}, expected NaN");
                else if (double.IsInfinity(sum)) Assert.Equal((float)sum, fused[r]);
                else Assert.True(Math.Abs(fused[r] - sum) <= 1e-5 * Math.Max(1, Math.Abs(sum)), $"row {r}: {fused[r]} vs {sum}");
            }
        }
    }

    /// <param name="bf16">bf16 rather than fp16 weights.</param>
    /// <param name="cols">Row length: long rows, and one with a tail past the last group of eight.</param>
    /// <param name="twist">As in <see cref="Fused_decode_gives_the_widening_paths_bits"/>: fp16 rows are widened as
    /// <c>w · 2^-112</c> against rebiased activations unless an activation is too large (2) or the matrix holds an
    /// infinity or a NaN (3); every case must give the fp32 kernel's bits on the exactly widened rows.</param>
    [Theory]
    [InlineData(false, 2304, 0)]
    [InlineData(false, 2304, 1)]
    [InlineData(false, 1029, 1)]
    [InlineData(false, 1029, 2)]
    [InlineData(false, 520, 3)]
    [InlineData(true, 8200, 0)]
    [InlineData(true, 1029, 2)]
    [InlineData(false, 520, 0, 17)]   // two tiles of six and five tokens left over
    [InlineData(false, 2304, 1, 8)]   // two left over
    [InlineData(false, 528, 0, 9)]    // three left over
    [InlineData(false, 264, 1, 13, 90)] // a thread's 87 rows: a block of 64, a shorter one of 20, three rows widened
    public void Prefill_gives_the_fp32_kernels_bits_on_the_widened_rows(bool bf16, int cols, int twist, int tokens = 13, int rows = 19)
    {
        // 19 rows: a thread's 16 rows in one block and three widened; 13 tokens: two tiles of six and one token left over.
        var random = new Random(cols + twist);
        var halves = new ushort[rows * cols];
        for (int i = 0; i < halves.Length; i++)
        {
            float value = (float)((random.NextDouble() - 0.5) * 0.2);
            halves[i] = bf16 ? (ushort)(BitConverter.SingleToUInt32Bits(value) >> 16) : BitConverter.HalfToUInt16Bits((Half)value);
        }
        if (twist == 1)
            for (int i = 0; i < halves.Length; i += 3)
                halves[i] = (ushort)(random.Next(4) switch { 0 => random.Next(1, 0x400), 1 => 0x8000 | random.Next(0, 0x400), 2 => 0x7BFF, _ => 0 });
        if (twist == 3)
        {
            halves[5 * cols + 17] = 0x7C00;
            halves[17 * cols + 200] = 0xFE01;
        }
        float[] widened = halves.Select(h => bf16 ? BitConverter.UInt32BitsToSingle((uint)h << 16) : (float)BitConverter.UInt16BitsToHalf(h)).ToArray();
        float[] x = Enumerable.Range(0, tokens * cols).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        x[3] = 1e-30f;
        if (twist == 2) x[9 * cols + 100] = bf16 ? 1e30f : 65536f;
        fixed (ushort* w = halves)
        fixed (float* wf = widened)
        fixed (float* xp = x)
        {
            var matrix = new StoredMatrix((byte*)w, bf16 ? WeightFormat.BF16 : WeightFormat.F16, rows, cols);
            foreach (KernelPath path in Enum.GetValues<KernelPath>())
            {
                var y = new float[tokens * rows];
                var expected = new float[tokens * rows];
                fixed (float* yp = y)
                fixed (float* ep = expected)
                {
                    // Row ranges that do not start at zero, as worker threads get them.
                    matrix.Multiply(xp, tokens, yp, rows, 0, 3, path);
                    matrix.Multiply(xp, tokens, yp, rows, 3, rows, path);
                    MatMulKernel.Multiply(wf, cols, cols, xp, cols, tokens, ep, rows, 0, rows, KernelPath.Scalar);
                }
                Assert.True(expected.AsSpan().SequenceEqual(y), $"{path}: first difference at {expected.Zip(y).TakeWhile(p => p.First.Equals(p.Second)).Count()}");
                // The same with the activations rebiased once by the caller (as a session does for all threads).
                var rebiased = new float[tokens * cols];
                fixed (float* rp = rebiased)
                fixed (float* yp = y)
                    if (!bf16 && HalfRows.Rebias(xp, tokens * cols, rp))
                    {
                        Array.Clear(y);
                        matrix.Multiply(xp, tokens, yp, rows, 0, 3, path, rp);
                        matrix.Multiply(xp, tokens, yp, rows, 3, rows, path, rp);
                        Assert.True(expected.AsSpan().SequenceEqual(y), $"{path}, rebiased by the caller");
                    }
            }
        }
    }

    [Fact]
    public void Special_halves_are_found_anywhere_in_a_matrix()
    {
        var halves = new ushort[1000];
        fixed (ushort* h = halves)
        {
            Assert.False(HalfRows.HasSpecialHalves(h, halves.Length));
            foreach (int at in new[] { 0, 15, 16, 999 })
                foreach (ushort special in new ushort[] { 0x7C00, 0xFC00, 0x7E00, 0xFFFF })
                {
                    halves[at] = special;
                    Assert.True(HalfRows.HasSpecialHalves(h, halves.Length), $"0x{special:X4} at {at}");
                    halves[at] = 0x7BFF;   // the largest finite half is not special
                    Assert.False(HalfRows.HasSpecialHalves(h, halves.Length));
                }
        }
    }
}
