namespace MlPipelines.ManagedEngine.Sampling;

/// <summary>
/// llama2.c's xorshift* generator, reproduced exactly so that a seed gives the same story in
/// run.c and here. Not suitable for anything but sampling.
/// </summary>
public struct XorShiftRandom
{
    private ulong _state;

    /// <summary>Starts the generator at <paramref name="seed"/> (run.c uses the seed itself as the state; it must not be 0).</summary>
    public XorShiftRandom(ulong seed)
    {
        if (seed == 0)
            throw new ArgumentOutOfRangeException(nameof(seed), "The xorshift* state must not be 0 (it would only ever produce 0).");
        _state = seed;
    }

    /// <summary>The next 32 random bits (run.c <c>random_u32</c>).</summary>
    public uint NextUInt32()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return (uint)((_state * 0x2545F4914F6CDD1DUL) >> 32);
    }

    /// <summary>A float in [0, 1) with 24 random bits (run.c <c>random_f32</c>).</summary>
    public float NextSingle() => (NextUInt32() >> 8) / 16777216.0f;
}
