using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// <c>Y[t, r] = W[r, :] · X[t, :]</c> for a row range of a row-major weight matrix and a block of
/// token vectors: the matrix-vector product of decoding (one token) and the GEMM of prefill (many).
/// <para>
/// Register tiles (4 weight rows × 3, 2 or 1 tokens in prefill, 8 rows × 6 tokens with AVX-512, 8 rows × 1
/// token in decode) share every load of <c>x</c> and of <c>w</c>; each
/// (row, token) pair has its own 8-lane accumulator, reduced the same way in every tile shape, so a
/// dot product gives bit-identical results whether it is computed alone, in a tile, in a prefill chunk
/// or in a decode step, and whatever rows a thread is given.
/// </para>
/// <para>
/// This file holds the 256-bit path and its 512-bit prefill tile, whose registers hold two rows' eight-lane
/// accumulators each, so fp32 results do not depend on the vector width; MatMulKernel.Portable.cs holds the
/// 128-bit and scalar paths, which keep the same eight-lane layout and give the same bits.
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
        if (tokens == 1 && cols <= ShortRowCols)
        {
            // Decode with short rows (up to 2 KB): one row after another, a single sequential stream the
            // hardware prefetcher follows. Interleaving 8 such rows gave it 8 streams too short to lock on
            // to (measured on the 15m shape: 229–268 → 273–288 tok/s on one thread, as fast as llama2.c).
            for (; r < rowEnd; r++)
                y[r] = Dot1(w + (long)r * wStride, x, cols, native);
        }
        else if (tokens == 1)
        {
            // Decode with long rows: 8 rows at a time, so 8 independent accumulator chains keep both FMA
            // units busy; the hardware prefetcher tracks rows this long by itself.
            for (; r + 8 <= rowEnd; r += 8)
                Tile8x1(w + (long)r * wStride, wStride, cols, x, y + r, native);
        }
        else
        {
            // The next row block is fetched into L2 while this one is used, spread over the block's token tiles:
            // otherwise its first tile waits for DRAM (the weights are read once per chunk). A prefetch changes no
            // result; it has no portable equivalent, so only the native path issues it.
            bool prefetch = native && Sse.IsSupported && wStride == cols;
            if (path == KernelPath.Native512 && tokens >= 6)
            {
                // Eight rows × six tokens in 512-bit registers (24 accumulators: AVX-512 has 32 registers).
                int sixes = tokens - tokens % 6;
                for (; r + 8 <= rowEnd; r += 8)
                {
                    float* w0 = w + (long)r * wStride;
                    var fetch = new BlockPrefetch(w0 + 8 * cols, prefetch && r + 16 <= rowEnd ? 8 * cols / 16 : 0, sixes / 6);
                    for (int t = 0; t < sixes; t += 6)
                    {
                        fetch.Next();
                        Tile8x6Of512(w0, wStride, cols, x + (long)t * xStride, xStride, y + (long)t * yStride + r, yStride, native);
                    }
                    PrefillRows4(w0, wStride, cols, x, xStride, sixes, tokens, y + r, yStride, native);
                    PrefillRows4(w0 + 4L * wStride, wStride, cols, x, xStride, sixes, tokens, y + r + 4, yStride, native);
                }
            }
            // Tokens in threes (4 × 3 tiles: 12 accumulators, 7 loads per 12 FMAs), then the one or two left over
            // while the same 4 weight rows are still in cache.
            int triples = tokens - tokens % 3;
            for (; r + 4 <= rowEnd; r += 4)
            {
                float* w0 = w + (long)r * wStride;
                var fetch = new BlockPrefetch(w0 + 4 * cols, prefetch && r + 8 <= rowEnd ? 4 * cols / 16 : 0, triples / 3);
                for (int t = 0; t < triples; t += 3)
                {
                    fetch.Next();
                    Tile4x3(w0, wStride, cols, x + (long)t * xStride, xStride, y + (long)t * yStride + r, yStride, native);
                }
                PrefillRows4(w0, wStride, cols, x, xStride, triples, tokens, y + r, yStride, native);
            }
        }
        for (; r + 4 <= rowEnd; r += 4)
            Tile4x1(w + (long)r * wStride, wStride, cols, x, y + r, native);
        for (; r < rowEnd; r++)
        {
            float* wr = w + (long)r * wStride;
            for (int t = 0; t < tokens; t++)
                y[(long)t * yStride + r] = Dot1(wr, x + (long)t * xStride, cols, native);
        }
    }

    /// <summary>Tokens <c>[from, tokens)</c> of four rows: 4 × 3 tiles, then the one or two left over.</summary>
    private static void PrefillRows4(float* w0, int wStride, int cols, float* x, int xStride, int from, int tokens, float* y, int yStride, bool native)
    {
        int t = from;
        for (; t + 3 <= tokens; t += 3)
            Tile4x3(w0, wStride, cols, x + (long)t * xStride, xStride, y + (long)t * yStride, yStride, native);
        if (tokens - t == 2)
            Tile4x2(w0, wStride, cols, x + (long)t * xStride, xStride, y + (long)t * yStride, yStride, native);
        else if (tokens - t == 1)
            Tile4x1(w0, wStride, cols, x + (long)t * xStride, y + (long)t * yStride, native);
    }

    /// <summary>Prefetches a block's cache lines into L2, an equal share before each of a number of tiles.</summary>
    private struct BlockPrefetch(float* block, int lines, int tiles)
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Finish(Vector256<float> acc, float* w, float* x, int k, int cols, bool native)
    {
        // Both sums pair the lanes the same way (KernelPathTests checks it); the hardware one is shorter.
        float sum = native ? Vector256.Sum(acc) : KernelPaths.Sum8(acc);
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
    /// <see cref="Finish"/> for four consecutive rows and one token, stored to <c>y[0..3]</c>. Without a tail
    /// the four sums come from three horizontal adds, which pair the lanes exactly as
    /// <see cref="Vector256.Sum{T}"/> does (((0+1)+(2+3)) + ((4+5)+(6+7)), addition being commutative), so
    /// the bits are the same as four separate sums at a fraction of the instructions. The portable API has no
    /// two-vector horizontal add, so other machines (and the portable path) take the four separate sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Finish4(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d,
        float* w0, int wStride, float* x, int k, int cols, float* y, bool native)
    {
        if (native && k == cols && Avx.IsSupported)
        {
            Vector256<float> sums = Avx.HorizontalAdd(Avx.HorizontalAdd(a, b), Avx.HorizontalAdd(c, d));
            (sums.GetLower() + sums.GetUpper()).Store(y);
            return;
        }
        y[0] = Finish(a, w0, x, k, cols, native);
        y[1] = Finish(b, w0 + wStride, x, k, cols, native);
        y[2] = Finish(c, w0 + 2 * wStride, x, k, cols, native);
        y[3] = Finish(d, w0 + 3 * wStride, x, k, cols, native);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x3(float* w0, int wStride, int cols, float* x0, int xStride, float* y, int yStride, bool native)
    {
        float* w1 = w0 + wStride, w2 = w1 + wStride, w3 = w2 + wStride, x1 = x0 + xStride, x2 = x1 + xStride;
        Vector256<float> a00 = default, a10 = default, a20 = default, a30 = default;
        Vector256<float> a01 = default, a11 = default, a21 = default, a31 = default;
        Vector256<float> a02 = default, a12 = default, a22 = default, a32 = default;
        int k = 0;
        for (; k + 8 <= cols; k += 8)
        {
            Vector256<float> v0 = Vector256.Load(x0 + k), v1 = Vector256.Load(x1 + k), v2 = Vector256.Load(x2 + k);
            Vector256<float> r0 = Vector256.Load(w0 + k);
            a00 = Vector256.FusedMultiplyAdd(r0, v0, a00);
            a01 = Vector256.FusedMultiplyAdd(r0, v1, a01);
            a02 = Vector256.FusedMultiplyAdd(r0, v2, a02);
            Vector256<float> r1 = Vector256.Load(w1 + k);
            a10 = Vector256.FusedMultiplyAdd(r1, v0, a10);
            a11 = Vector256.FusedMultiplyAdd(r1, v1, a11);
            a12 = Vector256.FusedMultiplyAdd(r1, v2, a12);
            Vector256<float> r2 = Vector256.Load(w2 + k);
            a20 = Vector256.FusedMultiplyAdd(r2, v0, a20);
            a21 = Vector256.FusedMultiplyAdd(r2, v1, a21);
            a22 = Vector256.FusedMultiplyAdd(r2, v2, a22);
            Vector256<float> r3 = Vector256.Load(w3 + k);
            a30 = Vector256.FusedMultiplyAdd(r3, v0, a30);
            a31 = Vector256.FusedMultiplyAdd(r3, v1, a31);
            a32 = Vector256.FusedMultiplyAdd(r3, v2, a32);
        }
        Finish4(a00, a10, a20, a30, w0, wStride, x0, k, cols, y, native);
        Finish4(a01, a11, a21, a31, w0, wStride, x1, k, cols, y + yStride, native);
        Finish4(a02, a12, a22, a32, w0, wStride, x2, k, cols, y + 2L * yStride, native);
    }

    /// <summary>
    /// Eight rows × six tokens with 512-bit registers: each holds the eight-lane accumulators of two rows for one
    /// token, so every (row, token) pair sums exactly as in the 256-bit tiles (the same lanes, the same fused
    /// multiply-adds in the same order, the same reduction) and the bits do not depend on the vector width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x6Of512(float* w0, int wStride, int cols, float* x0, int xStride, float* y, int yStride, bool native)
    {
        float* w1 = w0 + wStride, w2 = w1 + wStride, w3 = w2 + wStride, w4 = w3 + wStride, w5 = w4 + wStride, w6 = w5 + wStride, w7 = w6 + wStride;
        float* x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride, x4 = x3 + xStride, x5 = x4 + xStride;
        Vector512<float> a00 = default, a10 = default, a20 = default, a30 = default;
        Vector512<float> a01 = default, a11 = default, a21 = default, a31 = default;
        Vector512<float> a02 = default, a12 = default, a22 = default, a32 = default;
        Vector512<float> a03 = default, a13 = default, a23 = default, a33 = default;
        Vector512<float> a04 = default, a14 = default, a24 = default, a34 = default;
        Vector512<float> a05 = default, a15 = default, a25 = default, a35 = default;
        int k = 0;
        for (; k + 8 <= cols; k += 8)
        {
            Vector512<float> r0 = Pair(w0 + k, w1 + k), r1 = Pair(w2 + k, w3 + k), r2 = Pair(w4 + k, w5 + k), r3 = Pair(w6 + k, w7 + k);
            Vector512<float> v = Twice(x0 + k);
            a00 = Vector512.FusedMultiplyAdd(r0, v, a00);
            a10 = Vector512.FusedMultiplyAdd(r1, v, a10);
            a20 = Vector512.FusedMultiplyAdd(r2, v, a20);
            a30 = Vector512.FusedMultiplyAdd(r3, v, a30);
            v = Twice(x1 + k);
            a01 = Vector512.FusedMultiplyAdd(r0, v, a01);
            a11 = Vector512.FusedMultiplyAdd(r1, v, a11);
            a21 = Vector512.FusedMultiplyAdd(r2, v, a21);
            a31 = Vector512.FusedMultiplyAdd(r3, v, a31);
            v = Twice(x2 + k);
            a02 = Vector512.FusedMultiplyAdd(r0, v, a02);
            a12 = Vector512.FusedMultiplyAdd(r1, v, a12);
            a22 = Vector512.FusedMultiplyAdd(r2, v, a22);
            a32 = Vector512.FusedMultiplyAdd(r3, v, a32);
            v = Twice(x3 + k);
            a03 = Vector512.FusedMultiplyAdd(r0, v, a03);
            a13 = Vector512.FusedMultiplyAdd(r1, v, a13);
            a23 = Vector512.FusedMultiplyAdd(r2, v, a23);
            a33 = Vector512.FusedMultiplyAdd(r3, v, a33);
            v = Twice(x4 + k);
            a04 = Vector512.FusedMultiplyAdd(r0, v, a04);
            a14 = Vector512.FusedMultiplyAdd(r1, v, a14);
            a24 = Vector512.FusedMultiplyAdd(r2, v, a24);
            a34 = Vector512.FusedMultiplyAdd(r3, v, a34);
            v = Twice(x5 + k);
            a05 = Vector512.FusedMultiplyAdd(r0, v, a05);
            a15 = Vector512.FusedMultiplyAdd(r1, v, a15);
            a25 = Vector512.FusedMultiplyAdd(r2, v, a25);
            a35 = Vector512.FusedMultiplyAdd(r3, v, a35);
        }
        Finish8(a00, a10, a20, a30, w0, wStride, x0, k, cols, y, native);
        Finish8(a01, a11, a21, a31, w0, wStride, x1, k, cols, y + yStride, native);
        Finish8(a02, a12, a22, a32, w0, wStride, x2, k, cols, y + 2L * yStride, native);
        Finish8(a03, a13, a23, a33, w0, wStride, x3, k, cols, y + 3L * yStride, native);
        Finish8(a04, a14, a24, a34, w0, wStride, x4, k, cols, y + 4L * yStride, native);
        Finish8(a05, a15, a25, a35, w0, wStride, x5, k, cols, y + 5L * yStride, native);
    }

    /// <summary>Two rows' next eight values side by side.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pair(float* lower, float* upper) => Vector512.Create(Vector256.Load(lower), Vector256.Load(upper));

    /// <summary>A token's next eight values in both halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Twice(float* x) =>
        Avx512DQ.IsSupported ? Avx512DQ.BroadcastVector256ToVector512(x) : Vector512.Create(Vector256.Load(x), Vector256.Load(x));

    /// <summary>Eight rows' sums for one token from four two-row accumulators (<see cref="Finish4"/> on each half).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish8(Vector512<float> r01, Vector512<float> r23, Vector512<float> r45, Vector512<float> r67,
        float* w0, int wStride, float* x, int k, int cols, float* y, bool native)
    {
        Finish4(r01.GetLower(), r01.GetUpper(), r23.GetLower(), r23.GetUpper(), w0, wStride, x, k, cols, y, native);
        Finish4(r45.GetLower(), r45.GetUpper(), r67.GetLower(), r67.GetUpper(), w0 + 4L * wStride, wStride, x, k, cols, y + 4, native);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2(float* w0, int wStride, int cols, float* x0, int xStride, float* y, int yStride, bool native)
    {
        float* w1 = w0 + wStride, w2 = w1 + wStride, w3 = w2 + wStride, x1 = x0 + xStride;
        Vector256<float> a00 = default, a10 = default, a20 = default, a30 = default;
        Vector256<float> a01 = default, a11 = default, a21 = default, a31 = default;
        int k = 0;
        for (; k + 8 <= cols; k += 8)
        {
            Vector256<float> v0 = Vector256.Load(x0 + k), v1 = Vector256.Load(x1 + k);
            Vector256<float> r0 = Vector256.Load(w0 + k);
            a00 = Vector256.FusedMultiplyAdd(r0, v0, a00);
            a01 = Vector256.FusedMultiplyAdd(r0, v1, a01);
            Vector256<float> r1 = Vector256.Load(w1 + k);
            a10 = Vector256.FusedMultiplyAdd(r1, v0, a10);
            a11 = Vector256.FusedMultiplyAdd(r1, v1, a11);
            Vector256<float> r2 = Vector256.Load(w2 + k);
            a20 = Vector256.FusedMultiplyAdd(r2, v0, a20);
            a21 = Vector256.FusedMultiplyAdd(r2, v1, a21);
            Vector256<float> r3 = Vector256.Load(w3 + k);
            a30 = Vector256.FusedMultiplyAdd(r3, v0, a30);
            a31 = Vector256.FusedMultiplyAdd(r3, v1, a31);
        }
        Finish4(a00, a10, a20, a30, w0, wStride, x0, k, cols, y, native);
        Finish4(a01, a11, a21, a31, w0, wStride, x1, k, cols, y + yStride, native);
    }

    private const int ShortRowCols = 512;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8x1(float* w0, int wStride, int cols, float* x0, float* y, bool native)
    {
        float* w1 = w0 + wStride, w2 = w1 + wStride, w3 = w2 + wStride, w4 = w3 + wStride, w5 = w4 + wStride, w6 = w5 + wStride, w7 = w6 + wStride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        int k = 0;
        for (; k + 8 <= cols; k += 8)
        {
            Vector256<float> v = Vector256.Load(x0 + k);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + k), v, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + k), v, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + k), v, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + k), v, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Load(w4 + k), v, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Load(w5 + k), v, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Load(w6 + k), v, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Load(w7 + k), v, a7);
        }
        Finish4(a0, a1, a2, a3, w0, wStride, x0, k, cols, y, native);
        Finish4(a4, a5, a6, a7, w4, wStride, x0, k, cols, y + 4, native);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1(float* w0, int wStride, int cols, float* x0, float* y, bool native)
    {
        float* w1 = w0 + wStride, w2 = w1 + wStride, w3 = w2 + wStride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int k = 0;
        for (; k + 8 <= cols; k += 8)
        {
            Vector256<float> v = Vector256.Load(x0 + k);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + k), v, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + k), v, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + k), v, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + k), v, a3);
        }
        Finish4(a0, a1, a2, a3, w0, wStride, x0, k, cols, y, native);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot1(float* w, float* x, int cols, bool native)
    {
        Vector256<float> acc = default;
        int k = 0;
        for (; k + 8 <= cols; k += 8)
            acc = Vector256.FusedMultiplyAdd(Vector256.Load(w + k), Vector256.Load(x + k), acc);
        return Finish(acc, w, x, k, cols, native);
    }
}
