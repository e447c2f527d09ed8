using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Kernels;
using Xunit.Abstractions;
using static MlPipelines.ManagedEngine.Tests.Kernels.NaiveKernels;

namespace MlPipelines.ManagedEngine.Tests.Kernels;

/// <summary>
/// <see cref="AttentionF16"/> must give exactly the bits of <see cref="Attention"/> run on the widened cache, on every
/// <see cref="KernelPath"/>, for decode and prefill chunks, grouped-query heads and head widths with every block and tail
/// shape; and it must stay within what fp16 rounding of the cache can change of fp32 attention on the unrounded cache.
/// </summary>
public unsafe class AttentionF16Tests(ITestOutputHelper output)
{
    /// <summary>The unit roundoff of fp16: rounding to nearest changes a normal value by at most this relative amount.</summary>
    private const double U = 1.0 / 2048;

    /// <summary>The largest absolute rounding error in the fp16 subnormal range (half the spacing 2^-24).</summary>
    private const double SubnormalError = 1.0 / (1 << 25);

    private const int KvHeads = 2;

    /// <summary>
    /// Head widths 8, 64 and 128 (one block each), 36 and 100 (blocks of 32 + 4 and 64 + 32 with an unfused tail of 4);
    /// grouped-query groups of 1 and 4 query heads per key/value head; decode (1 token) and prefill chunks (17: a
    /// 3-token tile remainder of 2), from the start of the cache and from position 30.
    /// </summary>
    public static TheoryData<int, int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int, int>();
        foreach (int headDim in new[] { 8, 36, 64, 100, 128 })
            foreach (int group in new[] { 1, 4 })
                foreach (int tokens in new[] { 1, 17 })
                    foreach (int start in new[] { 0, 30 })
                        data.Add(headDim, group, tokens, start);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Chunk_gives_the_bits_of_fp32_attention_on_the_widened_cache_on_every_path(int headDim, int group, int tokens, int start)
    {
        var rng = new Random(headDim * 1000 + group * 100 + tokens * 10 + start);
        var shape = new Shape(headDim, group, tokens, start);
        float[] q = RandomVector(rng, tokens * shape.QueryDim, 2f);
        ushort[] keys = HalfCache(rng, shape, 2f), values = HalfCache(rng, shape, 1f);
        float[] reference = RunF16(shape, q, keys, values, KernelPaths.Default);
        foreach (KernelPath path in Enum.GetValues<KernelPath>())
        {
            AssertSameBits(RunF32(shape, q, Widen(keys), Widen(values), path), RunF16(shape, q, keys, values, path), $"{path} vs fp32");
            AssertSameBits(reference, RunF16(shape, q, keys, values, path), $"{path} vs {KernelPaths.Default}");
        }
    }

    [Fact]
    public void Head_gives_the_bits_of_fp32_attention_on_the_widened_cache()
    {
        var rng = new Random(7);
        const int headDim = 100, positions = 45, kvDim = 300, kvOffset = 200;
        float[] q = RandomVector(rng, headDim, 2f);
        ushort[] keys = ToHalves(RandomVector(rng, positions * kvDim, 2f)), values = ToHalves(RandomVector(rng, positions * kvDim));
        foreach (KernelPath path in Enum.GetValues<KernelPath>())
        {
            float[] expected = new float[headDim], actual = new float[headDim];
            Attention.Head(expected, q, Widen(keys), Widen(values), positions, kvDim, kvOffset, new float[positions], path);
            AttentionF16.Head(actual, q, keys, values, positions, kvDim, kvOffset, new float[positions], path);
            AssertSameBits(expected, actual, path.ToString());
        }
        Assert.Throws<ArgumentException>(() => AttentionF16.Head(new float[headDim], q, keys, values, positions + 1, kvDim, kvOffset,
            new float[positions + 1], KernelPaths.Default));
    }

    [Fact]
    public void Infinities_and_NaNs_in_the_cache_propagate_as_in_fp32()
    {
        var rng = new Random(8);
        var shape = new Shape(HeadDim: 64, Group: 1, Tokens: 3, Start: 20);
        float[] q = RandomVector(rng, shape.Tokens * shape.QueryDim, 2f);
        ushort[] keys = HalfCache(rng, shape, 2f), values = HalfCache(rng, shape, 1f);
        values[5 * shape.KvDim + 3] = 0x7C00;                      // +inf in head 0
        values[9 * shape.KvDim + 40] = 0xFC00;                     // -inf
        values[2 * shape.KvDim + shape.HeadDim + 17] = 0x7D01;     // a signalling NaN, in head 1
        keys[21 * shape.KvDim + shape.HeadDim + 2] = 0xFE00;       // a NaN key: every score of head 1 from position 21
        foreach (KernelPath path in Enum.GetValues<KernelPath>())
            AssertSameBits(RunF32(shape, q, Widen(keys), Widen(values), path), RunF16(shape, q, keys, values, path), path.ToString());
    }

    /// <summary>
    /// fp16 storage against fp32 attention on the cache before rounding. With every key and value rounded (relative error
    /// at most u = 2^-11, absolute 2^-25 in the subnormal range), a score s_t = q·k_t/√d moves by at most
    /// δ = max_t Σ_i |q_i| (u|k_ti| + 2^-25) / √d, so each softmax weight moves by a factor within e^{±2δ}, and
    /// <c>|Δo_i| ≤ (e^{2δ} − 1)·max_s|v'_si| + max_s (u|v_si| + 2^-25)</c> in exact arithmetic, v' being the rounded
    /// values; on top of that each kernel rounds in fp32 (1e-5 relative each, the bound of the fp32 kernel tests).
    /// </summary>
    [Theory]
    [InlineData(64, 4, 1, 511)]
    [InlineData(64, 4, 17, 30)]
    [InlineData(128, 1, 1, 200)]
    [InlineData(36, 1, 17, 0)]
    public void Chunk_is_within_the_fp16_rounding_bound_of_fp32_attention_on_the_unrounded_cache(int headDim, int group, int tokens, int start)
    {
        var rng = new Random(headDim + tokens + start);
        var shape = new Shape(headDim, group, tokens, start);
        float[] q = RandomVector(rng, tokens * shape.QueryDim, 2f);
        float[] keys = RandomVector(rng, shape.Total * shape.KvDim, 2f), values = RandomVector(rng, shape.Total * shape.KvDim);
        float[] exact = RunF32(shape, q, keys, values, KernelPaths.Default);
        float[] stored = RunF16(shape, q, ToHalves(keys), ToHalves(values), KernelPaths.Default);
        float[] rounded = Widen(ToHalves(values));
        double worst = 0;
        for (int t = 0; t < tokens; t++)
        {
            int visible = start + t + 1;
            for (int h = 0; h < shape.QueryHeads; h++)
            {
                int kvOffset = h / group * headDim;
                double delta = 0;
                for (int s = 0; s < visible; s++)
                {
                    double shift = 0;
                    for (int i = 0; i < headDim; i++)
                        shift += Math.Abs(q[t * shape.QueryDim + h * headDim + i]) * (U * Math.Abs(keys[s * shape.KvDim + kvOffset + i]) + SubnormalError);
                    delta = Math.Max(delta, shift / Math.Sqrt(headDim));
                }
                for (int i = 0; i < headDim; i++)
                {
                    double maxRounded = 0, maxError = 0;
                    for (int s = 0; s < visible; s++)
                    {
                        maxRounded = Math.Max(maxRounded, Math.Abs(rounded[s * shape.KvDim + kvOffset + i]));
                        maxError = Math.Max(maxError, U * Math.Abs(values[s * shape.KvDim + kvOffset + i]) + SubnormalError);
                    }
                    int at = t * shape.QueryDim + h * headDim + i;
                    double bound = (Math.Exp(2 * delta) - 1) * maxRounded + maxError + 2e-5 * Math.Max(1, Math.Abs(exact[at]));
                    double error = Math.Abs((double)stored[at] - exact[at]);
                    Assert.True(error <= bound, $"token {t} head {h} element {i}: {stored[at]:R} vs {exact[at]:R}, bound {bound:G3}");
                    // A bound as large as the values themselves would hold for any output: this one must be small.
                    Assert.True(bound < 0.05 * Math.Max(maxRounded, 1e-3), $"bound {bound:G3} is not a bound");
                    worst = Math.Max(worst, error / bound);
                }
            }
        }
        output.WriteLine($"largest error / bound: {worst:F3}");
    }

    /// <summary>A cache layout: <see cref="KvHeads"/> key/value heads, <c>Group</c> query heads each.</summary>
    private sealed record Shape(int HeadDim, int Group, int Tokens, int Start)
    {
        public int KvDim => KvHeads * HeadDim;
        public int QueryHeads => KvHeads * Group;
        public int QueryDim => QueryHeads * HeadDim;
        public int Total => Start + Tokens;
    }

    /// <summary>
    /// A cache of fp16 values for the chunk's positions (plus 3 rows beyond, never to be read), with one element in 16
    /// a signed zero or subnormal, so the full widening runs inside the kernels, not only the fast one.
    /// </summary>
    private static ushort[] HalfCache(Random rng, Shape shape, float scale)
    {
        ushort[] cache = ToHalves(RandomVector(rng, (shape.Total + 3) * shape.KvDim, scale));
        for (int i = 0; i < cache.Length; i++)
            if (rng.Next(16) == 0)
                cache[i] = (ushort)(rng.Next(2) << 15 | rng.Next(0x400));
        return cache;
    }

    private static ushort[] ToHalves(float[] values) => [.. values.Select(x => BitConverter.HalfToUInt16Bits((Half)x))];

    private static float[] Widen(ushort[] halves) => [.. halves.Select(h => (float)BitConverter.UInt16BitsToHalf(h))];

    /// <summary>Every query head over the chunk, as the engine's attention job runs it (score scratch poisoned with NaNs).</summary>
    private static float[] RunF32(Shape shape, float[] q, float[] keys, float[] values, KernelPath path)
    {
        var result = new float[shape.Tokens * shape.QueryDim];
        float[] scores = Scratch(shape);
        fixed (float* qp = q, k = keys, v = values, o = result, s = scores)
            for (int h = 0; h < shape.QueryHeads; h++)
                Attention.Chunk(qp + h * shape.HeadDim, shape.QueryDim, shape.Tokens, shape.Start, k, v, shape.KvDim,
                    h / shape.Group * shape.HeadDim, shape.HeadDim, o + h * shape.HeadDim, shape.QueryDim, s, path);
        return result;
    }

    /// <inheritdoc cref="RunF32"/>
    private static float[] RunF16(Shape shape, float[] q, ushort[] keys, ushort[] values, KernelPath path)
    {
        var result = new float[shape.Tokens * shape.QueryDim];
        float[] scores = Scratch(shape);
        fixed (float* qp = q, o = result, s = scores)
        fixed (ushort* k = keys, v = values)
            for (int h = 0; h < shape.QueryHeads; h++)
                AttentionF16.Chunk(qp + h * shape.HeadDim, shape.QueryDim, shape.Tokens, shape.Start, k, v, shape.KvDim,
                    h / shape.Group * shape.HeadDim, shape.HeadDim, o + h * shape.HeadDim, shape.QueryDim, s, path);
        return result;
    }

    private static float[] Scratch(Shape shape)
    {
        var scores = new float[shape.Tokens * shape.Total];
        Array.Fill(scores, float.NaN);
        return scores;
    }

    /// <summary>Bits, not values: float equality would take -0 for 0 and any NaN for any other.</summary>
    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        ReadOnlySpan<uint> e = MemoryMarshal.Cast<float, uint>(expected), a = MemoryMarshal.Cast<float, uint>(actual);
        for (int i = 0; i < e.Length; i++)
            if (e[i] != a[i])
                Assert.Fail($"{what}: element {i} is {actual[i]:R} ({a[i]:X8}), expected {expected[i]:R} ({e[i]:X8})");
    }
}
