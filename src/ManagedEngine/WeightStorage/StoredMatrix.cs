using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Kernels;

namespace MlPipelines.ManagedEngine.WeightStorage;

/// <summary>
/// A row-major <c>[Rows, Cols]</c> weight matrix exactly as a file stores it (usually a view of a memory-mapped file: the
/// weights are never copied), with the kernels for its format.
/// </summary>
internal sealed unsafe class StoredMatrix
{
    public StoredMatrix(byte* data, WeightFormat format, int rows, int cols)
    {
        if (cols % WeightFormats.BlockElements(format) != 0)
            throw new ArgumentException($"Rows of {cols} values are not whole {format} blocks of {WeightFormats.BlockElements(format)}.", nameof(cols));
        Data = data;
        Format = format;
        Rows = rows;
        Cols = cols;
        RowBytes = WeightFormats.RowBytes(format, cols);
    }

    /// <summary>The matrix in the file's layout (always valid: the scalar and portable kernels, row reads and exports use it).</summary>
    public byte* Data { get; }

    /// <summary>The matrix re-laid for the x86 kernels (<see cref="Relay"/>: Q8_0/Q4_0 whole groups of eight rows, Q4_K), or null.</summary>
    internal byte* Relaid { get; private set; }
    public WeightFormat Format { get; }
    public int Rows { get; }
    public int Cols { get; }
    public long RowBytes { get; }

    // 0: not looked at yet; 1: no fp16 infinity or NaN; 2: some. Found on first use, not at load, so that loading does
    // not read the whole file; threads racing to it compute the same answer.
    private int _specialHalves;

    /// <summary>Whether this fp16 matrix holds an infinity or a NaN (the fused decode cannot map those; see HalfRows).</summary>
    private bool HasSpecialHalves
    {
        get
        {
            if (_specialHalves == 0)
                Volatile.Write(ref _specialHalves, HalfRows.HasSpecialHalves((ushort*)Data, (long)Rows * Cols) ? 2 : 1);
            return _specialHalves == 2;
        }
    }

    // The same for a 32-value block format's fp16 scales and minimums (see Block32Kernels' finiteScales).
    private int _specialScales;

    private bool HasSpecialScales<F>() where F : struct, IBlockFormat
    {
        if (_specialScales == 0)
            Volatile.Write(ref _specialScales, Block32Kernels.HasSpecialScales<F>(Data, RowBytes, Rows, Cols) ? 2 : 1);
        return _specialScales == 2;
    }

    /// <summary>
    /// Re-lays the matrix, in memory from <paramref name="memory"/>, where the kernels this process runs read another
    /// layout faster (x86 with AVX2, MLPIPE_KERNELS not forcing a portable path): Q8_0 and Q4_0 of eight rows or more into
    /// <see cref="Block32Kernels"/>' eight-row groups, Q4_K into <see cref="Q4_KUnpackedBlocks"/> (scales unpacked). With
    /// <paramref name="releaseSource"/>, gives the file pages it was read from back (<see cref="PageAdvice"/>), so the
    /// process keeps one resident copy. Does nothing for other formats or machines. Not thread-safe: call once, at load.
    /// </summary>
    internal void Relay(WeightMemory memory, bool releaseSource)
    {
        if (Relaid != null || !Block32Kernels.RunsInterleaved(KernelPaths.Default))
            return;
        long sourceBytes;
        if (Block32Kernels.Interleaves(Format) && Rows >= 8)
        {
            byte* copy = memory.AllocateBytes(Block32Kernels.InterleavedBytes(Format, Rows, Cols));
            if (Format == WeightFormat.Q8_0) Block32Kernels.Interleave<Q8_0Blocks>(Data, RowBytes, Rows, Cols, copy);
            else Block32Kernels.Interleave<Q4_0Blocks>(Data, RowBytes, Rows, Cols, copy);
            // Read the scales' special values while the source is still resident.
            _ = Format == WeightFormat.Q8_0 ? HasSpecialScales<Q8_0Blocks>() : HasSpecialScales<Q4_0Blocks>();
            Relaid = copy;
            sourceBytes = Rows / 8 * 8 * RowBytes;
        }
        else if (Format == WeightFormat.Q4_K)
        {
            long blocks = (long)Rows * (Cols / 256);
            byte* copy = memory.AllocateBytes(blocks * Q4_KUnpackedBlocks.Bytes);
            for (long b = 0; b < blocks; b++)
                Q4_KUnpackedBlocks.From(Data + b * Q4_KBlocks.BlockBytes, copy + b * Q4_KUnpackedBlocks.Bytes);
            Relaid = copy;
            sourceBytes = Rows * RowBytes;
        }
        else
            return;
        if (releaseSource)
            PageAdvice.Release(Data, sourceBytes);
    }

    /// <summary>Null for fp32/fp16/bf16 (fp32 activations), else how the activations must be quantised.</summary>
    public ActivationGrouping? Activations => WeightFormats.Activations(Format);

    /// <summary>Rows <paramref name="rowStart"/>..<paramref name="rowEnd"/> of <c>Y = X Wᵀ</c>, fp32 activations (F32, F16, BF16).</summary>
    /// <remarks><paramref name="rebiased"/>: for F16 weights, <c>x · 2^112</c> when the caller has computed it once for
    /// every thread (<see cref="HalfRows.Rebias"/>); null to let each call compute its own.</remarks>
    public void Multiply(float* x, int tokens, float* y, int yStride, int rowStart, int rowEnd, KernelPath path, float* rebiased = null)
    {
        switch (Format)
        {
            case WeightFormat.F32:
                MatMulKernel.Multiply((float*)Data, Cols, Cols, x, Cols, tokens, y, yStride, rowStart, rowEnd, path);
                break;
            case WeightFormat.F16:
            case WeightFormat.BF16:
                bool bf16 = Format == WeightFormat.BF16;
                bool specials = !bf16 && HasSpecialHalves;
                if (tokens == 1 && HalfRows.TryDecode((ushort*)Data, bf16, specials, Cols, x, rebiased, y, rowStart, rowEnd, path))
                    break;
                HalfRows.Multiply((ushort*)Data, bf16, specials, Cols, x, rebiased, tokens, y, yStride, rowStart, rowEnd, path);
                break;
            default:
                throw new InvalidOperationException($"{Format} weights multiply quantised activations.");
        }
    }

    /// <summary>Rows <paramref name="rowStart"/>..<paramref name="rowEnd"/> of <c>Y = X Wᵀ</c>, quantised activations (block formats).</summary>
    public void Multiply(QuantizedActivations x, int tokens, float* y, int yStride, int rowStart, int rowEnd, KernelPath path)
    {
        switch (Format)
        {
            case WeightFormat.Q8_0 when Relaid != null && Block32Kernels.RunsInterleaved(path):
                Block32Kernels.MultiplyInterleaved<Q8_0Blocks>(Data, Relaid, RowBytes, Rows, Cols, x, tokens, y, yStride, rowStart, rowEnd, !HasSpecialScales<Q8_0Blocks>());
                break;
            case WeightFormat.Q4_0 when Relaid != null && Block32Kernels.RunsInterleaved(path):
                Block32Kernels.MultiplyInterleaved<Q4_0Blocks>(Data, Relaid, RowBytes, Rows, Cols, x, tokens, y, yStride, rowStart, rowEnd, !HasSpecialScales<Q4_0Blocks>());
                break;
            case WeightFormat.Q8_0: Block32Kernels.Multiply<Q8_0Blocks>(Data, RowBytes, Cols, x, tokens, y, yStride, rowStart, rowEnd, path, !HasSpecialScales<Q8_0Blocks>()); break;
            case WeightFormat.Q4_0: Block32Kernels.Multiply<Q4_0Blocks>(Data, RowBytes, Cols, x, tokens, y, yStride, rowStart, rowEnd, path, !HasSpecialScales<Q4_0Blocks>()); break;
            case WeightFormat.Q4_1: Block32Kernels.Multiply<Q4_1Blocks>(Data, RowBytes, Cols, x, tokens, y, yStride, rowStart, rowEnd, path, !HasSpecialScales<Q4_1Blocks>()); break;
            case WeightFormat.Q5_0: Block32Kernels.Multiply<Q5_0Blocks>(Data, RowBytes, Cols, x, tokens, y, yStride, rowStart, rowEnd, path, !HasSpecialScales<Q5_0Blocks>()); break;
            case WeightFormat.Q5_1: Block32Kernels.Multiply<Q5_1Blocks>(Data, RowBytes, Cols, x, tokens, y, yStride, rowStart, rowEnd, path, !HasSpecialScales<Q5_1Blocks>()); break;
            // Every path reads the re-laid copy when there is one (the file's pages were given back).
            case WeightFormat.Q4_K when Relaid != null:
                BlockKernels.Multiply<Q4_KUnpackedBlocks>(Relaid, Cols / 256 * Q4_KUnpackedBlocks.Bytes, Cols, x, tokens, y, yStride, rowStart, rowEnd, path);
                break;
            case WeightFormat.Q4_K: BlockKernels.Multiply<Q4_KBlocks>(Data, RowBytes, Cols, x, tokens, y, yStride, rowStart, rowEnd, path); break;
            case WeightFormat.Q5_K: BlockKernels.Multiply<Q5_KBlocks>(Data, RowBytes, Cols, x, tokens, y, yStride, rowStart, rowEnd, path); break;
            case WeightFormat.Q6_K: BlockKernels.Multiply<Q6_KBlocks>(Data, RowBytes, Cols, x, tokens, y, yStride, rowStart, rowEnd, path); break;
            default: throw new InvalidOperationException($"{Format} weights multiply fp32 activations.");
        }
    }

    /// <summary>Row <paramref name="row"/> as fp32 (an embedding lookup).</summary>
    public void ReadRow(int row, Span<float> destination)
    {
        if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        byte* p = Data + row * RowBytes;
        switch (Format)
        {
            case WeightFormat.F32:
                new ReadOnlySpan<float>(p, Cols).CopyTo(destination);
                break;
            case WeightFormat.F16:
            case WeightFormat.BF16:
                fixed (float* d = destination) HalfRows.Widen((ushort*)p, Format == WeightFormat.BF16, d, Cols);
                break;
            default:
                BlockDequantizer.Row(Format, p, Cols, destination);
                break;
        }
    }
}
