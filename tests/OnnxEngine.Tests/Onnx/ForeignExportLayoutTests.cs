using MlPipelines.Exporter;
using MlPipelines.Exporter.Onnx;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.Tests.Support;
using static MlPipelines.Exporter.LlamaOnnxNames;
using static MlPipelines.OnnxEngine.Tests.Onnx.OptimumExportWriter;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>
/// Other tools' exports as they lie on disk, built here by rearranging our own export: onnxruntime-genai's builder
/// (<c>genai_config.json</c> naming the decoder, no <c>config.json</c>), the Hugging Face Hub (<c>config.json</c> and the
/// tokenizer at the top, graphs in <c>onnx/</c>), Optimum's older merged decoder (<c>decoder_model_merged.onnx</c> with a
/// <c>use_cache_branch</c> input). Each loads, and agrees with the managed engine on the same weights.
/// </summary>
public sealed class ForeignExportLayoutTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    private static readonly string[] Prompts = ["Once upon a time", "Lily saw a big red ball"];

    private void AssertAgreesWithManagedEngine(OnnxLanguageModel onnx)
    {
        ParityReport report = ParityHarness.Compare(f.Managed, onnx, onnx.LoadTokenizer(), Prompts, new ParityOptions { Steps = 24 });
        Assert.True(report.Passed, string.Join("; ", report.Failures));
        Assert.InRange(report.MaxAbsLogitDiff, 0, 1e-4);
        Assert.True(report.GreedyIdentical);
    }

    [Fact]
    public void A_genai_builder_directory_loads_from_its_genai_config_json_and_the_decoder_it_names()
    {
        using var dir = new TempDir();
        string builder = dir.File("builder");
        Directory.CreateDirectory(builder);
        // The builder writes genai_config.json, the tokenizer files and the decoder (named as genai_config.json says): no config.json.
        foreach (string name in new[] { OnnxExportLayout.GenAiConfigFileName, "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(f.ExportDirectory, name), Path.Combine(builder, name));
        File.Copy(Path.Combine(f.ExportDirectory, ExportManifest.ModelFileName), Path.Combine(builder, "stories-cpu-fp32.onnx"));
        string genAi = Path.Combine(builder, OnnxExportLayout.GenAiConfigFileName);
        File.WriteAllText(genAi, File.ReadAllText(genAi).Replace("\"model.onnx\"", "\"stories-cpu-fp32.onnx\""));

        using var onnx = OnnxLanguageModel.Load(builder);
        Assert.Equal(Path.Combine(builder, "stories-cpu-fp32.onnx"), onnx.ModelFile);
        Assert.Equal("foreign", onnx.Manifest.Profile);
        Assert.Equal(genAi, onnx.Manifest.Source);
        Assert.Equal("tokenizer.json", onnx.Manifest.TokenizerFile);
        var expected = f.Managed.Config;
        var actual = onnx.Config;
        Assert.Equal((expected.Dim, expected.LayerCount, expected.HeadCount, expected.KvHeadCount, expected.HeadDim, expected.VocabSize,
            expected.MaxSequenceLength, expected.BosId, expected.EosId),
            (actual.Dim, actual.LayerCount, actual.HeadCount, actual.KvHeadCount, actual.HeadDim, actual.VocabSize,
            actual.MaxSequenceLength, actual.BosId, actual.EosId));
        Assert.Equal(0, actual.HiddenDim);   // not in genai_config.json, and not needed to run the graph
        AssertAgreesWithManagedEngine(onnx);

        // A genai_config.json naming a file elsewhere is refused rather than followed.
        File.WriteAllText(genAi, File.ReadAllText(genAi).Replace("\"stories-cpu-fp32.onnx\"", "\"../elsewhere.onnx\""));
        var error = Assert.Throws<InvalidDataException>(() => OnnxLanguageModel.Load(builder));
        Assert.Contains("model.decoder.filename", error.Message);
    }

    [Fact]
    public void A_hub_repository_loads_from_its_onnx_folder_or_from_the_graph_file_with_the_configuration_above_it()
    {
        using var dir = new TempDir();
        string optimum = Write(f.ExportDirectory, dir.File("optimum"), dropHiddenState: true, dropPositionIds: false);
        string hub = dir.File("hub");
        Directory.CreateDirectory(Path.Combine(hub, "onnx"));
        File.Move(Path.Combine(optimum, "config.json"), Path.Combine(hub, "config.json"));
        File.Move(Path.Combine(optimum, "tokenizer.model"), Path.Combine(hub, "tokenizer.model"));
        File.Copy(Path.Combine(optimum, "model.onnx"), Path.Combine(hub, "onnx", "model.onnx"));
        File.Copy(Path.Combine(optimum, "model.onnx"), Path.Combine(hub, "onnx", "model_q4.onnx"));   // a variant beside it

        using (var onnx = OnnxLanguageModel.Load(hub))
        {
            Assert.Equal(Path.Combine(hub, "onnx", "model.onnx"), onnx.ModelFile);
            Assert.Equal(Path.Combine("..", "tokenizer.model"), onnx.Manifest.TokenizerFile);
            AssertAgreesWithManagedEngine(onnx);
        }
        using (var onnx = OnnxLanguageModel.Load(Path.Combine(hub, "onnx", "model_q4.onnx")))
        {
            Assert.Equal(Path.Combine(hub, "config.json"), onnx.Manifest.Source);
            Assert.Equal(f.Managed.Config.VocabSize, onnx.LoadTokenizer().VocabularySize);
        }

        // The same directory is an ONNX export to the model resolver, so every command's --engine onnx --model takes it.
        Assert.Equal(ModelFormat.OnnxExport, ModelSource.Detect(hub).Format);
        Assert.Equal(ModelFormat.OnnxExport, ModelSource.Detect(Path.Combine(hub, "onnx", "model_q4.onnx")).Format);
        using var loaded = LanguageModels.Open(hub, null, EngineKind.Onnx);
        Assert.Equal(f.Managed.Config.VocabSize, loaded.Tokenizer.VocabularySize);
    }

    [Fact]
    public void Several_graphs_without_a_decoder_name_are_refused_naming_them()
    {
        using var dir = new TempDir();
        string optimum = Write(f.ExportDirectory, dir.File("optimum"), dropHiddenState: true, dropPositionIds: false);
        File.Move(Path.Combine(optimum, "model.onnx"), Path.Combine(optimum, "a.onnx"));
        File.Copy(Path.Combine(optimum, "a.onnx"), Path.Combine(optimum, "b.onnx"));
        var error = Assert.Throws<InvalidDataException>(() => OnnxLanguageModel.Load(optimum));
        Assert.Contains("a.onnx, b.onnx", error.Message);
        File.Delete(Path.Combine(optimum, "b.onnx"));
        using var onnx = OnnxLanguageModel.Load(optimum);   // the only graph there is
        Assert.Equal("a.onnx", Path.GetFileName(onnx.ModelFile));
    }

    /// <summary>
    /// Optimum's merged decoder takes <c>use_cache_branch</c>: false on the first run (an empty past), true afterwards. The
    /// rewritten graph reads it as a real merged graph would fail to if it were wrong: the past is multiplied by it (false
    /// with a past would drop the context), and the logits move by 1000 when it is true with an empty past.
    /// </summary>
    [Fact]
    public void An_optimum_merged_decoder_gets_use_cache_branch_false_on_the_first_run_and_true_after()
    {
        using var dir = new TempDir();
        string optimum = Write(f.ExportDirectory, dir.File("optimum"), dropHiddenState: true, dropPositionIds: false);
        string merged = Path.Combine(optimum, "decoder_model_merged.onnx");
        File.Move(Path.Combine(optimum, ExportManifest.ModelFileName), merged);
        ModelProto model = ReadGraph(merged);
        AddUseCacheBranch(model.Graph, f.Managed.Config.LayerCount);
        WriteGraph(model, merged);

        using var onnx = OnnxLanguageModel.Load(optimum);
        Assert.True(onnx.Contract.HasUseCacheBranch);
        Assert.Contains("use_cache_branch", onnx.Contract.ToString());
        AssertAgreesWithManagedEngine(onnx);
        var batch = onnx.ForwardBatch([[1, 403, 407], [1, 261]], BatchOutputs.Logits);
        var expected = f.Onnx.ForwardBatch([[1, 403, 407], [1, 261]], BatchOutputs.Logits);
        Assert.Equal(expected.Logits(0, 2).ToArray(), batch.Logits(0, 2).ToArray());
    }

    private static void AddUseCacheBranch(GraphProto g, int layers)
    {
        const string flag = OnnxDecoderContract.UseCacheBranchInput;
        var input = new ValueInfoProto { Name = flag, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Bool } } };
        input.Type.TensorType.Shape = new TensorShapeProto();
        input.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 1 });
        g.Input.Add(input);
        var pasts = Enumerable.Range(0, layers).SelectMany(l => new[] { PastKey(l), PastValue(l) }).ToHashSet();
        foreach (NodeProto node in g.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (pasts.Contains(node.Input[i])) node.Input[i] += ".gated";
        foreach (NodeProto node in g.Node)
            for (int i = 0; i < node.Output.Count; i++)
                if (node.Output[i] == Logits) node.Output[i] = "logits.raw";
        g.Initializer.Add(Int64("ucb.seq_axis", [1], 2));
        var thousand = new TensorProto { Name = "ucb.thousand", DataType = (int)TensorProto.Types.DataType.Float };
        thousand.FloatData.Add(1000f);
        g.Initializer.Add(thousand);
        g.Initializer.Add(Int64("ucb.zero", [], 0));
        NodeProto[] nodes =
        [
            Cast(flag, "ucb.float", TensorProto.Types.DataType.Float),
            .. pasts.Select(p => Node("Mul", [p, "ucb.float"], p + ".gated")),
            Node("Shape", [PastKey(0)], "ucb.past_shape"),
            Node("Gather", ["ucb.past_shape", "ucb.seq_axis"], "ucb.past_length"),
            Node("Equal", ["ucb.past_length", "ucb.zero"], "ucb.empty"),
            Cast("ucb.empty", "ucb.empty_float", TensorProto.Types.DataType.Float),
            Node("Mul", ["ucb.float", "ucb.empty_float"], "ucb.wrong"),
            Node("Mul", ["ucb.wrong", "ucb.thousand"], "ucb.penalty"),
        ];
        for (int i = 0; i < nodes.Length; i++)
            g.Node.Insert(i, nodes[i]);
        g.Node.Add(Node("Add", ["logits.raw", "ucb.penalty"], Logits));
    }

    private static NodeProto Cast(string input, string output, TensorProto.Types.DataType to)
    {
        NodeProto node = Node("Cast", [input], output);
        node.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)to });
        return node;
    }

    [Fact]
    public void A_graph_with_an_fp16_kv_cache_is_refused_saying_which_exports_run()
    {
        using var dir = new TempDir();
        string optimum = Write(f.ExportDirectory, dir.File("optimum"), dropHiddenState: true, dropPositionIds: false);
        string file = Path.Combine(optimum, ExportManifest.ModelFileName);
        ModelProto model = ReadGraph(file);
        GraphProto g = model.Graph;
        g.Input.Single(i => i.Name == PastKey(0)).Type.TensorType.ElemType = (int)TensorProto.Types.DataType.Float16;
        foreach (NodeProto node in g.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == PastKey(0)) node.Input[i] = "past.widened";
        g.Node.Insert(0, Cast(PastKey(0), "past.widened", TensorProto.Types.DataType.Float));
        WriteGraph(model, file);
        var error = Assert.Throws<InvalidDataException>(() => OnnxLanguageModel.Load(optimum));
        Assert.Contains("Float16", error.Message);
        Assert.Contains("fp32 inputs and outputs", error.Message);
    }
}
