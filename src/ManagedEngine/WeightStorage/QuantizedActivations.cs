using MlPipelines.ManagedEngine.Quantization.Ggml;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// A chunk of activation rows quantised to int8 for the block kernels: per token, <c>cols</c> int8 values, one scale per
/// group of 32 and, per half-group of 16, <c>scale · Σq</c> (the offset terms' activation sums). Two quantisations,
/// as ggml pairs them with weight formats: <see cref="ActivationGrouping.Block32"/> (ggml's Q8_0/Q8_1: a scale per 32
/// values, <c>max|x| / 127</c> rounded to fp16) and <see cref="ActivationGrouping.Block256"/> (ggml's Q8_K: one fp32 scale
/// per 256 values). Both give codes in −127..127 and follow ggml's reference quantisers exactly (see
/// <see cref="Quantization.Ggml.GgmlReference"/>; ggml's own x86 Q8_0 quantiser rounds ties to even instead, a difference
/// of one code on exact ties).
/// </summary>
/// <remarks>Buffers are allocated once (pinned, for the kernels' pointers); quantising allocates nothing.</remarks>
internal sealed unsafe class QuantizedActivations
{
    private readonly sbyte[] _values;
    private readonly float[] _scales;
    private readonly float[] _halfSums;
    private readonly float[] _blockSums;

    public QuantizedActivations(int cols, int capacity, ActivationGrouping grouping)
    {
        int unit = grouping == ActivationGrouping.Block256 ? 256 : 32;
        if (cols % unit != 0)
            throw new ArgumentException($"Rows of {cols} values are not whole blocks of {unit}.", nameof(cols));
        Cols = cols;
        Capacity = capacity;
        Grouping = grouping;
        _values = GC.AllocateArray<sbyte>(checked(cols * capacity), pinned: true);
        _scales = GC.AllocateArray<float>(cols / 32 * capacity, pinned: true);
        _halfSums = GC.AllocateArray<float>(cols / 16 * capacity, pinned: true);
        _blockSums = GC.AllocateArray<float>(cols / 32 * capacity, pinned: true);
    }

    public int Cols { get; }
    public int Capacity { get; }
    public ActivationGrouping Grouping { get; }

    /// <summary>Token <paramref name="t"/>'s int8 values.</summary>
    public sbyte* Values(int t)
    {
        fixed (sbyte* p = _values) return p + (long)t * Cols;   // pinned: the address is stable
    }

    /// <summary>Token <paramref name="t"/>'s scales, one per 32 values.</summary>
    public float* Scales(int t)
    {
        fixed (float* p = _scales) return p + (long)t * (Cols / 32);
    }

    /// <summary>Token <paramref name="t"/>'s <c>scale · Σq</c> per 16 values.</summary>
    public float* HalfSums(int t)
    {
        fixed (float* p = _halfSums) return p + (long)t * (Cols / 16);
    }

    /// <summary>Token <paramref name="t"/>'s <c>scale · Σq</c> per 32 values.</summary>
    public float* BlockSums(int t)
    {
        fixed (float* p = _blockSums) return p + (long)t * (Cols / 32);
    }

    /// <summary>Quantises <paramref name="tokens"/> rows of <see cref="Cols"/> floats, <paramref name="stride"/> apart.</summary>
    public void Quantize(float* x, int tokens, int stride)
    {
        if (tokens > Capacity)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} rows exceed the buffer's {Capacity}.");
        for (int t = 0; t < tokens; t++)
        {
            var row = new ReadOnlySpan<float>(x + (long)t * stride, Cols);
            var q = new Span<sbyte>(Values(t), Cols);
            var s = new Span<float>(Scales(t), Cols / 32);
            if (Grouping == ActivationGrouping.Block256)
                ActivationQuantizer.Block256(row, q, s);
            else
                ActivationQuantizer.Block32(row, q, s);
            float* sums = HalfSums(t), blockSums = BlockSums(t);
            sbyte* values = Values(t);
            for (int b = 0; b < Cols / 32; b++)
            {
                int lo = 0, hi = 0;
                for (int i = 0; i < 16; i++) { lo += values[b * 32 + i]; hi += values[b * 32 + 16 + i]; }
                sums[2 * b] = s[b] * lo;
                sums[2 * b + 1] = s[b] * hi;
                blockSums[b] = s[b] * (lo + hi);
            }
        }
    }
}

/// <summary>How activations are grouped for a weight format (see <see cref="QuantizedActivations"/>).</summary>
internal enum ActivationGrouping
{
    /// <summary>A scale per 32 values (ggml's Q8_0 / Q8_1).</summary>
    Block32,
    /// <summary>A scale per 256 values (ggml's Q8_K).</summary>
    Block256,
}

/// <summary>The activation quantisers, following ggml's reference ones.</summary>
internal static class ActivationQuantizer
{
    /// <summary>
    /// Per 32: d = max|x| / 127, q = round(x / d) half away from zero (dividing by the fp32 d), and the scale kept is d
    /// rounded to fp16, as ggml stores it.
    /// </summary>
    public static void Block32(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scales)
    {
        for (int b = 0; b < x.Length / 32; b++)
        {
            ReadOnlySpan<float> block = x.Slice(b * 32, 32);
            GgmlScalars.SignedAbsMax(block, out float amax);
            float d = amax / 127;
            float id = d != 0 ? 1 / d : 0;
            for (int j = 0; j < 32; j++)
                q[b * 32 + j] = (sbyte)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero);
            scales[b] = (float)(Half)d;
        }
    }

    /// <summary>
    /// Per 256 (ggml's Q8_K): the value of largest magnitude <c>max</c> maps to −127 (iscale = −127 / max), q =
    /// nearest(iscale · x), halves to even, capped at 127, and the scale is 1 / iscale in fp32; all eight groups of 32
    /// carry it.
    /// </summary>
    public static void Block256(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scales)
    {
        for (int b = 0; b < x.Length / 256; b++)
        {
            ReadOnlySpan<float> block = x.Slice(b * 256, 256);
            float max = GgmlScalars.SignedAbsMax(block, out float amax);
            float d = 0;
            if (amax == 0)
                q.Slice(b * 256, 256).Clear();
            else
            {
                float iscale = -127f / max;
                for (int j = 0; j < 256; j++)
                    q[b * 256 + j] = (sbyte)Math.Min(127, GgmlScalars.NearestInt(iscale * block[j]));
                d = 1 / iscale;
            }
            scales.Slice(b * 8, 8).Fill(d);
        }
    }
}
