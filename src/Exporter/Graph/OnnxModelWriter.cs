using System.Globalization;
using Google.Protobuf;
using MlPipelines.Exporter.Onnx;

namespace MlPipelines.Exporter.Graph;

/// <summary>
/// Serialises a built graph as an ONNX model file, with the initializers either embedded as
/// <c>raw_data</c> (wrapping the weight memory, no copy) or streamed into an external-data file.
/// </summary>
internal static class OnnxModelWriter
{
    /// <summary>IR version 8: the version ONNX 1.10–1.12 wrote for opset 17; every current runtime reads it.</summary>
    public const long IrVersion = 8;

    /// <summary>Default-domain opset of every node.</summary>
    public const long Opset = 17;

    /// <summary>Tensors smaller than this stay inline even with external data (as the onnx tools do by default).</summary>
    public const long InlineThresholdBytes = 1024;

    /// <summary>External tensors start at multiples of the page size so runtimes can map them.</summary>
    public const long Alignment = 4096;

    /// <summary>
    /// Above this many initializer bytes the weights go to external data whatever was asked:
    /// a protobuf message cannot exceed 2 GiB, and the graph itself needs some room.
    /// </summary>
    public const long EmbeddedLimitBytes = 1_800_000_000;

    /// <summary>Total bytes of all initializers.</summary>
    public static long InitializerBytes(GraphBuilder graph) => graph.Initializers.Sum(i => i.Data.ByteLength);

    /// <summary>Writes <c>model.onnx</c> (and <c>model.onnx.data</c> when <paramref name="externalData"/>) into <paramref name="directory"/>.</summary>
    /// <returns>Bytes of the model file and of the external-data file (0 when none).</returns>
    public static (long ModelBytes, long DataBytes) Write(GraphBuilder graph, string directory, bool externalData,
        IDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; exporting on a big-endian machine is not supported.");

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "MlPipelines.Exporter",
            ProducerVersion = typeof(OnnxModelWriter).Assembly.GetName().Version?.ToString() ?? "0",
            Graph = graph.Graph.Clone(),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        if (graph.UsesContribOperators)
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = GraphBuilder.ContribDomain, Version = 1 });
        foreach (var (key, value) in metadata)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

        long dataBytes = 0;
        string dataPath = Path.Combine(directory, ExportManifest.ExternalDataFileName);
        using (FileStream? data = externalData ? Create(dataPath) : null)
        {
            foreach (var (header, source) in graph.Initializers)
            {
                TensorProto tensor = header.Clone();
                if (data is not null && source.ByteLength >= InlineThresholdBytes)
                    AppendExternal(tensor, source, data, cancellationToken);
                else
                    tensor.RawData = source.IsWeights
                        ? UnsafeByteOperations.UnsafeWrap(UnmanagedMemory.Of(source.Weights))
                        : UnsafeByteOperations.UnsafeWrap(source.Bytes);
                model.Graph.Initializer.Add(tensor);
            }
            if (data is not null)
            {
                data.Flush(flushToDisk: true);
                dataBytes = data.Length;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        string modelPath = Path.Combine(directory, ExportManifest.ModelFileName);
        using (FileStream stream = Create(modelPath))
        {
            model.WriteTo(stream);
            stream.Flush(flushToDisk: true);
            return (stream.Length, dataBytes);
        }
    }

    private static void AppendExternal(TensorProto tensor, InitializerData source, FileStream data, CancellationToken cancellationToken)
    {
        long offset = (data.Position + Alignment - 1) / Alignment * Alignment;
        if (offset > data.Position)
            data.Write(new byte[offset - data.Position]);
        source.WriteTo(data, cancellationToken);
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(Entry("location", ExportManifest.ExternalDataFileName));
        tensor.ExternalData.Add(Entry("offset", offset.ToString(CultureInfo.InvariantCulture)));
        tensor.ExternalData.Add(Entry("length", source.ByteLength.ToString(CultureInfo.InvariantCulture)));
    }

    private static StringStringEntryProto Entry(string key, string value) => new() { Key = key, Value = value };

    private static FileStream Create(string path) =>
        new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
}
