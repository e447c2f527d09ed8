using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
    /// <summary>Tokens per tile of the block-major copy (<see cref="TileIndex"/>): the prefill kernels' token tile.</summary>
    public const int TileTokens = 64;

    // Every buffer is a pinned array, kept alive here, whose address is taken once: the kernels' per-row lookups are then
    // plain arithmetic (a `fixed` per lookup cost as much as a small matrix's row on the 15m shape).
    private readonly List<Array> _buffers = [];

    public QuantizedActivations(int cols, int capacity, ActivationGrouping grouping)
    {
        int unit = grouping == ActivationGrouping.Block256 ? 256 : 32;
        if (cols % unit != 0)
            throw new ArgumentException($"Rows of {cols} values are not whole blocks of {unit}.", nameof(cols));
        Cols = cols;
        Capacity = capacity;
        Grouping = grouping;
        _valuesBase = Pinned<sbyte>(checked(cols * capacity));
        _scalesBase = Pinned<float>(cols / 32 * capacity);
        _halfCountsBase = Pinned<short>(cols / 16 * capacity);
        _corrections8Base = Pinned<int>(cols / 32 * capacity);
        _corrections16Base = Pinned<int>(cols / 32 * capacity);
        _corrections128Base = Pinned<int>(cols / 32 * capacity);
        _blockSumsBase = Pinned<float>(cols / 32 * capacity);
        // The block-major copy: per tile of 64 tokens, per block, the tokens' 32 values (and their scale, block sum and
        // corrections) one after another, so that a kernel passing every token of a tile over one weight block reads
        // contiguous memory instead of one line per token.
        // Only the 32-value formats' prefill reads it; the k-quants' (Block256) activations have none.
        int tiled = grouping == ActivationGrouping.Block32 ? checked((capacity + TileTokens - 1) / TileTokens * TileTokens * (cols / 32)) : 0;
        _tiledValuesBase = Pinned<sbyte>(checked(tiled * 32));
        _tiledScalesBase = Pinned<float>(tiled);
        _tiledSumsBase = Pinned<float>(tiled);
        _tiled8Base = Pinned<int>(tiled);
        _tiled16Base = Pinned<int>(tiled);
        _tiled128Base = Pinned<int>(tiled);
    }

    /// <summary>A zeroed pinned buffer of <paramref name="length"/> elements, kept alive by this object; its address.</summary>
    private T* Pinned<T>(int length) where T : unmanaged
    {
        T[] buffer = GC.AllocateArray<T>(length, pinned: true);
        _buffers.Add(buffer);
        return (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }

    private readonly sbyte* _valuesBase;
    private readonly float* _scalesBase, _blockSumsBase;
    private readonly short* _halfCountsBase;
    private readonly int* _corrections8Base, _corrections16Base, _corrections128Base;
    private readonly sbyte* _tiledValuesBase;
    private readonly float* _tiledScalesBase, _tiledSumsBase;
    private readonly int* _tiled8Base, _tiled16Base, _tiled128Base;

    public int Cols { get; }
    public int Capacity { get; }
    public ActivationGrouping Grouping { get; }

    /// <summary>Token <paramref name="t"/>'s int8 values.</summary>
    public sbyte* Values(int t) => _valuesBase + (long)t * Cols;

    /// <summary>Token <paramref name="t"/>'s scales, one per 32 values.</summary>
    public float* Scales(int t) => _scalesBase + (long)t * (Cols / 32);

    /// <summary>Token <paramref name="t"/>'s <c>Σq</c> per 16 values, exact in int16 (ggml's Q8_K <c>bsums</c>).</summary>
    public short* HalfCounts(int t) => _halfCountsBase + (long)t * (Cols / 16);

    /// <summary>
    /// Token <paramref name="t"/>'s <c>−bias · Σq</c> per 32 values (where a block's integer sum starts), for the formats
    /// whose unsigned codes carry a bias (<see cref="IBlockFormat.Bias"/>: 8 or 16, and 128 for Q8_0's values flipped to
    /// unsigned on VNNI); null for any other bias. One int per
    /// block, not per lane: the kernels read it for every (row, token, block), so it must cost little cache traffic; and
    /// precomputed for each bias rather than multiplied there (that extra multiply per product cost ~8 % of Q4_0 prefill).
    /// </summary>
    public int* Corrections(int t, int bias) => bias switch
    {
        8 => _corrections8Base + (long)t * (Cols / 32),
        16 => _corrections16Base + (long)t * (Cols / 32),
        128 => _corrections128Base + (long)t * (Cols / 32),
        _ => null,
    };

    /// <summary>Token <paramref name="t"/>'s <c>scale · Σq</c> per 32 values.</summary>
    public float* BlockSums(int t) => _blockSumsBase + (long)t * (Cols / 32);

    /// <summary>
    /// Where (token <paramref name="t"/>, block <paramref name="b"/>) sits in the block-major copy: tokens t and t+1 of
    /// one tile are neighbours for each block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long TileIndex(int t, int b) => ((long)(t / TileTokens) * (Cols / 32) + b) * TileTokens + t % TileTokens;

    /// <summary>Block-major copy of <see cref="Values"/> (Block32 grouping only): 32 values per (token, block) at <see cref="TileIndex"/>.</summary>
    public sbyte* TiledValues => _tiledValuesBase;

    /// <summary>Block-major copy of <see cref="Scales"/>, one per (token, block) at <see cref="TileIndex"/>.</summary>
    public float* TiledScales => _tiledScalesBase;

    /// <summary>Block-major copy of <see cref="BlockSums"/>.</summary>
    public float* TiledBlockSums => _tiledSumsBase;

    /// <summary>Block-major copy of <see cref="Corrections"/> (null for a bias without them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int* TiledCorrections(int bias) => bias switch
    {
        8 => _tiled8Base,
        16 => _tiled16Base,
        128 => _tiled128Base,
        _ => null,
    };

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
            short* counts = HalfCounts(t);
            int* minus8 = Corrections(t, 8), minus16 = Corrections(t, 16), minus128 = Corrections(t, 128);
            float* blockSums = BlockSums(t);
            sbyte* values = Values(t);
            for (int b = 0; b < Cols / 32; b++)
            {
                int lo = 0, hi = 0;
                for (int i = 0; i < 16; i++) { lo += values[b * 32 + i]; hi += values[b * 32 + 16 + i]; }
                minus8[b] = -8 * (lo + hi);
                minus16[b] = -16 * (lo + hi);
                minus128[b] = -128 * (lo + hi);
                counts[2 * b] = (short)lo;       // |Σ| ≤ 16 · 128
                counts[2 * b + 1] = (short)hi;
                blockSums[b] = s[b] * (lo + hi);
                if (Grouping != ActivationGrouping.Block32)
                    continue;
                long k = TileIndex(t, b);
                Vector256.Load(values + b * 32).Store(_tiledValuesBase + k * 32);
                _tiledScalesBase[k] = s[b];
                _tiledSumsBase[k] = blockSums[b];
                _tiled8Base[k] = minus8[b];
                _tiled16Base[k] = minus16[b];
                _tiled128Base[k] = minus128[b];
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
    public static unsafe void Block32(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scales)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            fixed (float* xp = x)
            fixed (sbyte* qp = q)
                for (int b = 0; b < x.Length / 32; b++)
                    scales[b] = Block32Vector(xp + b * 32, qp + b * 32);
            return;
        }
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
    /// One block of <see cref="Block32"/> in vectors, the same codes: round half away from zero is
    /// <c>sign(v) · floor(|v| + ½)</c>, exact for |v| ≤ 127 (and <c>|v| + ½</c> rounds to nearest even only where the
    /// result is already an integer).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Block32Vector(float* x, sbyte* q)
    {
        Vector256<float> v0 = Vector256.Load(x), v1 = Vector256.Load(x + 8), v2 = Vector256.Load(x + 16), v3 = Vector256.Load(x + 24);
        Vector256<float> m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
        Vector128<float> m4 = Vector128.Max(m.GetLower(), m.GetUpper());
        float amax = MathF.Max(MathF.Max(m4.GetElement(0), m4.GetElement(1)), MathF.Max(m4.GetElement(2), m4.GetElement(3)));
        float d = amax / 127;
        float id = d != 0 ? 1 / d : 0;
        Vector256<float> scale = Vector256.Create(id);
        Vector256<int> c0 = Code(v0 * scale), c1 = Code(v1 * scale), c2 = Code(v2 * scale), c3 = Code(v3 * scale);
        Vector256.Narrow(Vector256.Narrow(c0, c1), Vector256.Narrow(c2, c3)).Store(q);
        return (float)(Half)d;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Code(Vector256<float> v)
    {
        Vector256<float> magnitude = Vector256.Floor(Vector256.Abs(v) + Vector256.Create(0.5f));
        return Vector256.ConvertToInt32(Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), -magnitude, magnitude));
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
