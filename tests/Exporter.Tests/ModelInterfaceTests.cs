using Microsoft.ML.OnnxRuntime.Tensors;
using MlPipelines.Exporter.Onnx;
using MlPipelines.Exporter.Tests.Support;
using N = MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.Exporter.Tests;

/// <summary>The exported model's contract with its consumers: names, types, ranks, operators, manifest.</summary>
public sealed class ModelInterfaceTests(Stories260KFixture fixture) : IClassFixture<Stories260KFixture>
{
    [Fact]
    public void InputsAndOutputsHaveTheAgreedNamesTypesAndRanks()
    {
        var c = fixture.Model.Config;
        var expectedInputs = new List<(string, TensorElementType, int)>
        {
            (N.InputIds, TensorElementType.Int64, 2),
            (N.AttentionMask, TensorElementType.Int64, 2),
            (N.PositionIds, TensorElementType.Int64, 2),
        };
        var expectedOutputs = new List<(string, TensorElementType, int)> { (N.Logits, TensorElementType.Float, 3) };
        for (int l = 0; l < c.LayerCount; l++)
        {
            expectedInputs.Add((N.PastKey(l), TensorElementType.Float, 4));
            expectedInputs.Add((N.PastValue(l), TensorElementType.Float, 4));
            expectedOutputs.Add((N.PresentKey(l), TensorElementType.Float, 4));
            expectedOutputs.Add((N.PresentValue(l), TensorElementType.Float, 4));
        }
        expectedOutputs.Add((N.LastHiddenState, TensorElementType.Float, 3));

        var session = fixture.Decoder.Session;
        Assert.Equal(expectedInputs, session.InputMetadata.Select(m => (m.Key, m.Value.ElementDataType, m.Value.Dimensions.Length)));
        Assert.Equal(expectedOutputs, session.OutputMetadata.Select(m => (m.Key, m.Value.ElementDataType, m.Value.Dimensions.Length)));

        // Dynamic batch and sequence axes; fixed head counts and widths.
        Assert.Equal([-1, c.KvHeadCount, -1, c.HeadDim], session.InputMetadata[N.PastKey(0)].Dimensions);
        Assert.Equal([N.BatchDim, "", N.PastSequenceDim, ""], session.InputMetadata[N.PastKey(0)].SymbolicDimensions);
        Assert.Equal([N.BatchDim, N.SequenceDim, ""], session.OutputMetadata[N.Logits].SymbolicDimensions);
        Assert.Equal([-1, -1, c.VocabSize], session.OutputMetadata[N.Logits].Dimensions);
        Assert.Equal([N.BatchDim, "", N.TotalSequenceDim, ""], session.OutputMetadata[N.PresentValue(0)].SymbolicDimensions);
    }

    [Fact]
    public void OnlyDefaultDomainOpset17OperatorsAreUsed()
    {
        ModelProto model;
        using (var stream = File.OpenRead(fixture.Export.ModelPath))
            model = ModelProto.Parser.ParseFrom(stream);

        Assert.Equal(8, model.IrVersion);
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal(("", 17L), (opset.Domain, opset.Version));
        Assert.All(model.Graph.Node, n => Assert.Equal("", n.Domain));

        // Every operator of opset 17's default domain that the portable graph is allowed to use.
        string[] allowed = ["Gather", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Sqrt", "Reciprocal", "ReduceMean",
            "Softmax", "Sigmoid", "Reshape", "Transpose", "Concat", "Slice", "Unsqueeze", "Shape", "Range",
            "LessOrEqual", "And", "Cast", "Where"];
        Assert.Empty(model.Graph.Node.Select(n => n.OpType).Distinct().Except(allowed));

        // Node names and produced values are unique; weights carry Hugging Face names.
        Assert.Equal(model.Graph.Node.Count, model.Graph.Node.Select(n => n.Name).Distinct().Count());
        var produced = model.Graph.Node.SelectMany(n => n.Output).ToList();
        Assert.Equal(produced.Count, produced.Distinct().Count());
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        Assert.Contains("model.embed_tokens.weight", initializers);
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", initializers);
        Assert.Contains("model.layers.4.mlp.down_proj.weight", initializers);
        Assert.Contains("model.norm.weight", initializers);
        Assert.DoesNotContain("lm_head.weight", initializers);   // stories260K ties the classifier to the embedding
    }

    [Fact]
    public void ManifestDescribesTheExport()
    {
        var export = fixture.Export;
        var manifest = ExportManifest.Read(export.OutputDirectory);
        Assert.Equal(fixture.Model.Config, manifest.Config);
        Assert.Equal("portable", manifest.Profile);
        Assert.Equal(17, manifest.Opset);
        Assert.False(manifest.ExternalData);
        Assert.Equal("tok512.bin", manifest.TokenizerFile);
        Assert.True(File.Exists(Path.Combine(export.OutputDirectory, manifest.TokenizerFile!)));
        Assert.Null(export.ExternalDataPath);
        Assert.False(File.Exists(Path.Combine(export.OutputDirectory, ExportManifest.ExternalDataFileName)));
        Assert.Equal(new FileInfo(export.ModelPath).Length, export.ModelBytes);
        // Only the export's own files, no leftovers: ours, and onnxruntime-genai's (its config, the converted tokenizer).
        Assert.Equal(["genai_config.json", ExportManifest.FileName, ExportManifest.ModelFileName, "tok512.bin", "tokenizer.json", "tokenizer_config.json"],
            Directory.GetFileSystemEntries(export.OutputDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
