using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// <c>Y[t, r] = W[r, :] · X[t, :]</c> for a row range of a row-major weight matrix and a block of
/// token vectors: the matrix-vector product of decoding (one token) and the GEMM of prefill (many).
/// <para>
/// Every (row, token) dot product has the same arithmetic wherever it is computed: sixteen accumulator lanes, column
/// k going to lane <c>k mod 16</c> by fused multiply-add in increasing k, for every whole group of eight columns (a
/// last group of eight, when the columns are not a multiple of 16, goes to lanes 0–7); then lanes i and i+8 added,
/// the eight sums paired ((0+1)+(2+3)) + ((4+5)+(6+7)), and the last columns (past a multiple of 8) added unfused in
/// order. So a dot product gives bit-identical results whether it is computed alone, in a tile, in a prefill chunk or
/// in a decode step, on any path, and whatever rows a thread is given.
/// </para>
/// <para>
/// Sixteen lanes, not eight, for decode: a row is then two independent accumulator chains, so decode needs only two
/// rows in flight, taken from two long sequential streams (the start and the middle of a thread's rows), where eight
/// lanes needed eight neighbouring rows in flight — eight interleaved streams, measured 10–15 % below a plain read.
/// Prefill tiles share every load of <c>x</c> and of <c>w</c>: 2 rows × 3, 2 or 1 tokens in 256-bit registers
/// (two per pair), 4 rows × 6 tokens in 512-bit ones (one per pair). This file holds the 256-bit path and its 512-bit
/// prefill tile; MatMulKernel.Portable.cs the 128-bit and scalar paths.
/// </para>
/// </summary>
internal static unsafe partial class MatMulKernel
{
    /// <summary>
    /// Computes rows <c>[rowStart, rowEnd)</c> of <c>Y</c> for <paramref name="tokens"/> token vectors.
    /// </summary>
    /// <param name="w">Weights, row-major <c>[rows, cols]</c>.</param>
    /// <param name="cols">Row length of the weights and of each token vector.</param>
    /// <param name="x">Token vectors, row-major <c>[tokens, cols]</c>.</param>
    /// <param name="tokens">Number of token vectors.</param>
    /// <param name="y">Outputs, row-major <c>[tokens, yStride]</c>; element (t, r) at <c>y[t * yStride + r]</c>.</param>
    /// <param name="yStride">Distance between consecutive tokens' outputs.</param>
    /// <param name="rowStart">First weight row to compute.</param>
    /// <param name="rowEnd">One past the last weight row to compute.</param>
    public static void Multiply(float* w, int cols, float* x, int tokens, float* y, int yStride, int rowStart, int rowEnd) =>
        Multiply(w, cols, cols, x, cols, tokens, y, yStride, rowStart, rowEnd);

    /// <summary>
    /// The same with explicit strides: weight row r starts at <c>w + r * wStride</c> and token t at
    /// <c>x + t * xStride</c> (for example one attention head's keys inside a KV cache row).
    /// </summary>
    public static void Multiply(float* w, int wStride, int cols, float* x, int xStride, int tokens, float* y, int yStride, int rowStart, int rowEnd) =>
        Multiply(w, wStride, cols, x, xStride, tokens, y, yStride, rowStart, rowEnd, KernelPaths.Default);

    /// <summary>The same on a chosen <see cref="KernelPath"/> (all paths give the same bits; tests run each).</summary>
    public static void Multiply(float* w, int wStride, int cols, float* x, int xStride, int tokens, float* y, int yStride, int rowStart, int rowEnd,
        KernelPath path)
    {
        switch (path)
        {
            case KernelPath.Scalar:
                MultiplyScalar(w, wStride, cols, x, xStride, tokens, y, yStride, rowStart, rowEnd);
                break;
            case KernelPath.Portable128:
                Multiply128(w, wStride, cols, x, xStride, tokens, y, yStride, rowStart, rowEnd);
                break;
            default:
                Multiply256(w, wStride, cols, x, xStride, tokens, y, yStride, rowStart, rowEnd, path);
                break;
        }
    }

    /// <summary>
    /// The 256-bit path, with 512-bit prefill tiles on <see cref="KernelPath.Native512"/>. Above
    /// <see cref="KernelPath.Portable256"/>, x86 intrinsics without a portable equivalent (horizontal add, prefetch) may be used.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply256(float* w, int wStride, int cols, float* x, int xStride, int tokens, float* y, int yStride, int rowStart, int rowEnd,
        KernelPath path)
    {
        bool native = path >= KernelPath.Native256;
        int r = rowStart;
        if (tokens == 1)
        {
            DecodeRows(w, wStride, cols, x, y, rowStart, rowEnd, native, wide: path == KernelPath.Native512 && Avx512F.IsSupported);
            return;
        }
        // The next row block is fetched into L2 while this one is used, spread over the block's token tiles: otherwise
        // its first tile waits for DRAM (the weights are read once per chunk). A prefetch changes no result; it has no
        // portable equivalent, so only the native path issues it.
        bool prefetch = native && Sse.IsSupported && wStride == cols;
        if (path == KernelPath.Native512 && tokens >= 6)
        {
            // Four rows × six tokens in 512-bit registers (24 accumulators: AVX-512 has 32 registers).
            int sixes = tokens - tokens % 6;
            int block = BlockRows;
            for (; r + 4 <= rowEnd; r += block)
            {
                // Row blocks of several 4-row tiles: each token tile's activations are read from the chunk once per block
                // (from L3 when a chunk's activations outgrow L2) and from L1/L2 for the block's other tiles.
                while (r + block > rowEnd) block -= 4;
                float* w0 = w + (long)r * wStride;
                var fetch = new BlockPrefetch(w0 + (long)block * cols, prefetch && r + 2 * block <= rowEnd ? block * cols / 16 : 0, sixes / 6);
                for (int t = 0; t < sixes; t += 6)
                {
                    fetch.Next();
                    for (int i = 0; i < block; i += 4)
                        Tile4x6Of512<F32Lanes>((byte*)(w0 + (long)i * wStride), 4L * wStride, cols, x + (long)t * xStride, xStride, y + (long)t * yStride + r + i, yStride, native);
                }
                if (sixes < tokens)
                    for (int i = 0; i < block; i += 4)
                        Tile4xFewOf512<F32Lanes>(tokens - sixes, (byte*)(w0 + (long)i * wStride), 4L * wStride, cols, x + (long)sixes * xStride, xStride,
                            y + (long)sixes * yStride + r + i, yStride, native);
            }
        }
        // Tokens in threes (2 × 3 tiles: 12 accumulators), then the one or two left over while the same rows are in cache.
        int triples = tokens - tokens % 3;
        for (; r + 2 <= rowEnd; r += 2)
        {
            float* w0 = w + (long)r * wStride;
            var fetch = new BlockPrefetch(w0 + 2 * cols, prefetch && r + 4 <= rowEnd ? 2 * cols / 16 : 0, triples / 3);
            for (int t = 0; t < triples; t += 3)
            {
                fetch.Next();
                Tile2x3(w0, wStride, cols, x + (long)t * xStride, xStride, y + (long)t * yStride + r, yStride, native);
            }
            PrefillRows2(w0, wStride, cols, x, xStride, triples, tokens, y + r, yStride, native);
        }
        for (; r < rowEnd; r++)
        {
            float* wr = w + (long)r * wStride;
            for (int t = 0; t < tokens; t++)
                y[(long)t * yStride + r] = Dot(wr, x + (long)t * xStride, cols, native);
        }
    }

    /// <summary>
    /// Rows per block of the 512-bit prefill (two 4-row tiles): measured against one tile per block, 88–93 → 104–111
    /// GFLOP/s on 2048-column shapes; 16 or 32 rows were no better.
    /// </summary>
    internal const int BlockRows = 8;

    /// <summary>Tokens <c>[from, tokens)</c> of two rows: 2 × 3 tiles, then the one or two left over.</summary>
    private static void PrefillRows2(float* w0, int wStride, int cols, float* x, int xStride, int from, int tokens, float* y, int yStride, bool native)
    {
        int t = from;
        for (; t + 3 <= tokens; t += 3)
            Tile2x3(w0, wStride, cols, x + (long)t * xStride, xStride, y + (long)t * yStride, yStride, native);
        for (; t < tokens; t++)
            DotPair(w0, w0 + wStride, cols, x + (long)t * xStride, y + (long)t * yStride, y + (long)t * yStride + 1, native);
    }

    /// <summary>Prefetches a block's cache lines into L2, an equal share before each of a number of tiles.</summary>
    internal struct BlockPrefetch(float* block, int lines, int tiles)
    {
        private readonly int _perTile = tiles > 0 ? (lines + tiles - 1) / tiles : 0;
        private int _line;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Next()
        {
            for (int end = Math.Min(_line + _perTile, lines); _line < end; _line++)
                Sse.Prefetch1(block + _line * 16);
        }
    }

    /// <summary>
    /// The end of a sixteen-lane dot product after its whole groups of sixteen (<paramref name="k"/> the next column):
    /// a last group of eight into the low lanes, lanes i and i+8 added, the eight sums paired, the tail unfused.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Finish(Vector256<float> lo, Vector256<float> hi, float* w, float* x, int k, int cols, bool native)
    {
        if (k + 8 <= cols)
        {
            lo = Vector256.FusedMultiplyAdd(Vector256.Load(w + k), Vector256.Load(x + k), lo);
            k += 8;
        }
        return Reduce(lo + hi, w, x, k, cols, native);
    }

    /// <summary>The eight lane sums paired, then the tail (columns from <paramref name="k"/>) unfused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Reduce(Vector256<float> lanes, float* w, float* x, int k, int cols, bool native)
    {
        // Both sums pair the lanes the same way (KernelPathTests checks it); the hardware one is shorter.
        float sum = native ? Vector256.Sum(lanes) : KernelPaths.Sum8(lanes);
        return Tail(sum, w, x, k, cols);
    }

    /// <summary>The columns past the last multiple of 8, unfused, in order (the same on every path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail(float sum, float* w, float* x, int k, int cols)
    {
        for (; k < cols; k++) sum += w[k] * x[k];
        return sum;
    }

    /// <summary>
    /// Decode: the rows as two sequential streams, one from the start of the range and one from its middle, a row of
    /// each at a time (the last row alone when the count is odd), so four accumulator chains are in flight while the
    /// memory is read as two long runs (see the class remarks). Measured on 768- and 2048-column fp32 rows (one thread,
    /// 400 MB): 25–30 GB/s one row at a time, 27–33 two streams, ggml's fp32 dot product 27–31.
    /// </summary>
    private static void DecodeRows(float* w, int wStride, int cols, float* x, float* y, int rowStart, int rowEnd, bool native, bool wide)
    {
        int half = (rowEnd - rowStart) / 2;
        float* w0 = w + (long)rowStart * wStride, w1 = w0 + (long)half * wStride;
        float* y0 = y + rowStart, y1 = y0 + half;
        for (int i = 0; i < half; i++)
        {
            long offset = (long)i * wStride;
            if (wide) DotPair512(w0 + offset, w1 + offset, cols, x, y0 + i, y1 + i, native);
            else DotPair(w0 + offset, w1 + offset, cols, x, y0 + i, y1 + i, native);
        }
        if ((rowEnd - rowStart) % 2 != 0)
            y[rowEnd - 1] = Dot(w + (long)(rowEnd - 1) * wStride, x, cols, native);
    }

    /// <summary>Two rows (anywhere: the two decode streams, or neighbours in a prefill tile), one token: <see cref="Dot"/> on each, the activation loads shared.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void DotPair(float* w0, float* w1, int cols, float* x, float* y0, float* y1, bool native)
    {
        Vector256<float> l0 = default, h0 = default, l1 = default, h1 = default;
        int k = 0;
        for (; k + 16 <= cols; k += 16)
        {
            Vector256<float> vl = Vector256.Load(x + k), vh = Vector256.Load(x + k + 8);
            l0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + k), vl, l0);
            h0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + k + 8), vh, h0);
            l1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + k), vl, l1);
            h1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + k + 8), vh, h1);
        }
        *y0 = Finish(l0, h0, w0, x, k, cols, native);
        *y1 = Finish(l1, h1, w1, x, k, cols, native);
    }

    /// <summary><see cref="DotPair"/> with one 512-bit register per row (its halves are the two chains: the same bits).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void DotPair512(float* w0, float* w1, int cols, float* x, float* y0, float* y1, bool native)
    {
        Vector512<float> a0 = default, a1 = default;
        int k = 0;
        for (; k + 16 <= cols; k += 16)
        {
            Vector512<float> v = Vector512.Load(x + k);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(w0 + k), v, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(w1 + k), v, a1);
        }
        *y0 = Finish(a0.GetLower(), a0.GetUpper(), w0, x, k, cols, native);
        *y1 = Finish(a1.GetLower(), a1.GetUpper(), w1, x, k, cols, native);
    }

    /// <summary>One row, one token: two eight-lane accumulator chains (lanes 0–7 and 8–15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(float* w, float* x, int cols, bool native)
    {
        Vector256<float> lo = default, hi = default;
        int k = 0;
        for (; k + 16 <= cols; k += 16)
        {
            lo = Vector256.FusedMultiplyAdd(Vector256.Load(w + k), Vector256.Load(x + k), lo);
            hi = Vector256.FusedMultiplyAdd(Vector256.Load(w + k + 8), Vector256.Load(x + k + 8), hi);
        }
        return Finish(lo, hi, w, x, k, cols, native);
    }

    /// <summary>
    /// Two rows × three tokens, 12 accumulators; each step takes the low eight columns of the group of sixteen for all
    /// six pairs, then the high eight, so that only two weight vectors and one activation vector are live beside the
    /// accumulators (AVX2 has sixteen registers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile2x3(float* w0, int wStride, int cols, float* x0, int xStride, float* y, int yStride, bool native)
    {
        float* w1 = w0 + wStride, x1 = x0 + xStride, x2 = x1 + xStride;
        Vector256<float> l00 = default, l10 = default, l01 = default, l11 = default, l02 = default, l12 = default;
        Vector256<float> h00 = default, h10 = default, h01 = default, h11 = default, h02 = default, h12 = default;
        int k = 0;
        for (; k + 16 <= cols; k += 16)
        {
            Vector256<float> r0 = Vector256.Load(w0 + k), r1 = Vector256.Load(w1 + k);
            Vector256<float> v = Vector256.Load(x0 + k);
            l00 = Vector256.FusedMultiplyAdd(r0, v, l00);
            l10 = Vector256.FusedMultiplyAdd(r1, v, l10);
            v = Vector256.Load(x1 + k);
            l01 = Vector256.FusedMultiplyAdd(r0, v, l01);
            l11 = Vector256.FusedMultiplyAdd(r1, v, l11);
            v = Vector256.Load(x2 + k);
            l02 = Vector256.FusedMultiplyAdd(r0, v, l02);
            l12 = Vector256.FusedMultiplyAdd(r1, v, l12);
            r0 = Vector256.Load(w0 + k + 8);
            r1 = Vector256.Load(w1 + k + 8);
            v = Vector256.Load(x0 + k + 8);
            h00 = Vector256.FusedMultiplyAdd(r0, v, h00);
            h10 = Vector256.FusedMultiplyAdd(r1, v, h10);
            v = Vector256.Load(x1 + k + 8);
            h01 = Vector256.FusedMultiplyAdd(r0, v, h01);
            h11 = Vector256.FusedMultiplyAdd(r1, v, h11);
            v = Vector256.Load(x2 + k + 8);
            h02 = Vector256.FusedMultiplyAdd(r0, v, h02);
            h12 = Vector256.FusedMultiplyAdd(r1, v, h12);
        }
        y[0] = Finish(l00, h00, w0, x0, k, cols, native);
        y[1] = Finish(l10, h10, w1, x0, k, cols, native);
        y[yStride] = Finish(l01, h01, w0, x1, k, cols, native);
        y[yStride + 1] = Finish(l11, h11, w1, x1, k, cols, native);
        y[2L * yStride] = Finish(l02, h02, w0, x2, k, cols, native);
        y[2L * yStride + 1] = Finish(l12, h12, w1, x2, k, cols, native);
    }
}
