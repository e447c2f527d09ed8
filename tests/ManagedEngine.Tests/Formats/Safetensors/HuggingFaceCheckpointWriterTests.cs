using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats.Safetensors;

public class HuggingFaceCheckpointWriterTests
{
    /// <summary>The committed stories260K-hf was converted from stories260K.bin: writing the .bin's weights gives its tensors.</summary>
    [Fact]
    public void Stories260K_written_as_hugging_face_has_the_committed_tensors()
    {
        using var dir = new TempDir();
        using (var weights = ManagedModelLoader.LoadModel(TestPaths.Stories260K))
            HuggingFaceCheckpointWriter.Write(weights.Weights, dir.Path);
        var written = HfModelFiles.ReadTensors(dir.File("model.safetensors"));
        var committed = HfModelFiles.ReadStories260K();
        Assert.Equal(committed.Select(t => (t.Name, string.Join(",", t.Shape))).Order(), written.Select(t => (t.Name, string.Join(",", t.Shape))).Order());
        foreach (HfTensor t in committed)
            Assert.True(t.Data.AsSpan().SequenceEqual(written.Single(w => w.Name == t.Name).Data), $"{t.Name} differs");
    }

    /// <summary>
    /// A GQA model with an untied classifier and Llama 3's RoPE settings round-trips: the directory loads to the same
    /// configuration and bit-identical weights, and computes the same logits.
    /// </summary>
    [Fact]
    public void A_llama3_style_model_round_trips_with_its_rope_settings()
    {
        using var dir = new TempDir();
        var shape = new ModelConfig
        {
            Dim = 64, HiddenDim = 160, LayerCount = 2, HeadCount = 8, KvHeadCount = 2, VocabSize = 300, MaxSequenceLength = 128,
            SharedClassifier = false,
        };
        Llama2cCheckpointWriter.WriteRandom(dir.File("plain.bin"), shape, seed: 8);
        using TransformerModel plain = ManagedModelLoader.LoadModel(dir.File("plain.bin"));
        LlamaWeights w = plain.Weights;
        ModelConfig llama3 = w.Config with
        {
            RopeTheta = 500000f, StopIds = new([7, 9]),
            RopeScaling = new RopeScaling { Kind = RopeScalingKind.Llama3, Factor = 32f, LowFrequencyFactor = 1f, HighFrequencyFactor = 4f, OriginalMaxPositions = 64 },
        };
        var styled = new LlamaWeights(llama3, w.TokenEmbedding, w.Layers, w.RmsFinal, w.Classifier, owner: null, w.Source);
        HuggingFaceCheckpointWriter.Write(styled, dir.File("hf"));

        using TransformerModel loaded = ManagedModelLoader.LoadModel(dir.File("hf"));
        Assert.Equal(llama3 with { NormEpsilon = loaded.Config.NormEpsilon }, loaded.Config);
        Assert.Equal(llama3.NormEpsilon, loaded.Config.NormEpsilon, 1e-12f);
        using (LlamaWeights read = HuggingFaceCheckpoint.Load(dir.File("hf")))
        {
            Assert.True(read.Layers[1].Wq.Span.SequenceEqual(w.Layers[1].Wq.Span));
            Assert.True(read.Layers[0].Wk.Span.SequenceEqual(w.Layers[0].Wk.Span));
            Assert.True(read.Classifier.Span.SequenceEqual(w.Classifier.Span));
        }

        using var styledModel = new TransformerModel(styled);
        int[] tokens = [1, 5, 9, 200, 17, 42, 3, 99];
        float[] Logits(TransformerModel m)
        {
            using var session = m.CreateSession();
            var logits = new float[tokens.Length * m.Config.VocabSize];
            session.Forward(tokens, 0, logits);
            return logits;
        }
        Assert.Equal(Logits(styledModel), Logits(loaded));
        Assert.Throws<IOException>(() => HuggingFaceCheckpointWriter.Write(styled, dir.File("hf")));   // no silent overwrite
    }
}
