using MlPipelines.Exporter;
using MlPipelines.Exporter.Onnx;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.Tests.Support;
using static MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>
/// Rewrites our own export into Optimum's layout and contract (config.json instead of mlpipe.json, optionally without
/// <c>last_hidden_state</c> or <c>position_ids</c>), so tests can stand in for another tool's export.
/// </summary>
internal static class OptimumExportWriter
{
    /// <summary>Reads an ONNX graph file (weights inline) for rewriting.</summary>
    public static ModelProto ReadGraph(string file)
    {
        using var stream = File.OpenRead(file);
        return ModelProto.Parser.ParseFrom(stream);
    }

    /// <summary>
    /// Our export's graph, without the metadata that names our contract, to be rewritten into another tool's layout in
    /// <paramref name="target"/> (created here).
    /// </summary>
    public static ModelProto ReadGraphWithoutMetadata(string exportDirectory, string target)
    {
        Directory.CreateDirectory(target);
        ModelProto model = ReadGraph(Path.Combine(exportDirectory, MlPipelines.Exporter.ExportManifest.ModelFileName));
        model.MetadataProps.Clear();
        return model;
    }

    /// <summary>Writes a rewritten graph.</summary>
    public static void WriteGraph(ModelProto model, string file)
    {
        using var stream = File.Create(file);
        Google.Protobuf.MessageExtensions.WriteTo(model, stream);
    }

    /// <summary>Writes our export <paramref name="export"/> into <paramref name="target"/> as Optimum lays one out.</summary>
    public static string Write(string export, string target, bool dropHiddenState, bool dropPositionIds, params string[] dropOutputs)
    {
        Directory.CreateDirectory(target);
        ModelProto model = ReadGraph(Path.Combine(export, ExportManifest.ModelFileName));
        foreach (string name in dropOutputs.Concat(dropHiddenState ? [LastHiddenState] : []))
        {
            var output = model.Graph.Output.Single(o => o.Name == name);
            model.Graph.Output.Remove(output);
        }
        if (dropPositionIds)
            ComputePositionsFromMask(model.Graph);
        WriteGraph(model, Path.Combine(target, ExportManifest.ModelFileName));
        var config = ExportManifest.Read(export).Config;
        File.WriteAllText(Path.Combine(target, "config.json"), HuggingFaceCheckpointWriter.Config(config).ToJsonString());
        File.Copy(TestPaths.Tok512Model, Path.Combine(target, "tokenizer.model"));
        return target;
    }

    /// <summary>
    /// The graph without its <c>position_ids</c> input, numbering the new tokens itself as Optimum's graphs do:
    /// <c>(cumsum(attention_mask) − 1)[:, −sequence_length:]</c>, fed to the nodes that read <c>position_ids</c>.
    /// </summary>
    public static void ComputePositionsFromMask(GraphProto g)
    {
        g.Input.Remove(g.Input.Single(i => i.Name == PositionIds));
        g.Initializer.Add(Int64("pos.axis", [], 1));
        g.Initializer.Add(Int64("pos.one", [], 1));
        g.Initializer.Add(Int64("pos.index", [], 1));
        g.Initializer.Add(Int64("pos.unsqueeze_axes", [1], 0));
        g.Initializer.Add(Int64("pos.end", [1], long.MaxValue));
        g.Initializer.Add(Int64("pos.slice_axes", [1], 1));
        NodeProto[] nodes =
        [
            Node("CumSum", [AttentionMask, "pos.axis"], "pos.cumsum"),
            Node("Sub", ["pos.cumsum", "pos.one"], "pos.all"),
            Node("Shape", [InputIds], "pos.shape"),
            Node("Gather", ["pos.shape", "pos.index"], "pos.length"),
            Node("Unsqueeze", ["pos.length", "pos.unsqueeze_axes"], "pos.length1"),
            Node("Neg", ["pos.length1"], "pos.start"),
            Node("Slice", ["pos.all", "pos.start", "pos.end", "pos.slice_axes"], PositionIds),
        ];
        for (int i = 0; i < nodes.Length; i++)
            g.Node.Insert(i, nodes[i]);   // before every consumer: nodes stay in topological order
    }

    public static TensorProto Int64(string name, long[] dims, long value)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(dims);
        t.Int64Data.Add(value);
        return t;
    }

    public static NodeProto Node(string op, string[] inputs, string output)
    {
        var n = new NodeProto { OpType = op, Name = output + "." + op };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        return n;
    }

}
