using System.Numerics.Tensors;

namespace MlPipelines.ManagedEngine.Kernels;

/// <summary>
/// The vector kernels of the forward pass. Each has a naive scalar twin in the tests; these are the
/// versions the engine runs (SIMD through <see cref="TensorPrimitives"/>).
/// </summary>
public static class VectorOps
{
    /// <summary>
    /// Matrix-vector product <c>y = W x</c> with <c>W</c> row-major <c>[rows, cols]</c>.
    /// Each output element is one dot product reduced in a fixed order (the engine's
    /// <see cref="MatMulKernel"/>), so results never depend on how rows are distributed over threads.
    /// </summary>
    public static unsafe void MatMul(Span<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> w, int rows, int cols)
    {
        if (y.Length < rows || x.Length < cols || (long)w.Length < (long)rows * cols)
            throw new ArgumentException($"MatMul shapes do not fit: y {y.Length}, x {x.Length}, w {w.Length} for [{rows}, {cols}].");
        fixed (float* wp = w, xp = x, yp = y)
            MatMulKernel.Multiply(wp, cols, xp, 1, yp, rows, 0, rows);
    }

    /// <summary>
    /// RMSNorm as llama2.c computes it: <c>o = weight * (x / sqrt(mean(x²) + eps))</c>.
    /// <paramref name="o"/> may be the same span as <paramref name="x"/>.
    /// </summary>
    public static void RmsNorm(Span<float> o, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps)
    {
        int n = x.Length;
        if (o.Length < n || weight.Length < n)
            throw new ArgumentException($"RmsNorm shapes do not fit: o {o.Length}, x {n}, weight {weight.Length}.");
        float ss = TensorPrimitives.SumOfSquares(x) / n + eps;
        float scale = 1f / MathF.Sqrt(ss);
        TensorPrimitives.Multiply(x, scale, o[..n]);
        TensorPrimitives.Multiply(o[..n], weight[..n], o[..n]);
    }

    /// <summary>
    /// Softmax in place over <paramref name="x"/>, subtracting the maximum first for stability.
    /// Computed element by element with <see cref="MathF.Exp(float)"/> and a sequential sum: this is
    /// the same arithmetic as llama2.c, which matters because sampling compares a random coin
    /// against the cumulative probabilities.
    /// </summary>
    public static void Softmax(Span<float> x)
    {
        if (x.IsEmpty) return;
        float max = x[0];
        for (int i = 1; i < x.Length; i++)
            if (x[i] > max) max = x[i];
        float sum = 0f;
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = MathF.Exp(x[i] - max);
            sum += x[i];
        }
        for (int i = 0; i < x.Length; i++)
            x[i] /= sum;
    }

    /// <summary>
    /// SwiGLU in place: <c>gate = silu(gate) * up</c> with <c>silu(v) = v * sigmoid(v)</c>.
    /// <paramref name="scratch"/> must hold as many floats as <paramref name="gate"/>.
    /// </summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up, Span<float> scratch)
    {
        int n = gate.Length;
        if (up.Length < n || scratch.Length < n)
            throw new ArgumentException($"SwiGlu shapes do not fit: gate {n}, up {up.Length}, scratch {scratch.Length}.");
        scratch = scratch[..n];
        TensorPrimitives.Multiply(gate, up[..n], scratch);   // v * up
        TensorPrimitives.Sigmoid(gate, gate);                 // sigmoid(v)
        TensorPrimitives.Multiply(gate, scratch, gate);       // sigmoid(v) * v * up
    }

    /// <summary><c>x += y</c> (the residual connection).</summary>
    public static void AddInPlace(Span<float> x, ReadOnlySpan<float> y) => TensorPrimitives.Add(x, y[..x.Length], x);
}
