using System.Text.Json.Nodes;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Quantization;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Inference;

/// <summary>
/// Models whose <c>head_dim</c> is not <c>hidden_size / num_attention_heads</c> (Mistral Nemo: 5120 / 32 heads of 128), so the
/// query and attention-output width differs from the model width, one wider and one narrower, against the naive forward pass.
/// </summary>
public class ExplicitHeadDimTests
{
    private static ModelConfig Shape(int headDim) => new()
    {
        Dim = 48, HiddenDim = 96, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, HeadDim = headDim, VocabSize = 64,
        MaxSequenceLength = 64, RopeTheta = 500000f,
    };

    [Theory]
    [InlineData(16)]   // queries 64 wide, model 48
    [InlineData(8)]    // queries 32 wide
    public void Hugging_Face_directory_with_head_dim_matches_the_naive_forward_pass(int headDim)
    {
        using var dir = new TempDir();
        HuggingFaceCheckpointWriter.WriteRandom(dir.Path, Shape(headDim), seed: 4);
        Assert.Equal(headDim, JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!["head_dim"]!.GetValue<int>());

        using TransformerModel model = ManagedModelLoader.LoadModel(dir.Path);
        Assert.Equal((headDim, 4 * headDim, 2 * headDim), (model.Config.HeadDim, model.Config.QueryDim, model.Config.KvDim));
        int[] tokens = [1, 5, 9, 33, 2, 60, 17, 17, 40, 3, 12, 50];
        // The model runs the weights as stored; the naive forward pass and the int8 model read them widened.
        using LlamaWeights widened = HuggingFaceCheckpoint.Load(dir.Path);
        double[][] expected = new NaiveTransformer(widened).Logits(tokens);
        float[] actual = Forward(model, tokens);
        int vocab = model.Config.VocabSize;
        for (int t = 0; t < tokens.Length; t++)
            for (int i = 0; i < vocab; i++)
                Assert.True(Math.Abs(expected[t][i] - actual[t * vocab + i]) < 1e-4 * Math.Max(1, Math.Abs(expected[t][i])),
                    $"position {t}, logit {i}: expected {expected[t][i]}, got {actual[t * vocab + i]}");

        // int8 weights: the same model within quantisation error.
        using var q8 = new TransformerModel(QuantizedLlamaWeights.FromFp32(widened, groupSize: 16));
        float[] quantised = Forward(q8, tokens);
        Assert.InRange(quantised.Zip(actual).Max(p => Math.Abs(p.First - p.Second)), 0, 0.05);
    }

    [Fact]
    public void Head_dim_equal_to_the_derived_width_stays_implicit()
    {
        using var dir = new TempDir();
        HuggingFaceCheckpointWriter.WriteRandom(dir.Path, Shape(0), seed: 4);
        var config = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!.AsObject();
        Assert.False(config.ContainsKey("head_dim"));
        config["head_dim"] = 12;   // 48 / 4: many real files state it
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        ModelConfig loaded = HuggingFaceConfig.Load(dir.File("config.json")).ToModelConfig();
        Assert.False(loaded.HasExplicitHeadDim);
        Assert.Equal(12, loaded.HeadDim);
    }

    private static float[] Forward(TransformerModel model, int[] tokens)
    {
        using var session = model.CreateSession();
        var logits = new float[tokens.Length * model.Config.VocabSize];
        session.Forward(tokens, 0, logits);
        return logits;
    }
}
