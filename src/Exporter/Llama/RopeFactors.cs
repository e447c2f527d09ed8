namespace MlPipelines.Exporter.Llama;

/// <summary>
/// The RoPE cos/sin tables, <c>[positions, headDim/2]</c>, computed with exactly the single-precision
/// arithmetic of the managed engine's <c>RopeTable</c> (powf, pos · freq, cosf/sinf), so both engines
/// rotate by bit-identical factors. (RopeTable keeps its tables private; recomputing them the same way
/// avoids widening the managed engine's API for the exporter.)
/// </summary>
internal static class RopeFactors
{
    public static (float[] Cos, float[] Sin) Compute(int headDim, int positions, float theta)
    {
        int pairs = headDim / 2;
        long count = (long)positions * pairs;
        if (count > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(positions), $"A RoPE table of {positions} x {pairs} is too large.");
        var cos = new float[count];
        var sin = new float[count];
        for (int pos = 0; pos < positions; pos++)
        {
            for (int p = 0; p < pairs; p++)
            {
                float freq = 1.0f / MathF.Pow(theta, (2 * p) / (float)headDim);
                float angle = pos * freq;
                cos[pos * pairs + p] = MathF.Cos(angle);
                sin[pos * pairs + p] = MathF.Sin(angle);
            }
        }
        return (cos, sin);
    }
}
