using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// Precomputed rotary position embedding (RoPE) factors for every position and pair of a head,
/// in the llama2.c / Meta convention: adjacent pairs <c>(v[2i], v[2i+1])</c> are rotated by
/// <c>pos * theta^(-2i/headDim)</c>. The angles are computed in single precision exactly as
/// llama2.c does (powf, then pos * freq, then cosf/sinf), so tables and run.c agree bit for bit. A model's
/// <see cref="RopeScaling"/> divides each frequency before the angles are taken (unscaled frequencies are untouched).
/// </summary>
public sealed class RopeTable
{
    private readonly float[] _cos;
    private readonly float[] _sin;

    /// <summary>The table of a model: its head size, context, base frequency and scaling.</summary>
    public static RopeTable For(ModelConfig config) =>
        new(config.HeadDim, config.MaxSequenceLength, config.RopeTheta, config.RopeScaling);

    /// <summary>Builds the table for <paramref name="maxPositions"/> positions.</summary>
    public RopeTable(int headDim, int maxPositions, float theta, RopeScaling? scaling = null)
    {
        if (headDim <= 0 || headDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(headDim), $"Head size must be positive and even for RoPE, got {headDim}.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPositions);
        HeadDim = headDim;
        MaxPositions = maxPositions;
        int pairs = headDim / 2;
        _cos = new float[(long)maxPositions * pairs > Array.MaxLength ? throw new ArgumentOutOfRangeException(nameof(maxPositions)) : maxPositions * pairs];
        _sin = new float[_cos.Length];
        var frequencies = new float[pairs];
        double[]? divisors = scaling is { Kind: not RopeScalingKind.None } ? scaling.FrequencyDivisors(headDim, theta) : null;
        for (int p = 0; p < pairs; p++)
        {
            float freq = 1.0f / MathF.Pow(theta, (2 * p) / (float)headDim);
            frequencies[p] = divisors is null || divisors[p] == 1.0 ? freq : (float)(freq / divisors[p]);
        }
        for (int pos = 0; pos < maxPositions; pos++)
        {
            for (int p = 0; p < pairs; p++)
            {
                float angle = pos * frequencies[p];
                _cos[pos * pairs + p] = MathF.Cos(angle);
                _sin[pos * pairs + p] = MathF.Sin(angle);
            }
        }
    }

    /// <summary>Width of one head.</summary>
    public int HeadDim { get; }

    /// <summary>Number of positions in the table.</summary>
    public int MaxPositions { get; }

    /// <summary>The cosines, row-major <c>[MaxPositions, HeadDim / 2]</c> (the exporter writes these very floats).</summary>
    public ReadOnlySpan<float> CosTable => _cos;

    /// <summary>The sines, row-major <c>[MaxPositions, HeadDim / 2]</c>.</summary>
    public ReadOnlySpan<float> SinTable => _sin;

    /// <summary>
    /// Rotates every head of <paramref name="vector"/> (a concatenation of heads of <see cref="HeadDim"/>)
    /// in place for position <paramref name="position"/>.
    /// </summary>
    public void Rotate(Span<float> vector, int position)
    {
        int pairs = HeadDim / 2, row = TableRow(vector.Length, position);
        ReadOnlySpan<float> cos = _cos.AsSpan(row, pairs);
        ReadOnlySpan<float> sin = _sin.AsSpan(row, pairs);
        for (int head = 0; head < vector.Length; head += HeadDim)
        {
            Span<float> v = vector.Slice(head, HeadDim);
            for (int p = 0; p < pairs; p++)
            {
                float v0 = v[2 * p], v1 = v[2 * p + 1];
                v[2 * p] = v0 * cos[p] - v1 * sin[p];
                v[2 * p + 1] = v0 * sin[p] + v1 * cos[p];
            }
        }
    }

    /// <summary>
    /// Rotates every head of <paramref name="vector"/>, whose elements are in Hugging Face's order (each head's first
    /// half holds the rotary pairs' first elements, its second half their second ones), and leaves the result in
    /// <see cref="Rotate"/>'s order (pairs adjacent): the same products, in the same order, as reordering the rows of the
    /// projection first and rotating then — bit for bit — without a reordered copy of the weights.
    /// </summary>
    public void RotateHalvesIntoPairs(Span<float> vector, int position)
    {
        int pairs = HeadDim / 2, row = TableRow(vector.Length, position);
        ReadOnlySpan<float> cos = _cos.AsSpan(row, pairs);
        ReadOnlySpan<float> sin = _sin.AsSpan(row, pairs);
        Span<float> head = HeadDim <= 512 ? stackalloc float[HeadDim] : new float[HeadDim];
        for (int start = 0; start < vector.Length; start += HeadDim)
        {
            Span<float> v = vector.Slice(start, HeadDim);
            v.CopyTo(head);
            for (int p = 0; p < pairs; p++)
            {
                float v0 = head[p], v1 = head[pairs + p];
                v[2 * p] = v0 * cos[p] - v1 * sin[p];
                v[2 * p + 1] = v0 * sin[p] + v1 * cos[p];
            }
        }
    }

    /// <summary>Where <paramref name="position"/>'s cos/sin row starts, once the position and a vector of <paramref name="length"/> floats are checked.</summary>
    private int TableRow(int length, int position)
    {
        if ((uint)position >= (uint)MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(position), $"Position {position} is outside the RoPE table of {MaxPositions} positions.");
        if (length % HeadDim != 0)
            throw new ArgumentException($"Vector length {length} is not a multiple of the head size {HeadDim}.", "vector");
        return position * (HeadDim / 2);
    }
}
