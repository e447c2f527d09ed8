using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MlPipelines.ManagedEngine.Quantization;

/// <summary>
/// A reusable buffer holding an activation vector quantised to int8 in the groups a
/// <see cref="Q8Matrix"/> expects, so that <see cref="Q8Matrix.MatVec(Span{float}, QuantizedVector, int, int)"/>
/// can take integer dot products. Quantise once, then run any number of matrices of the same
/// <see cref="Length"/> and <see cref="GroupSize"/> (for example wq, wk and wv), from any number of threads.
/// </summary>
/// <remarks>
/// <para>When the group size divides the length, the vector is quantised once, in groups of
/// <see cref="GroupSize"/> starting at element 0 — as runq.c and llama.cpp do.</para>
/// <para>When it does not (a llama2.c version-2 tensor whose groups run over the flattened matrix, so a group
/// straddles two rows), row <c>r</c>'s groups start at column offset <c>-(r · cols) mod G</c>. That offset is
/// always a multiple of <c>d = gcd(cols, G)</c>, so there are <c>G / d</c> distinct "phases"; the vector keeps
/// one quantisation per phase, each cut exactly where the weight groups of rows with that phase are cut. Every
/// weight element is then multiplied by an activation quantised in a group that lies within the weight's own
/// group, so a single (weight scale · activation scale) applies to each integer partial sum. This costs
/// <c>G / d</c> passes over a vector of <c>cols</c> floats per quantisation, which is small next to the
/// <c>rows · cols</c> matrix work.</para>
/// <para>Not thread-safe while <see cref="Quantize"/> runs; read-only (and shareable) afterwards.</para>
/// </remarks>
public sealed class QuantizedVector
{
    private readonly sbyte[] _values;   // [phases, length], pinned so kernels can hold raw pointers
    private readonly float[] _scales;   // [phases, ScaleStride]

    /// <summary>Creates a buffer for vectors of <paramref name="length"/> elements and groups of <paramref name="groupSize"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, or the group size exceeds 65536.</exception>
    public QuantizedVector(int length, int groupSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groupSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(groupSize, Q8Groups.MaxGroupSize);
        Length = length;
        GroupSize = groupSize;
        PhaseStep = Q8Groups.Gcd(length, groupSize);
        PhaseCount = groupSize / PhaseStep;
        // A row cut at offset phase has at most ceil((phase + length) / G) <= length / G + 2 groups.
        ScaleStride = length / groupSize + 2;
        _values = GC.AllocateArray<sbyte>(checked(PhaseCount * length), pinned: true);
        _scales = GC.AllocateArray<float>(checked(PhaseCount * ScaleStride), pinned: true);
    }

    /// <summary>Number of elements of the vector.</summary>
    public int Length { get; }

    /// <summary>Number of elements per quantisation group (of the matrices this vector feeds).</summary>
    public int GroupSize { get; }

    /// <summary>Number of distinct row phases (1 when the group size divides <see cref="Length"/>).</summary>
    internal int PhaseCount { get; }

    /// <summary>Row phases are multiples of this: gcd(length, group size).</summary>
    internal int PhaseStep { get; }

    /// <summary>Distance between the scale arrays of consecutive phases.</summary>
    internal int ScaleStride { get; }

    /// <summary>True once <see cref="Quantize"/> has run.</summary>
    public bool IsQuantized { get; private set; }

    /// <summary>Quantises <paramref name="x"/> (its first <see cref="Length"/> elements) into this buffer. Allocates nothing.</summary>
    /// <exception cref="ArgumentException"><paramref name="x"/> is shorter than <see cref="Length"/>.</exception>
    public void Quantize(ReadOnlySpan<float> x)
    {
        if (x.Length < Length)
            throw new ArgumentException($"The vector has {x.Length} elements; this buffer quantises {Length}.", nameof(x));
        x = x[..Length];
        for (int k = 0; k < PhaseCount; k++)
        {
            int phase = k * PhaseStep;
            Span<sbyte> q = _values.AsSpan(k * Length, Length);
            Span<float> s = _scales.AsSpan(k * ScaleStride, ScaleStride);
            int c = 0, j = 0;
            while (c < Length)
            {
                int len = Math.Min(GroupSize - (j == 0 ? phase : 0), Length - c);
                s[j] = Q8Groups.QuantizeGroup(x.Slice(c, len), q.Slice(c, len));
                c += len;
                j++;
            }
        }
        IsQuantized = true;
    }

    /// <summary>The int8 values of phase <paramref name="phaseIndex"/>.</summary>
    internal ReadOnlySpan<sbyte> Values(int phaseIndex) => _values.AsSpan(phaseIndex * Length, Length);

    /// <summary>The group scales of phase <paramref name="phaseIndex"/>.</summary>
    internal ReadOnlySpan<float> Scales(int phaseIndex) => _scales.AsSpan(phaseIndex * ScaleStride, ScaleStride);

    /// <summary>Pointer to the values of phase 0 (the arrays are pinned for the object's lifetime).</summary>
    internal unsafe sbyte* ValuesPointer => (sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_values));

    /// <summary>Pointer to the scales of phase 0.</summary>
    internal unsafe float* ScalesPointer => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_scales));
}
