namespace MlPipelines.ManagedEngine.Quantization;

/// <summary>
/// Q8_0 group arithmetic shared by weights and activations: symmetric int8 in [-127, 127] with one
/// fp32 scale per group, <c>scale = max|x| / 127</c>, <c>q = round(x / scale)</c>.
/// </summary>
/// <remarks>
/// The arithmetic is the same as llama2.c's export.py (<c>quantize_q80</c>): a float32 division by the
/// scale and rounding half to even (torch.round), so quantising the fp32 weights of a model reproduces
/// the int8 values and scales of its version-2 export. An all-zero group gets scale 0 and zeros
/// (export.py would divide by zero there).
/// </remarks>
internal static class Q8Groups
{
    /// <summary>The largest group size accepted, so that an int32 group dot product cannot overflow (65536 · 128 · 127 &lt; 2³¹).</summary>
    public const int MaxGroupSize = 65536;

    /// <summary>Quantises one group: writes <c>q</c> and returns its scale.</summary>
    public static float QuantizeGroup(ReadOnlySpan<float> x, Span<sbyte> q)
    {
        float max = 0f;
        foreach (float v in x)
        {
            float a = MathF.Abs(v);
            if (a > max) max = a;
        }
        float scale = max / 127f;
        if (scale == 0f || !float.IsFinite(scale))
        {
            // Zero group: zeros. Non-finite input: zeros too, with the non-finite scale kept so it shows
            // up in the output instead of being silently clipped.
            q[..x.Length].Clear();
            return scale;
        }
        for (int i = 0; i < x.Length; i++)
            q[i] = (sbyte)Math.Clamp(MathF.Round(x[i] / scale, MidpointRounding.ToEven), -127f, 127f);
        return scale;
    }

    /// <summary>Quantises <paramref name="x"/> in consecutive groups of <paramref name="groupSize"/> (which must divide its length).</summary>
    public static void QuantizeFlat(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scales, int groupSize)
    {
        int groups = x.Length / groupSize;
        for (int g = 0; g < groups; g++)
            scales[g] = QuantizeGroup(x.Slice(g * groupSize, groupSize), q.Slice(g * groupSize, groupSize));
    }

    /// <summary>
    /// The group size <see cref="Q8Matrix.Quantize(ReadOnlySpan{float}, int, int)"/> uses when none is given: 64 if it divides
    /// <paramref name="cols"/>, else 32, else <paramref name="cols"/> itself when it is at most 256, else
    /// the largest divisor of <paramref name="cols"/> not above 256. Groups never straddle rows.
    /// </summary>
    public static int ChooseGroupSize(int cols)
    {
        if (cols % 64 == 0) return 64;
        if (cols % 32 == 0) return 32;
        if (cols <= 256) return cols;
        for (int g = 256; g > 1; g--)
            if (cols % g == 0) return g;
        return 1;
    }

    /// <summary>Greatest common divisor of two positive numbers.</summary>
    public static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
