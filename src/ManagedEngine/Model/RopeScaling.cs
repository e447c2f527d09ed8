namespace MlPipelines.ManagedEngine.Model;

/// <summary>How a model stretches its rotary position embedding beyond the context it was trained on.</summary>
public enum RopeScalingKind
{
    /// <summary>Plain RoPE: pair <c>i</c> turns by <c>pos · θ^(-2i/d)</c>.</summary>
    None,

    /// <summary>Position interpolation (<c>rope_scaling.type = "linear"</c>): every frequency divided by the factor.</summary>
    Linear,

    /// <summary>
    /// Llama 3.1's scheme (<c>rope_type = "llama3"</c>): long wavelengths divided by the factor, short ones kept,
    /// the band between them blended smoothly.
    /// </summary>
    Llama3,

    /// <summary>
    /// One divisor per frequency, given as numbers (llama.cpp stores Llama 3.1's scaling this way, as the GGUF tensor
    /// <c>rope_freqs.weight</c>): <see cref="RopeScaling.Factors"/>.
    /// </summary>
    FrequencyFactors,
}

/// <summary>
/// A model's RoPE scaling (Hugging Face <c>rope_scaling</c>, GGUF <c>llama.rope.scaling.*</c>). It reduces to one
/// divisor per frequency, which <c>RopeTable</c> applies, so both engines and the ONNX export (whose cos/sin tables
/// come from the same table) compute the same angles.
/// </summary>
public sealed record RopeScaling
{
    /// <summary>No scaling.</summary>
    public static RopeScaling None { get; } = new();

    /// <summary>Which scheme.</summary>
    public RopeScalingKind Kind { get; init; }

    /// <summary><c>factor</c>: how much longer the context is than the one trained on.</summary>
    public float Factor { get; init; } = 1f;

    /// <summary><c>low_freq_factor</c> (Llama 3): wavelengths above <c>OriginalMaxPositions / LowFrequencyFactor</c> are divided by <see cref="Factor"/>.</summary>
    public float LowFrequencyFactor { get; init; } = 1f;

    /// <summary><c>high_freq_factor</c> (Llama 3): wavelengths below <c>OriginalMaxPositions / HighFrequencyFactor</c> are kept.</summary>
    public float HighFrequencyFactor { get; init; } = 4f;

    /// <summary><c>original_max_position_embeddings</c> (Llama 3): the context length trained on.</summary>
    public int OriginalMaxPositions { get; init; } = 8192;

    /// <summary>The divisors of <see cref="RopeScalingKind.FrequencyFactors"/>, one per pair of a head.</summary>
    public IReadOnlyList<float>? Factors { get; init; }

    /// <summary>Scaling by explicit per-frequency divisors (copied).</summary>
    public static RopeScaling FromFactors(IEnumerable<float> factors) => new() { Kind = RopeScalingKind.FrequencyFactors, Factors = factors.ToArray() };

    /// <inheritdoc/>
    public bool Equals(RopeScaling? other) =>
        other is not null && Kind == other.Kind && Factor == other.Factor && LowFrequencyFactor == other.LowFrequencyFactor &&
        HighFrequencyFactor == other.HighFrequencyFactor && OriginalMaxPositions == other.OriginalMaxPositions &&
        (Factors ?? []).SequenceEqual(other.Factors ?? []);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Factor, LowFrequencyFactor, HighFrequencyFactor, OriginalMaxPositions, Factors?.Count ?? 0);

    /// <summary>Null when the settings are usable, else what is wrong (for the reader to report with its field names).</summary>
    public string? Problem() => Kind switch
    {
        RopeScalingKind.None => null,
        RopeScalingKind.FrequencyFactors when Factors is null || Factors.Count == 0 || Factors.Any(f => !float.IsFinite(f) || f <= 0) =>
            "the frequency factors must be positive finite numbers",
        RopeScalingKind.FrequencyFactors => null,
        _ when !float.IsFinite(Factor) || Factor < 1f => $"factor is {Factor}; expected a finite number ≥ 1",
        RopeScalingKind.Linear => null,
        _ when OriginalMaxPositions <= 0 => $"original_max_position_embeddings is {OriginalMaxPositions}; expected a positive integer",
        _ when !float.IsFinite(LowFrequencyFactor) || !float.IsFinite(HighFrequencyFactor) || LowFrequencyFactor <= 0 || HighFrequencyFactor <= LowFrequencyFactor =>
            $"low_freq_factor {LowFrequencyFactor} and high_freq_factor {HighFrequencyFactor}; expected 0 < low_freq_factor < high_freq_factor",
        _ => null,
    };

    /// <summary>
    /// The divisor of each of the <paramref name="headDim"/>/2 frequencies <c>θ^(-2i/d)</c> (1 where the scheme keeps
    /// the frequency). Computed in double precision, as the reference implementations compute the scaled frequencies
    /// before rounding them to single precision.
    /// </summary>
    public double[] FrequencyDivisors(int headDim, float theta)
    {
        var divisors = new double[headDim / 2];
        if (Kind == RopeScalingKind.FrequencyFactors)
        {
            if (Factors is null || Factors.Count != divisors.Length)
                throw new InvalidOperationException($"{Factors?.Count ?? 0} RoPE frequency factors for a head of {headDim} (expected {divisors.Length}).");
            for (int i = 0; i < divisors.Length; i++) divisors[i] = Factors[i];
            return divisors;
        }
        for (int i = 0; i < divisors.Length; i++)
        {
            double frequency = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
            divisors[i] = Kind switch
            {
                RopeScalingKind.Linear => Factor,
                RopeScalingKind.Llama3 => Llama3Divisor(frequency),
                _ => 1.0,
            };
        }
        return divisors;
    }

    private double Llama3Divisor(double frequency)
    {
        double wavelength = 2 * Math.PI / frequency;
        double longest = OriginalMaxPositions / (double)LowFrequencyFactor;    // beyond it: low frequencies, scaled fully
        double shortest = OriginalMaxPositions / (double)HighFrequencyFactor;  // below it: high frequencies, kept
        if (wavelength < shortest) return 1.0;
        if (wavelength > longest) return Factor;
        // In between, the new frequency blends frequency/factor and frequency: (1 - s)·f/factor + s·f.
        double smooth = (OriginalMaxPositions / wavelength - LowFrequencyFactor) / (HighFrequencyFactor - LowFrequencyFactor);
        return 1.0 / ((1 - smooth) / Factor + smooth);
    }
}
