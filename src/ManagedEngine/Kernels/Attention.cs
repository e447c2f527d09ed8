using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// Causal scaled dot-product attention of one query head over a KV cache, as in llama2.c:
/// scores <c>q·k_t / sqrt(headDim)</c> for t = 0..positions-1, softmax, then the
/// score-weighted sum of the values.
/// </summary>
public static class Attention
{
    /// <summary>Computes one head's attention output for one query (see <see cref="Chunk(float*, int, int, int, float*, float*, int, int, int, float*, int, float*)"/>).</summary>
    /// <param name="output">Receives <c>headDim</c> floats.</param>
    /// <param name="query">The head's query, <c>headDim</c> floats (already rotated).</param>
    /// <param name="keys">The layer's key cache, row-major <c>[positions, kvDim]</c> or longer.</param>
    /// <param name="values">The layer's value cache, same layout as <paramref name="keys"/>.</param>
    /// <param name="positions">How many cached positions to attend to (current position + 1).</param>
    /// <param name="kvDim">Row stride of the caches.</param>
    /// <param name="kvOffset">Offset of this head's key/value head within a row.</param>
    /// <param name="scores">Scratch of at least <paramref name="positions"/> floats.</param>
    public static void Head(Span<float> output, ReadOnlySpan<float> query, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int positions, int kvDim, int kvOffset, Span<float> scores) =>
        Head(output, query, keys, values, positions, kvDim, kvOffset, scores, KernelPaths.Default);

    /// <summary>The same on a chosen <see cref="KernelPath"/> (all paths give the same bits; tests run each).</summary>
    internal static unsafe void Head(Span<float> output, ReadOnlySpan<float> query, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int positions, int kvDim, int kvOffset, Span<float> scores, KernelPath path)
    {
        int headDim = query.Length;
        if (output.Length < headDim || scores.Length < positions || kvOffset + headDim > kvDim
            || (long)keys.Length < (long)positions * kvDim || (long)values.Length < (long)positions * kvDim)
            throw new ArgumentException("Attention shapes do not fit.");
        fixed (float* q = query, k = keys, v = values, o = output, s = scores)
            Chunk(q, headDim, 1, positions - 1, k, v, kvDim, kvOffset, headDim, o, headDim, s, path);
    }

    /// <summary>
    /// One head's attention for a chunk of <paramref name="tokens"/> queries at positions
    /// <c>firstPosition .. firstPosition + tokens - 1</c>; query t attends to cache rows 0..firstPosition+t.
    /// The scores of the whole chunk are one matrix product with the cache (the same kernel as the
    /// projections, so a query gets the same bits alone or in a chunk).
    /// </summary>
    /// <param name="q">First query; query t at <c>q + t * qStride</c>.</param>
    /// <param name="qStride">Distance between queries.</param>
    /// <param name="tokens">Queries in the chunk.</param>
    /// <param name="firstPosition">Position of the first query.</param>
    /// <param name="keys">The layer's key cache <c>[positions, kvDim]</c>, filled up to the chunk's last position.</param>
    /// <param name="values">The layer's value cache.</param>
    /// <param name="kvDim">Row stride of the caches.</param>
    /// <param name="kvOffset">Offset of this head's key/value head within a row.</param>
    /// <param name="headDim">Width of a head.</param>
    /// <param name="output">First output; output t at <c>output + t * outputStride</c>.</param>
    /// <param name="outputStride">Distance between outputs.</param>
    /// <param name="scores">Scratch of <c>tokens * (firstPosition + tokens)</c> floats.</param>
    public static unsafe void Chunk(float* q, int qStride, int tokens, int firstPosition, float* keys, float* values,
        int kvDim, int kvOffset, int headDim, float* output, int outputStride, float* scores) =>
        Chunk(q, qStride, tokens, firstPosition, keys, values, kvDim, kvOffset, headDim, output, outputStride, scores, KernelPaths.Default);

    /// <summary>The same on a chosen <see cref="KernelPath"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Chunk(float* q, int qStride, int tokens, int firstPosition, float* keys, float* values,
        int kvDim, int kvOffset, int headDim, float* output, int outputStride, float* scores, KernelPath path)
    {
        int total = firstPosition + tokens;
        MatMulKernel.Multiply(keys + kvOffset, kvDim, headDim, q, qStride, tokens, scores, total, 0, total, path);
        float norm = MathF.Sqrt(headDim);   // divided, not multiplied by the inverse, as llama2.c does
        for (int t = 0; t < tokens; t++)
        {
            int visible = firstPosition + t + 1;
            var p = new Span<float>(scores + (long)t * total, visible);
            // Vectorised softmax: attention is O(positions²) per chunk, unlike the sampler's softmax,
            // which keeps run.c's scalar arithmetic.
            TensorPrimitives.Divide(p, norm, p);
            TensorPrimitives.Subtract(p, TensorPrimitives.Max(p), p);
            TensorPrimitives.Exp(p, p);
            TensorPrimitives.Divide(p, TensorPrimitives.Sum(p), p);
            float* o = output + (long)t * outputStride, ps = scores + (long)t * total, v = values + kvOffset;
            new Span<float>(o, headDim).Clear();   // the weighted sums accumulate into o
            if (path >= KernelPath.Portable256)
                WeightedSum(o, ps, v, kvDim, visible, headDim);
            else
                AttentionPortable.WeightedSum(o, ps, v, kvDim, visible, headDim, vectors: path == KernelPath.Portable128);
        }
    }

    /// <summary>
    /// <c>o += Σ_s p[s] · v_s</c> over <paramref name="count"/> value rows, the chains continuing from <c>o</c>'s values (so
    /// a caller may add a long context block by block, as the fp16 cache's attention does). Each output element is one fused
    /// multiply-add chain in position order (the tail beyond a multiple of 8 unfused), however the head is
    /// blocked. Each chain is as long as the context, so the speed is the FMA latency per position: the
    /// head is cut into as few passes as possible (8, 6, 4, 2 or 1 vectors, all in registers), and never
    /// accumulated in memory, which would chain every update through a store and a reload.
    /// (<see cref="AttentionPortable"/> has the 128-bit and scalar versions: each element's chain is the same
    /// whatever the vector width, so they give the same bits.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void WeightedSum(float* o, float* p, float* v, int stride, int count, int headDim)
    {
        int i = 0;
        for (; i + 64 <= headDim; i += 64)
            Block8(o + i, p, v + i, stride, count);
        if (i + 48 <= headDim)
        {
            Block6(o + i, p, v + i, stride, count);
            i += 48;
        }
        for (; i + 32 <= headDim; i += 32)
            Block4(o + i, p, v + i, stride, count);
        for (; i + 16 <= headDim; i += 16)
            Block2(o + i, p, v + i, stride, count);
        for (; i + 8 <= headDim; i += 8)
        {
            Vector256<float> acc = Vector256.Load(o + i);
            for (int s = 0; s < count; s++)
                acc = Vector256.FusedMultiplyAdd(Vector256.Load(v + (long)s * stride + i), Vector256.Create(p[s]), acc);
            acc.Store(o + i);
        }
        for (; i < headDim; i++)
        {
            float sum = o[i];
            for (int s = 0; s < count; s++)
                sum += p[s] * v[(long)s * stride + i];
            o[i] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Block8(float* o, float* p, float* v, int stride, int count)
    {
        Vector256<float> a0 = Vector256.Load(o), a1 = Vector256.Load(o + 8), a2 = Vector256.Load(o + 16), a3 = Vector256.Load(o + 24);
        Vector256<float> a4 = Vector256.Load(o + 32), a5 = Vector256.Load(o + 40), a6 = Vector256.Load(o + 48), a7 = Vector256.Load(o + 56);
        for (int s = 0; s < count; s++)
        {
            float* row = v + (long)s * stride;
            Vector256<float> w = Vector256.Create(p[s]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), w, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), w, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 16), w, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 24), w, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 32), w, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 40), w, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 48), w, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 56), w, a7);
        }
        a0.Store(o); a1.Store(o + 8); a2.Store(o + 16); a3.Store(o + 24);
        a4.Store(o + 32); a5.Store(o + 40); a6.Store(o + 48); a7.Store(o + 56);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Block6(float* o, float* p, float* v, int stride, int count)
    {
        Vector256<float> a0 = Vector256.Load(o), a1 = Vector256.Load(o + 8), a2 = Vector256.Load(o + 16);
        Vector256<float> a3 = Vector256.Load(o + 24), a4 = Vector256.Load(o + 32), a5 = Vector256.Load(o + 40);
        for (int s = 0; s < count; s++)
        {
            float* row = v + (long)s * stride;
            Vector256<float> w = Vector256.Create(p[s]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), w, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), w, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 16), w, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 24), w, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 32), w, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 40), w, a5);
        }
        a0.Store(o); a1.Store(o + 8); a2.Store(o + 16); a3.Store(o + 24); a4.Store(o + 32); a5.Store(o + 40);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Block4(float* o, float* p, float* v, int stride, int count)
    {
        Vector256<float> a0 = Vector256.Load(o), a1 = Vector256.Load(o + 8), a2 = Vector256.Load(o + 16), a3 = Vector256.Load(o + 24);
        for (int s = 0; s < count; s++)
        {
            float* row = v + (long)s * stride;
            Vector256<float> w = Vector256.Create(p[s]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), w, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), w, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 16), w, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 24), w, a3);
        }
        a0.Store(o); a1.Store(o + 8); a2.Store(o + 16); a3.Store(o + 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Block2(float* o, float* p, float* v, int stride, int count)
    {
        Vector256<float> a0 = Vector256.Load(o), a1 = Vector256.Load(o + 8);
        for (int s = 0; s < count; s++)
        {
            float* row = v + (long)s * stride;
            Vector256<float> w = Vector256.Create(p[s]);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), w, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), w, a1);
        }
        a0.Store(o); a1.Store(o + 8);
    }
}
