using System.Diagnostics;
using MlPipelines.Exporter.Onnx;
using MlPipelines.Exporter.Tests.Support;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;
using Xunit.Abstractions;

namespace MlPipelines.Exporter.Tests;

/// <summary>Random-weight models of other shapes: fewer kv heads, an untied classifier, the 110M size.</summary>
public sealed class SynthesizedModelTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2)]   // grouped-query attention, 4 query heads per kv head
    [InlineData(1)]   // multi-query attention
    public void GroupedQueryAttentionAndUntiedClassifierMatchManagedEngine(int kvHeads)
    {
        var config = new ModelConfig
        {
            Dim = 64, HiddenDim = 160, LayerCount = 3, HeadCount = 8, KvHeadCount = kvHeads,
            VocabSize = 300, MaxSequenceLength = 128, SharedClassifier = false,
        };
        using var dir = new TempDir();
        string checkpoint = dir.File("gqa.bin");
        Llama2cCheckpointWriter.WriteRandom(checkpoint, config, seed: 3 + kvHeads);
        using var model = ManagedModelLoader.LoadModel(checkpoint);
        var result = OnnxExporter.Export(model.Weights, dir.File("onnx"));

        ModelProto proto;
        using (var stream = File.OpenRead(result.ModelPath))
            proto = ModelProto.Parser.ParseFrom(stream);
        Assert.Contains(proto.Graph.Initializer, t => t.Name == "lm_head.weight");

        using var decoder = new OnnxDecoder(result.ModelPath, config);
        int[] tokens = Reference.Tokens(13, config.VocabSize, seed: 9);
        DecoderStep step = decoder.RunSequence(tokens);
        float worst = Reference.MaxAbsDiff(Reference.AllLogits(model, tokens), step.Logits);

        // A few cached decode steps.
        using var session = model.CreateTransformerSession();
        var expected = new float[config.VocabSize];
        session.Forward(tokens, 0, expected);
        for (int i = 0; i < 5; i++)
        {
            int token = Reference.ArgMax(expected);
            session.Forward([token], tokens.Length + i, expected);
            step = decoder.RunSequence([token], step);
            worst = Math.Max(worst, Reference.MaxAbsDiff(expected, step.Logits));
        }
        output.WriteLine($"kv heads {kvHeads}: max |logit diff| {worst:E2}");
        Assert.InRange(worst, 0, 1e-4f);
    }

    /// <summary>
    /// RoPE scaling (Llama 3.1's, and linear) reaches the graph through the cos/sin tables: the export computes what the
    /// managed engine computes with the same scaled configuration, and something else than without scaling.
    /// </summary>
    [Theory]
    [InlineData(RopeScalingKind.Llama3)]
    [InlineData(RopeScalingKind.Linear)]
    [InlineData(RopeScalingKind.FrequencyFactors)]
    public void Scaled_rope_exports_the_managed_engine_s_angles(RopeScalingKind kind)
    {
        var config = new ModelConfig
        {
            Dim = 64, HiddenDim = 160, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, VocabSize = 300, MaxSequenceLength = 256,
        };
        using var dir = new TempDir();
        string checkpoint = dir.File("plain.bin");
        Llama2cCheckpointWriter.WriteRandom(checkpoint, config, seed: 31);
        using var plain = ManagedModelLoader.LoadModel(checkpoint);
        LlamaWeights w = plain.Weights;
        RopeScaling scaling = kind switch
        {
            RopeScalingKind.Linear => new RopeScaling { Kind = kind, Factor = 4f },
            RopeScalingKind.FrequencyFactors => RopeScaling.FromFactors([1f, 1f, 1.5f, 2f, 4f, 6f, 8f, 8f]),   // as GGUF's rope_freqs.weight
            _ => new RopeScaling { Kind = kind, Factor = 8f, LowFrequencyFactor = 1f, HighFrequencyFactor = 4f, OriginalMaxPositions = 64 },
        };
        var scaledWeights = new LlamaWeights(w.Config with { RopeTheta = 500000f, RopeScaling = scaling }, w.TokenEmbedding, w.Layers, w.RmsFinal, w.Classifier, owner: null, w.Source);
        using var scaled = new MlPipelines.ManagedEngine.Inference.TransformerModel(scaledWeights);

        var result = OnnxExporter.Export(scaledWeights, dir.File("onnx"));
        Assert.Equal(scaling, ExportManifest.Read(result.OutputDirectory).Config.RopeScaling);
        int[] tokens = Reference.Tokens(40, config.VocabSize, seed: 5);
        float[] expected = Reference.AllLogits(scaled, tokens);
        using var decoder = new OnnxDecoder(result.ModelPath, scaledWeights.Config);
        float diff = Reference.MaxAbsDiff(expected, decoder.RunSequence(tokens).Logits);
        output.WriteLine($"{kind}: max |logit diff| {diff:E2}");
        Assert.InRange(diff, 0, 1e-4f);
        using var unscaled = new MlPipelines.ManagedEngine.Inference.TransformerModel(
            new LlamaWeights(w.Config with { RopeTheta = 500000f }, w.TokenEmbedding, w.Layers, w.RmsFinal, w.Classifier, owner: null, w.Source));
        Assert.True(Reference.MaxAbsDiff(expected, Reference.AllLogits(unscaled, tokens)) > 1e-3f, "the scaling changed nothing");
    }

    /// <summary>
    /// The 110M shape (~440 MB of weights) exports with the weights embedded and with external data;
    /// both load in ONNX Runtime and agree with the managed engine on a short prompt.
    /// </summary>
    [Fact]
    public void Stories110MShapeExportsEmbeddedAndExternal()
    {
        using var dir = new TempDir();
        string checkpoint = dir.File("110m.bin");
        Llama2cCheckpointWriter.WriteRandom(checkpoint, ModelShapes.Stories110M, seed: 110);
        using var model = ManagedModelLoader.LoadModel(checkpoint);
        int[] tokens = Reference.Tokens(4, model.Config.VocabSize, seed: 1);
        float[] expected = Reference.AllLogits(model, tokens);

        foreach (bool external in new[] { false, true })
        {
            string target = dir.File(external ? "external" : "embedded");
            var result = OnnxExporter.Export(model.Weights, target, new OnnxExportOptions { ExternalData = external });
            var load = Stopwatch.StartNew();
            float diff;
            using (var decoder = new OnnxDecoder(result.ModelPath, model.Config))
            {
                load.Stop();
                diff = Reference.MaxAbsDiff(expected, decoder.RunSequence(tokens).Logits);
            }
            output.WriteLine($"110M {(external ? "external" : "embedded")}: export {result.Elapsed.TotalSeconds:F2} s, " +
                $"model.onnx {result.ModelBytes / 1e6:F1} MB, data {result.ExternalDataBytes / 1e6:F1} MB, " +
                $"ORT load {load.Elapsed.TotalSeconds:F2} s, max |logit diff| {diff:E2}");
            Assert.InRange(diff, 0, 1e-4f);
            Assert.Equal(external, result.ExternalDataPath is not null);
            Directory.Delete(target, recursive: true);   // free the disk before the next export
        }
    }
}
