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
    /// <summary>Computes one head's attention output.</summary>
    /// <param name="output">Receives <c>headDim</c> floats.</param>
    /// <param name="query">The head's query, <c>headDim</c> floats (already rotated).</param>
    /// <param name="keys">The layer's key cache, row-major <c>[positions, kvDim]</c> or longer.</param>
    /// <param name="values">The layer's value cache, same layout as <paramref name="keys"/>.</param>
    /// <param name="positions">How many cached positions to attend to (current position + 1).</param>
    /// <param name="kvDim">Row stride of the caches.</param>
    /// <param name="kvOffset">Offset of this head's key/value head within a row.</param>
    /// <param name="scores">Scratch of at least <paramref name="positions"/> floats.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Head(Span<float> output, ReadOnlySpan<float> query, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int positions, int kvDim, int kvOffset, Span<float> scores)
    {
        int headDim = query.Length;
        if (output.Length < headDim || scores.Length < positions || kvOffset + headDim > kvDim
            || (long)keys.Length < (long)positions * kvDim || (long)values.Length < (long)positions * kvDim)
            throw new ArgumentException("Attention shapes do not fit.");
        float norm = MathF.Sqrt(headDim);   // divided, not multiplied by the inverse, as llama2.c does
        for (int t = 0; t < positions; t++)
            scores[t] = Dot(query, keys.Slice(t * kvDim + kvOffset, headDim)) / norm;
        Span<float> p = scores[..positions];
        // Softmax with the library's vectorised exp: attention runs O(positions²) per token, unlike the
        // sampler's softmax, which keeps run.c's scalar arithmetic.
        TensorPrimitives.Subtract(p, TensorPrimitives.Max(p), p);
        TensorPrimitives.Exp(p, p);
        TensorPrimitives.Divide(p, TensorPrimitives.Sum(p), p);
        Span<float> o = output[..headDim];
        o.Clear();
        for (int t = 0; t < positions; t++)
            AddScaled(o, values.Slice(t * kvDim + kvOffset, headDim), p[t]);
    }

    // Head sizes are small (8-128): inline vector loops beat a library call per key.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length, i = 0;
        Vector256<float> acc = Vector256<float>.Zero;
        ref float ra = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a);
        ref float rb = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b);
        for (; i + 8 <= n; i += 8)
            acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref ra, (nuint)i), Vector256.LoadUnsafe(ref rb, (nuint)i), acc);
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

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
