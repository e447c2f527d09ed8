using MlPipelines.Exporter;
using MlPipelines.Exporter.Onnx;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>
/// The fused profile (GroupQueryAttention with a shared KV buffer, SkipSimplifiedLayerNormalization, fused rotary) in fp32
/// computes what the managed engine computes: logits within 1e-4 and identical greedy tokens for 200 steps, on stories260K
/// (heads 8 wide, padded to GroupQueryAttention's 16 with zero channels) and a Llama-3-shaped model (grouped kv heads,
/// llama3 RoPE scaling in the cos/sin caches). The ONNX engine finds the shared buffer from the graph and runs it in place.
/// </summary>
public sealed class FusedExportTests(FusedStoriesFixture f) : IClassFixture<FusedStoriesFixture>
{
    private static readonly string[] Prompts = ["Once upon a time", "Lily saw a big red ball", "The little dog ran"];

    [Fact]
    public void The_contract_says_past_and_present_share_one_buffer_of_padded_heads()
    {
        OnnxDecoderContract contract = f.Onnx.Contract;
        Assert.True(contract.SharedKvBuffer);
        Assert.False(contract.HasPositionIds);
        Assert.Equal(16, contract.HeadDim);   // stories260K's heads are 8 wide
        Assert.Equal(8, f.Onnx.Config.HeadDim);
        Assert.Equal(("fused", "fp32"), (f.Onnx.Manifest.Profile, f.Onnx.Manifest.Weights));
        Assert.Contains("share one KV buffer", contract.ToString());
    }

    [Fact]
    public void Stories260K_fused_agrees_with_the_managed_engine_for_200_greedy_steps()
    {
        ParityReport report = ParityHarness.Compare(f.Managed, f.Onnx, f.Onnx.LoadTokenizer(), Prompts, new ParityOptions { Steps = 200 });
        Assert.True(report.Passed, string.Join("; ", report.Failures));
        Assert.InRange(report.MaxAbsLogitDiff, 0, 1e-4);
        Assert.True(report.GreedyIdentical);
        Assert.True(report.EmbeddingsCompared);
    }

    [Fact]
    public void A_llama3_shaped_fused_export_agrees_with_the_managed_engine()
    {
        var config = new ModelConfig
        {
            Dim = 128, HiddenDim = 320, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, VocabSize = 512, MaxSequenceLength = 512,
            RopeTheta = 500000f, RopeScaling = new RopeScaling { Kind = RopeScalingKind.Llama3, Factor = 8f, LowFrequencyFactor = 1f, HighFrequencyFactor = 4f, OriginalMaxPositions = 64 },
        };
        using var dir = new TempDir();
        HuggingFaceCheckpointWriter.WriteRandom(dir.File("hf"), config, seed: 23);
        using var managed = ManagedModelLoader.LoadModel(dir.File("hf"));
        // The loader runs the directory's weights as stored; the export reads them widened, as `mlpipe export` does.
        using (LlamaWeights weights = HuggingFaceCheckpoint.Load(dir.File("hf")))
            OnnxExporter.Export(weights, dir.File("onnx"), new OnnxExportOptions { Profile = OnnxExportProfile.Fused });
        using var onnx = OnnxLanguageModel.Load(dir.File("onnx"));
        Assert.Equal(32, onnx.Contract.HeadDim);   // already a multiple of 16: no padding

        // Teacher-forced over 300 positions (past the shared buffer's first capacity of 256), in a prompt chunk and then
        // one token at a time, as generation runs.
        int[] tokens = Enumerable.Range(0, 300).Select(i => (i * 37 + 11) % config.VocabSize).ToArray();
        Assert.InRange(LogitComparison.MaxDiffTeacherForced(managed, onnx, tokens, promptLength: 20), 0, 1e-4);
    }

    [Fact]
    public void Decoding_past_the_buffers_capacity_rewinding_and_resetting_agree_with_the_managed_engine()
    {
        int[] tokens = Enumerable.Range(0, 400).Select(i => (i * 13 + 5) % 500 + 1).ToArray();
        Assert.InRange(LogitComparison.MaxDiffTeacherForced(f.Managed, f.Onnx, tokens, promptLength: 9), 0, 1e-4);

        // Rewind into the middle of the sequence and run a chunk again: the shared buffer's later rows are overwritten.
        int vocab = f.Onnx.Config.VocabSize;
        using IModelSession onnx = f.Onnx.CreateSession();
        using IModelSession managed = f.Managed.CreateSession();
        var a = new float[10 * vocab];
        var b = new float[10 * vocab];
        onnx.Forward(tokens.AsSpan(0, 300), 0, new float[vocab]);
        onnx.Rewind(120);
        onnx.Forward(tokens.AsSpan(200, 10), 120, a);
        managed.Forward(tokens.AsSpan(0, 120), 0, new float[vocab]);
        managed.Forward(tokens.AsSpan(200, 10), 120, b);
        Assert.InRange(LogitComparison.MaxAbsDiff(a, b), 0, 1e-4);
        onnx.Reset();
        managed.Reset();
        onnx.Forward(tokens.AsSpan(50, 10), 0, a);
        managed.Forward(tokens.AsSpan(50, 10), 0, b);
        Assert.InRange(LogitComparison.MaxAbsDiff(a, b), 0, 1e-4);
    }

    [Fact]
    public void A_batch_asked_left_padded_runs_right_padded_and_each_row_is_its_own_run()
    {
        int[][] rows = [[1, 403, 407, 261], [1, 378, 429, 259, 505, 271, 289], [1, 340]];
        BatchForwardResult result = f.Onnx.ForwardBatch(rows, BatchOutputs.Logits | BatchOutputs.HiddenStates, PaddingSide.Left);
        Assert.Equal(PaddingSide.Right, result.Padding);   // GroupQueryAttention numbers tokens from each row's length
        int vocab = f.Onnx.Config.VocabSize;
        for (int r = 0; r < rows.Length; r++)
        {
            using IModelSession alone = f.Managed.CreateSession();
            var logits = new float[rows[r].Length * vocab];
            alone.Forward(rows[r], 0, logits);
            for (int p = 0; p < rows[r].Length; p++)
                Assert.InRange(LogitComparison.MaxAbsDiff(logits.AsSpan(p * vocab, vocab), result.Logits(r, p)), 0, 1e-4);
        }
    }

    /// <summary>
    /// An onnxruntime-genai builder-style graph, made by rewriting the fused export: no <c>mlpipe.json</c> and no metadata of
    /// ours (the shared buffer is known from its <c>genai_config.json</c>), an int32 <c>attention_mask</c>, <c>seqlens_k</c>
    /// and <c>total_sequence_length</c> as inputs, logits only.
    /// </summary>
    [Fact]
    public void A_genai_builder_style_graph_is_recognised_and_agrees_with_the_managed_engine()
    {
        using var dir = new TempDir();
        string target = dir.File("builder");
        ModelProto model = OptimumExportWriter.ReadGraphWithoutMetadata(f.ExportDirectory, target);
        GraphProto g = model.Graph;
        g.Output.Remove(g.Output.Single(o => o.Name == LlamaOnnxNames.LastHiddenState));
        // int32 mask, widened inside the graph for the nodes that read it.
        g.Input.Single(i => i.Name == LlamaOnnxNames.AttentionMask).Type.TensorType.ElemType = (int)TensorProto.Types.DataType.Int32;
        foreach (NodeProto node in g.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == LlamaOnnxNames.AttentionMask) node.Input[i] = "mask_i64";
        var cast = new NodeProto { OpType = "Cast", Name = "mask_cast" };
        cast.Input.Add(LlamaOnnxNames.AttentionMask);
        cast.Output.Add("mask_i64");
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorProto.Types.DataType.Int64 });
        g.Node.Insert(0, cast);
        // The lengths GroupQueryAttention reads become inputs instead of being computed from the mask.
        foreach (string name in new[] { OnnxDecoderContract.SequenceLengthsInput, OnnxDecoderContract.TotalSequenceLengthInput })
        {
            g.Node.Remove(g.Node.Single(n => n.Output.Contains(name)));
            var shape = new TensorShapeProto();
            if (name == OnnxDecoderContract.SequenceLengthsInput) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
            g.Input.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Int32, Shape = shape } },
            });
        }
        OptimumExportWriter.WriteGraph(model, Path.Combine(target, ExportManifest.ModelFileName));
        File.WriteAllText(Path.Combine(target, "config.json"), HuggingFaceCheckpointWriter.Config(f.Onnx.Config).ToJsonString());
        File.Copy(TestPaths.Tok512Model, Path.Combine(target, "tokenizer.model"));
        File.Copy(Path.Combine(f.ExportDirectory, "genai_config.json"), Path.Combine(target, "genai_config.json"));

        using var builder = OnnxLanguageModel.Load(target);
        OnnxDecoderContract contract = builder.Contract;
        Assert.Equal("genai", contract.Name);
        Assert.True(contract.SharedKvBuffer);
        Assert.True(contract.HasSequenceLengthInputs);
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32, contract.AttentionMaskType);
        Assert.Contains("int32 attention mask", contract.ToString());
        ParityReport report = ParityHarness.Compare(f.Managed, builder, builder.LoadTokenizer(), Prompts, new ParityOptions { Steps = 200 });
        Assert.True(report.Passed, string.Join("; ", report.Failures));
        Assert.InRange(report.MaxAbsLogitDiff, 0, 1e-4);
        Assert.False(report.EmbeddingsCompared);

        // Without genai_config.json nothing says the buffer is shared: the graph then gets separate past and present.
        File.Delete(Path.Combine(target, "genai_config.json"));
        using var unshared = OnnxLanguageModel.Load(target);
        Assert.False(unshared.Contract.SharedKvBuffer);
        Assert.InRange(LogitComparison.MaxDiffTeacherForced(f.Managed, unshared, Enumerable.Range(1, 40).ToArray(), promptLength: 5), 0, 1e-4);
    }
}
