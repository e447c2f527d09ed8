using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Kernels;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tests.Formats.Safetensors;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Inference;

public class RopeScalingTests
{
    private static readonly RopeScaling Llama31 = new()
    {
        Kind = RopeScalingKind.Llama3, Factor = 8f, LowFrequencyFactor = 1f, HighFrequencyFactor = 4f, OriginalMaxPositions = 8192,
    };

    [Fact]
    public void Llama3_keeps_high_frequencies_divides_low_ones_and_blends_between()
    {
        double[] divisors = Llama31.FrequencyDivisors(128, 500000f);   // Llama 3.1 8B's head size and base
        Assert.Equal(64, divisors.Length);
        Assert.Equal(1.0, divisors[0]);                                 // wavelength 2π: far below 8192 / 4
        Assert.Equal(8.0, divisors[^1]);                                // wavelength ~2.4e6: far above 8192
        Assert.Contains(divisors, d => d > 1.0 && d < 8.0);             // the blended band
        for (int i = 1; i < divisors.Length; i++)
            Assert.True(divisors[i] >= divisors[i - 1], $"divisor {i} decreases");
    }

    [Fact]
    public void Linear_scaling_turns_position_p_times_f_like_plain_rope_turns_position_p()
    {
        // Dividing every frequency by 4 is sampling the plain table at a quarter of the position (exact in floats).
        var plain = new RopeTable(16, 64, 10000f);
        var scaled = new RopeTable(16, 256, 10000f, new RopeScaling { Kind = RopeScalingKind.Linear, Factor = 4f });
        for (int p = 0; p < 64; p++)
        {
            Assert.Equal(plain.CosTable.Slice(p * 8, 8).ToArray(), scaled.CosTable.Slice(4 * p * 8, 8).ToArray());
            Assert.Equal(plain.SinTable.Slice(p * 8, 8).ToArray(), scaled.SinTable.Slice(4 * p * 8, 8).ToArray());
        }
    }

    [Fact]
    public void Unscaled_table_is_unchanged_by_the_none_scaling()
    {
        var a = new RopeTable(8, 32, 10000f);
        var b = new RopeTable(8, 32, 10000f, RopeScaling.None);
        Assert.Equal(a.CosTable.ToArray(), b.CosTable.ToArray());
        Assert.Equal(a.SinTable.ToArray(), b.SinTable.ToArray());
    }

    /// <summary>
    /// A Hugging Face directory with Llama 3.1's rope_scaling (its wavelength bands moved so stories260K's four frequencies
    /// fall one kept, one blended, two divided) against the naive double-precision forward pass.
    /// </summary>
    [Fact]
    public void Llama3_scaled_model_matches_the_naive_forward_pass()
    {
        using var tmp = new TempDir();
        HfModelFiles.WriteModel(tmp.Path, HfModelFiles.ReadStories260K(), HfModelFiles.Config(c => c["rope_scaling"] = new JsonObject
        {
            ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0,
            ["original_max_position_embeddings"] = 1024,
        }));
        using TransformerModel model = ManagedModelLoader.LoadModel(tmp.Path);
        Assert.Equal(RopeScalingKind.Llama3, model.Config.RopeScaling.Kind);
        Assert.Equal(1024, HuggingFaceConfig.Load(tmp.File("config.json")).RopeScaling.OriginalMaxPositions);
        double[] divisors = model.Config.RopeScaling.FrequencyDivisors(model.Config.HeadDim, model.Config.RopeTheta);
        Assert.Equal(1.0, divisors[0]);
        Assert.InRange(divisors[2], 1.0001, 7.9999);
        Assert.Equal(8.0, divisors[3]);

        int[] tokens = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 403, 407, 261, 378, 432, 383, 286, 261];
        double[][] expected;
        // The model runs the weights as stored; the naive forward pass reads the same checkpoint widened.
        using (LlamaWeights widened = HuggingFaceCheckpoint.Load(tmp.Path))
            expected = new NaiveTransformer(widened).Logits(tokens);
        using var session = model.CreateSession();
        var actual = new float[tokens.Length * model.Config.VocabSize];
        session.Forward(tokens, 0, actual);
        int vocab = model.Config.VocabSize;
        for (int t = 0; t < tokens.Length; t++)
            for (int i = 0; i < vocab; i++)
                Assert.True(Math.Abs(expected[t][i] - actual[t * vocab + i]) < 1e-4 * Math.Max(1, Math.Abs(expected[t][i])),
                    $"position {t}, logit {i}: expected {expected[t][i]}, got {actual[t * vocab + i]}");

        using TransformerModel plain = ManagedModelLoader.LoadModel(HfModelFiles.Stories260KHf);
        using var plainSession = plain.CreateSession();
        var plainLogits = new float[actual.Length];
        plainSession.Forward(tokens, 0, plainLogits);
        Assert.True(actual.Zip(plainLogits).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "the scaling changed nothing");
    }
}
