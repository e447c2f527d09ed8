using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Sampling;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

/// <summary>
/// stories260K-hf rewritten in F16 and BF16 (round to nearest even) and loaded: each weight must be
/// exactly the fp32 weight rounded, and the model must behave like the fp32 one within the
/// precision's rounding error.
/// </summary>
public class HalfPrecisionModelTests
{
    // Unit roundoff u: the largest relative error of rounding to nearest, 2^-11 for F16 (10 stored
    // mantissa bits) and 2^-8 for BF16 (7 bits).
    public static TheoryData<string, double> Precisions => new() { { "F16", Math.ScaleB(1, -11) }, { "BF16", Math.ScaleB(1, -8) } };

    [Theory]
    [MemberData(nameof(Precisions))]
    public void Every_weight_is_the_fp32_weight_rounded_to_the_half_precision(string dtype, double _)
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.Narrowed(dtype));
        using var half = HuggingFaceCheckpoint.Load(tmp.Path, out long converted);
        using var fp32 = Llama2cCheckpoint.Load(TestPaths.Stories260K);

        // Everything is converted: 64 × 512 embedding + 5 layers + final norm, four bytes per weight
        // (tied, so the embedding once) — the size of the fp32 file's data section.
        long floats = 512 * 64 + 5 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64) + 64;
        Assert.Equal(floats * 4, converted);
        Assert.True(half.Classifier.Span == half.TokenEmbedding.Span);

        Func<float, float> rounded = dtype == "F16"
            ? x => NaiveHalf.F16ToFloat(NaiveHalf.FloatToF16(x))
            : x => (float)NaiveHalf.Bf16ToDouble(NaiveHalf.FloatToBf16(x));
        AssertRounded(fp32.TokenEmbedding, half.TokenEmbedding, rounded, "embedding");
        AssertRounded(fp32.RmsFinal, half.RmsFinal, rounded, "rms_final");
        for (int i = 0; i < 5; i++)
        {
            LayerWeights a = fp32.Layers[i], b = half.Layers[i];
            (WeightTensor, WeightTensor, string)[] pairs =
            [
                (a.RmsAttention, b.RmsAttention, "rms_att"), (a.Wq, b.Wq, "wq"), (a.Wk, b.Wk, "wk"), (a.Wv, b.Wv, "wv"),
                (a.Wo, b.Wo, "wo"), (a.RmsFfn, b.RmsFfn, "rms_ffn"), (a.W1, b.W1, "w1"), (a.W2, b.W2, "w2"), (a.W3, b.W3, "w3"),
            ];
            foreach (var (expected, actual, name) in pairs)
                AssertRounded(expected, actual, rounded, $"layer {i} {name}");
        }
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void Logits_stay_within_the_rounding_error_of_fp32(string dtype, double unitRoundoff)
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.Narrowed(dtype));
        float[] reference = HfRuns.Logits(HuggingFaceCheckpoint.Load(HfModelFiles.Stories260KHf), HfRuns.Prompt);
        float[] half = HfRuns.Logits(HuggingFaceCheckpoint.Load(tmp.Path), HfRuns.Prompt);

        double worst = 0, scale = 0;
        for (int i = 0; i < half.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(half[i] - reference[i]));
            scale = Math.Max(scale, Math.Abs(reference[i]));
        }
        // Every weight carries a relative error of at most u. To first order each logit then moves
        // by about u times the magnitudes that flow into it, and the residual stream and RMSNorm keep
        // those comparable to the logits themselves, so |Δlogit| ≈ c·u·max|logit| with c of order 1.
        // Measured on this 26-token prompt (max|logit| ≈ 22): F16 max |Δ| 0.0166 (c ≈ 1.5),
        // BF16 0.0931 (c ≈ 1.1), their ratio ≈ 5.6 against 8 for u. The bound c = 4 leaves a margin
        // of 2.6× (F16) and 3.7× (BF16) and still fails by orders of magnitude on a misread tensor (wrong dtype, row
        // order or byte order), which moves logits by whole units.
        double bound = 4 * unitRoundoff * scale;
        Assert.True(worst <= bound, $"{dtype}: max |Δlogit| {worst} exceeds 4·u·max|logit| = {bound}");
        Assert.True(worst > 0, "the half-precision copy should not be bit-identical; was it written in fp32?");
    }

    [Theory]
    [InlineData("F16", 128)]
    [InlineData("BF16", 64)]
    public void Greedy_story_is_coherent_and_shares_a_long_prefix_with_fp32(string dtype, int sharedPrefix)
    {
        // Measured: F16 repeats all 256 fp32 tokens, BF16 the first 185; greedy decoding only
        // departs where two candidates' logits come within the rounding error of each other.
        // The required prefixes (128 and 64 tokens, several sentences) keep a margin of 2–3×.
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.Narrowed(dtype));
        int[] reference = HfRuns.Generate(HuggingFaceCheckpoint.Load(HfModelFiles.Stories260KHf), SamplingOptions.Greedy);
        int[] story = HfRuns.Generate(HuggingFaceCheckpoint.Load(tmp.Path), SamplingOptions.Greedy);

        int shared = 0;
        while (shared < Math.Min(reference.Length, story.Length) && reference[shared] == story[shared]) shared++;
        Assert.True(shared >= sharedPrefix, $"{dtype}: shares {shared} tokens with the fp32 story; expected at least {sharedPrefix}");
        string text = HfRuns.Text(story);
        Assert.StartsWith("Once upon a time, there was a little girl named Lily.", text);
        Assert.True(story.Length > 150, $"{dtype}: only {story.Length} tokens: {text}");
    }

    private static void AssertRounded(WeightTensor fp32, WeightTensor half, Func<float, float> rounded, string what)
    {
        Assert.Equal(fp32.Length, half.Length);
        ReadOnlySpan<float> a = fp32.Span, b = half.Span;
        for (int i = 0; i < a.Length; i++)
            if (BitConverter.SingleToUInt32Bits(rounded(a[i])) != BitConverter.SingleToUInt32Bits(b[i]))
                Assert.Fail($"{what}[{i}]: loaded {b[i]:R}, expected {a[i]:R} rounded = {rounded(a[i]):R}");
    }
}
