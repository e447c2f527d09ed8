using System.Numerics.Tensors;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// Causal scaled dot-product attention of one query head over a KV cache, as in llama2.c:
/// scores <c>q·k_t / sqrt(headDim)</c> for t = 0..positions-1, softmax, then the
/// score-weighted sum of the values.
/// </summary>
public static class Attention
{
    /// <summary>Computes one head's attention output.</summary>
    /// <param name="output">Receives <c>headDim</c> floats.</param>
    /// <param name="query">The head's query, <c>headDim</c> floats (already rotated).</param>
    /// <param name="keys">The layer's key cache, row-major <c>[positions, kvDim]</c> or longer.</param>
    /// <param name="values">The layer's value cache, same layout as <paramref name="keys"/>.</param>
    /// <param name="positions">How many cached positions to attend to (current position + 1).</param>
    /// <param name="kvDim">Row stride of the caches.</param>
    /// <param name="kvOffset">Offset of this head's key/value head within a row.</param>
    /// <param name="scores">Scratch of at least <paramref name="positions"/> floats.</param>
    public static void Head(Span<float> output, ReadOnlySpan<float> query, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int positions, int kvDim, int kvOffset, Span<float> scores)
    {
        int headDim = query.Length;
        if (output.Length < headDim || scores.Length < positions || kvOffset + headDim > kvDim
            || (long)keys.Length < (long)positions * kvDim || (long)values.Length < (long)positions * kvDim)
            throw new ArgumentException("Attention shapes do not fit.");
        float norm = MathF.Sqrt(headDim);   // divided, not multiplied by the inverse, as llama2.c does
        for (int t = 0; t < positions; t++)
            scores[t] = TensorPrimitives.Dot(query, keys.Slice(t * kvDim + kvOffset, headDim)) / norm;
        VectorOps.Softmax(scores[..positions]);
        Span<float> o = output[..headDim];
        o.Clear();
        for (int t = 0; t < positions; t++)
            TensorPrimitives.MultiplyAdd(values.Slice(t * kvDim + kvOffset, headDim), scores[t], o, o);
    }
}
