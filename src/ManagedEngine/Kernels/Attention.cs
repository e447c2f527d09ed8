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
    /// <summary>Computes one head's attention output for one query (see <see cref="Chunk"/>).</summary>
    /// <param name="output">Receives <c>headDim</c> floats.</param>
    /// <param name="query">The head's query, <c>headDim</c> floats (already rotated).</param>
    /// <param name="keys">The layer's key cache, row-major <c>[positions, kvDim]</c> or longer.</param>
    /// <param name="values">The layer's value cache, same layout as <paramref name="keys"/>.</param>
    /// <param name="positions">How many cached positions to attend to (current position + 1).</param>
    /// <param name="kvDim">Row stride of the caches.</param>
    /// <param name="kvOffset">Offset of this head's key/value head within a row.</param>
    /// <param name="scores">Scratch of at least <paramref name="positions"/> floats.</param>
    public static unsafe void Head(Span<float> output, ReadOnlySpan<float> query, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int positions, int kvDim, int kvOffset, Span<float> scores)
    {
        int headDim = query.Length;
        if (output.Length < headDim || scores.Length < positions || kvOffset + headDim > kvDim
            || (long)keys.Length < (long)positions * kvDim || (long)values.Length < (long)positions * kvDim)
            throw new ArgumentException("Attention shapes do not fit.");
        fixed (float* q = query, k = keys, v = values, o = output, s = scores)
            Chunk(q, headDim, 1, positions - 1, k, v, kvDim, kvOffset, headDim, o, headDim, s);
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Chunk(float* q, int qStride, int tokens, int firstPosition, float* keys, float* values,
        int kvDim, int kvOffset, int headDim, float* output, int outputStride, float* scores)
    {
        int total = firstPosition + tokens;
        MatMulKernel.Multiply(keys + kvOffset, kvDim, headDim, q, qStride, tokens, scores, total, 0, total);
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
            var o = new Span<float>(output + (long)t * outputStride, headDim);
            o.Clear();
            for (int s = 0; s < visible; s++)
                AddScaled(o, new ReadOnlySpan<float>(values + (long)s * kvDim + kvOffset, headDim), p[s]);
        }
    }

    // Head sizes are small (8-128): an inline vector loop beats a library call per key.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddScaled(Span<float> o, ReadOnlySpan<float> v, float a)
    {
        int n = o.Length, i = 0;
        ref float ro = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(o);
        ref float rv = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(v);
        var va = Vector256.Create(a);
        for (; i + 8 <= n; i += 8)
            Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref rv, (nuint)i), va, Vector256.LoadUnsafe(ref ro, (nuint)i)).StoreUnsafe(ref ro, (nuint)i);
        for (; i < n; i++) o[i] += a * v[i];
    }
}
