using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.Quantization;

/// <summary>
/// A row-major <c>[rows, cols]</c> weight matrix quantised to int8 (Q8_0): one fp32 scale per group of
/// <see cref="GroupSize"/> consecutive elements of the flattened matrix, <c>W[i] ≈ q[i] · scale[i / G]</c>.
/// </summary>
/// <remarks>
/// <para>Two layouts share this one description. When <c>G</c> divides <see cref="Cols"/> every row is a
/// whole number of groups (what <see cref="Quantize(ReadOnlySpan{float}, int, int, int)"/> produces). When it
/// does not — llama2.c version-2 files, whose groups run over the flattened tensor, e.g. stories260K's
/// w2 <c>[64, 172]</c> in groups of 32 — a group straddles two rows
/// (<see cref="GroupsStraddleRows"/>). Such rows are computed exactly as stored: each row is cut at the
/// group boundaries that fall inside it and every piece uses its own group's scale (runq.c instead
/// assumes <c>G | cols</c>, drops the last <c>cols mod G</c> columns of every row and pairs later pieces with
/// the wrong scale). The activations are quantised along the same cuts (see <see cref="QuantizedVector"/>).</para>
/// <para>The int8 values and scales are either pointers into a memory-mapped checkpoint (not copied; the
/// owner of the mapping keeps them alive) or pinned arrays owned by this object.</para>
/// <para>Numerics: with weight groups dequantised exactly, the only approximation <see cref="MatVec(Span{float}, QuantizedVector, int, int)"/>
/// adds is the activation quantisation (|error| ≤ activation scale / 2 per element) and fp32 rounding
/// of the per-group sums; the integer part is exact.</para>
/// </remarks>
public sealed unsafe class Q8Matrix
{
    private readonly sbyte* _values;
    private readonly float* _scales;
    private readonly object? _arrays; // the pinned arrays behind the pointers, when this object owns them

    private Q8Matrix(sbyte* values, float* scales, int rows, int cols, int groupSize, object? arrays)
    {
        _values = values;
        _scales = scales;
        _arrays = arrays;
        Rows = rows;
        Cols = cols;
        GroupSize = groupSize;
    }

    /// <summary>Number of rows (outputs).</summary>
    public int Rows { get; }

    /// <summary>Number of columns (inputs).</summary>
    public int Cols { get; }

    /// <summary>Number of consecutive elements of the flattened matrix sharing one scale.</summary>
    public int GroupSize { get; }

    /// <summary>True when <see cref="GroupSize"/> does not divide <see cref="Cols"/>, so some groups span two rows.</summary>
    public bool GroupsStraddleRows => Cols % GroupSize != 0;

    /// <summary>The int8 values, row-major.</summary>
    public ReadOnlySpan<sbyte> Values => new(_values, Rows * Cols);

    /// <summary>The group scales, <c>Rows · Cols / GroupSize</c> of them.</summary>
    public ReadOnlySpan<float> Scales => new(_scales, Rows * Cols / GroupSize);

    /// <summary>
    /// Quantises fp32 weights (row-major <c>[rows, cols]</c>) in groups of <paramref name="groupSize"/>,
    /// which must divide <paramref name="cols"/>. Each element's error is at most half its group's scale.
    /// </summary>
    /// <exception cref="ArgumentException">The sizes do not fit, or the group size does not divide the row.</exception>
    public static Q8Matrix Quantize(ReadOnlySpan<float> weights, int rows, int cols, int groupSize)
    {
        CheckShape(rows, cols, groupSize);
        if (cols % groupSize != 0)
            throw new ArgumentException($"Group size {groupSize} does not divide the row length {cols}.", nameof(groupSize));
        long n = (long)rows * cols;
        if (weights.Length != n)
            throw new ArgumentException($"Expected {n} weights for [{rows}, {cols}]; got {weights.Length}.", nameof(weights));
        var q = GC.AllocateUninitializedArray<sbyte>((int)n, pinned: true);
        var s = GC.AllocateUninitializedArray<float>((int)(n / groupSize), pinned: true);
        Q8Groups.QuantizeFlat(weights, q, s, groupSize);
        return FromPinned(q, s, rows, cols, groupSize);
    }

    /// <summary>
    /// Quantises fp32 weights with the default group size for the row length: 64 if it divides
    /// <paramref name="cols"/>, else 32, else <paramref name="cols"/> itself when at most 256, else the largest
    /// divisor of <paramref name="cols"/> up to 256 (see <see cref="DefaultGroupSize"/>).
    /// </summary>
    public static Q8Matrix Quantize(ReadOnlySpan<float> weights, int rows, int cols) =>
        Quantize(weights, rows, cols, DefaultGroupSize(cols));

    /// <summary>The group size <see cref="Quantize(ReadOnlySpan{float}, int, int)"/> picks for rows of <paramref name="cols"/> elements.</summary>
    public static int DefaultGroupSize(int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        return Q8Groups.ChooseGroupSize(cols);
    }

    /// <summary>
    /// Wraps already-quantised data laid out as in llama2.c version-2 files: groups of <paramref name="groupSize"/>
    /// over the flattened matrix (which may straddle rows; <paramref name="groupSize"/> must divide
    /// <c>rows · cols</c>). The arrays are copied.
    /// </summary>
    public static Q8Matrix FromGroups(ReadOnlySpan<sbyte> values, ReadOnlySpan<float> scales, int rows, int cols, int groupSize)
    {
        CheckFlatShape(rows, cols, groupSize);
        long n = (long)rows * cols;
        if (values.Length != n || scales.Length != n / groupSize)
            throw new ArgumentException($"Expected {n} values and {n / groupSize} scales for [{rows}, {cols}] in groups of {groupSize}; " +
                $"got {values.Length} and {scales.Length}.");
        var q = GC.AllocateUninitializedArray<sbyte>(values.Length, pinned: true);
        var s = GC.AllocateUninitializedArray<float>(scales.Length, pinned: true);
        values.CopyTo(q);
        scales.CopyTo(s);
        return FromPinned(q, s, rows, cols, groupSize);
    }

    /// <summary>Wraps memory owned elsewhere (a mapped file); the caller keeps it alive while this object is used.</summary>
    internal static Q8Matrix FromPointers(sbyte* values, float* scales, int rows, int cols, int groupSize)
    {
        CheckFlatShape(rows, cols, groupSize);
        return new Q8Matrix(values, scales, rows, cols, groupSize, arrays: null);
    }

    private static Q8Matrix FromPinned(sbyte[] q, float[] s, int rows, int cols, int groupSize) =>
        new((sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(q)),
            (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(s)), rows, cols, groupSize, (q, s));

    private static void CheckShape(int rows, int cols, int groupSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groupSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(groupSize, Q8Groups.MaxGroupSize);
        if ((long)rows * cols > Array.MaxLength)
            throw new ArgumentException($"A [{rows}, {cols}] matrix exceeds {Array.MaxLength} elements.", nameof(rows));
    }

    private static void CheckFlatShape(int rows, int cols, int groupSize)
    {
        CheckShape(rows, cols, groupSize);
        if ((long)rows * cols % groupSize != 0)
            throw new ArgumentException($"Group size {groupSize} does not divide the {(long)rows * cols} elements of [{rows}, {cols}].", nameof(groupSize));
    }

    /// <summary>A buffer for this matrix's quantised input (reusable across calls and across matrices of the same shape).</summary>
    public QuantizedVector CreateInputVector() => new(Cols, GroupSize);

    /// <summary>The dequantised weight <c>W[row, col] = q · scale</c>.</summary>
    public float this[int row, int col]
    {
        get
        {
            if ((uint)row >= (uint)Rows || (uint)col >= (uint)Cols)
                throw new ArgumentOutOfRangeException(nameof(row), $"[{row}, {col}] is outside [{Rows}, {Cols}].");
            long i = (long)row * Cols + col;
            return _values[i] * _scales[i / GroupSize];
        }
    }

    /// <summary>Writes the dequantised matrix (row-major, <c>Rows · Cols</c> floats) to <paramref name="destination"/>.</summary>
    public void Dequantize(Span<float> destination)
    {
        int n = Rows * Cols;
        if (destination.Length < n)
            throw new ArgumentException($"Destination holds {destination.Length} floats; the matrix has {n}.", nameof(destination));
        for (int i = 0; i < n; i++)
            destination[i] = _values[i] * _scales[i / GroupSize];
        GC.KeepAlive(_arrays);
    }

    /// <summary>
    /// <c>y[r] = Σ_c W[r, c] · x[c]</c> for rows <paramref name="rowStart"/> ≤ r &lt; <paramref name="rowEnd"/>,
    /// quantising <paramref name="x"/> first (into a per-thread buffer: no allocation after the first call per
    /// shape). When several threads split the rows of one product, quantise once with
    /// <see cref="QuantizedVector.Quantize"/> and call the <see cref="QuantizedVector"/> overload instead.
    /// </summary>
    /// <param name="y">Output indexed by row number; at least <see cref="Rows"/> long. Other rows are untouched.</param>
    /// <param name="x">Input, at least <see cref="Cols"/> long.</param>
    /// <param name="rowStart">First row to compute.</param>
    /// <param name="rowEnd">One past the last row to compute.</param>
    public void MatVec(Span<float> y, ReadOnlySpan<float> x, int rowStart, int rowEnd)
    {
        QuantizedVector xq = ThreadBuffers.Get(Cols, GroupSize);
        xq.Quantize(x);
        MatVec(y, xq, rowStart, rowEnd);
    }

    /// <summary>All rows: <c>y = W x</c>.</summary>
    public void MatVec(Span<float> y, ReadOnlySpan<float> x) => MatVec(y, x, 0, Rows);

    /// <summary>
    /// <c>y[r] = Σ_c W[r, c] · x[c]</c> for rows <paramref name="rowStart"/> ≤ r &lt; <paramref name="rowEnd"/>, with
    /// <paramref name="xq"/> already quantised. Each output element is reduced by one call in a fixed order,
    /// so results do not depend on how rows are split over threads. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes do not fit or <paramref name="xq"/> has not been quantised.</exception>
    public void MatVec(Span<float> y, QuantizedVector xq, int rowStart, int rowEnd) =>
        MatVec(y, xq, rowStart, rowEnd, KernelPaths.Default);

    /// <summary>As the public overload on a chosen <see cref="KernelPath"/> (tests run each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void MatVec(Span<float> y, QuantizedVector xq, int rowStart, int rowEnd, KernelPath path)
    {
        ArgumentNullException.ThrowIfNull(xq);
        if (xq.Length != Cols || xq.GroupSize != GroupSize)
            throw new ArgumentException($"The quantised vector has length {xq.Length} and group size {xq.GroupSize}; " +
                $"this matrix needs {Cols} and {GroupSize}.", nameof(xq));
        if (!xq.IsQuantized)
            throw new ArgumentException("The vector has not been quantised; call QuantizedVector.Quantize first.", nameof(xq));
        if (y.Length < Rows)
            throw new ArgumentException($"y holds {y.Length} floats; it is indexed by row and needs {Rows}.", nameof(y));
        if (rowStart < 0 || rowEnd > Rows || rowStart > rowEnd)
            throw new ArgumentOutOfRangeException(nameof(rowStart), $"Rows [{rowStart}, {rowEnd}) are not within [0, {Rows}).");

        int cols = Cols, g = GroupSize;
        sbyte* xv = xq.ValuesPointer;
        float* xs = xq.ScalesPointer;
        bool rowAligned = cols % g == 0;
        if (rowAligned && path == KernelPath.Native512 && g % 64 == 0)
        {
            for (int r = rowStart; r < rowEnd; r++)
                y[r] = Q8Kernels.RowVector512(_values + (long)r * cols, _scales + (long)r * (cols / g), xv, xs, cols, g);
        }
        else if (rowAligned && g % 32 == 0)
        {
            int groups = cols / g, r = rowStart;
            if (path >= KernelPath.Portable256)
            {
                bool native = path >= KernelPath.Native256;
                // Two rows per pass hide the accumulator latency at groups of 32. At 64 (longer rows, as in the
                // 110m shape) pairs decoded much slower (116–133 → 75–81 tok/s; prefill, where rows come from
                // cache, was unchanged), also when unrolled by hand: streaming the rows one at a time from memory
                // matters more there, so those go row by row.
                fixed (float* yp = y)
                {
                    for (; g == 32 && r + 2 <= rowEnd; r += 2)
                        Q8Kernels.TwoRows256(_values + (long)r * cols, _scales + (long)r * groups, xv, xs, groups, g, yp + r, native);
                }
                for (; r < rowEnd; r++)
                    y[r] = Q8Kernels.Row256(_values + (long)r * cols, _scales + (long)r * groups, xv, xs, groups, g, native);
            }
            else if (path == KernelPath.Portable128)
            {
                for (; r < rowEnd; r++)
                    y[r] = Q8Kernels.Row128(_values + (long)r * cols, _scales + (long)r * groups, xv, xs, groups, g);
            }
            else
            {
                for (; r < rowEnd; r++)
                    y[r] = Q8Kernels.RowScalar(_values + (long)r * cols, _scales + (long)r * groups, xv, xs, groups, g);
            }
        }
        else
        {
            int step = xq.PhaseStep, stride = xq.ScaleStride;
            for (int r = rowStart; r < rowEnd; r++)
            {
                long flat = (long)r * cols;
                int phase = (int)(flat % g);
                int k = phase / step;
                y[r] = Q8Kernels.RowSegments(_values + flat, _scales + flat / g, phase,
                    xv + (long)k * cols, xs + (long)k * stride, cols, g, path);
            }
        }
        GC.KeepAlive(xq);
        GC.KeepAlive(_arrays);
    }

    /// <summary>Per-thread quantisation buffers for the fp32 overload, a few shapes deep (a model has two or three).</summary>
    private static class ThreadBuffers
    {
        [ThreadStatic] private static QuantizedVector?[]? t_buffers;
        [ThreadStatic] private static int t_next;

        public static QuantizedVector Get(int length, int groupSize)
        {
            QuantizedVector?[] buffers = t_buffers ??= new QuantizedVector?[4];
            foreach (QuantizedVector? b in buffers)
                if (b is not null && b.Length == length && b.GroupSize == groupSize)
                    return b;
            var created = new QuantizedVector(length, groupSize);
            buffers[t_next] = created;
            t_next = (t_next + 1) % buffers.Length;
            return created;
        }
    }
}
