namespace MlPipelines.ManagedEngine.Formats;

/// <summary>
/// SplitMix64: tiny, fast and fully specified, so a seed gives the same random weights on every .NET
/// version (System.Random's seeded sequence is not guaranteed to stay the same).
/// </summary>
internal struct SplitMix64(int seed)
{
    private ulong _state = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL;

    /// <summary>Fills <paramref name="values"/> uniformly in [-scale, scale).</summary>
    public void FillUniform(Span<float> values, float scale)
    {
        for (int i = 0; i < values.Length; i++)
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            // 24 random bits give every float in [0, 1) that is a multiple of 2^-24, exactly.
            float unit = (z >> 40) * (1f / (1 << 24));
            values[i] = (2f * unit - 1f) * scale;
        }
    }
}
