using System.Globalization;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Formats.Safetensors;

namespace MlPipelines.ManagedEngine.Loading;

/// <summary>One storage type's share of a model's weight data.</summary>
/// <param name="Type">The type as the file spells it: a ggml type (<c>F32</c>, <c>F16</c>, <c>BF16</c>, <c>Q8_0</c>,
/// <c>Q4_K</c>, …) or a safetensors dtype (<c>F32</c>, <c>F16</c>, <c>BF16</c>, …).</param>
/// <param name="Bytes">Bytes of weight data stored as this type.</param>
/// <param name="Fraction">Those bytes as a fraction (0 to 1) of all the weight data counted.</param>
public sealed record WeightTypeShare(string Type, long Bytes, double Fraction);

/// <summary>
/// How a model's weights are stored in its files: <c>F32</c>, <c>F16</c>, <c>BF16</c>, <c>Q8_0</c>, or for a file whose
/// matrices use several types <c>mixed (Q4_K 62%, Q6_K 38%)</c> (shares by bytes of tensor data). Read from headers
/// only (GGUF tensor infos, safetensors headers, the llama2.c magic): no weight is read or converted.
/// </summary>
/// <remarks>
/// For GGUF and safetensors the weight matrices (tensors of two or more dimensions) are counted: one-dimensional
/// tensors (norms, RoPE factors), which GGUF files keep in F32 whatever the matrices are, would otherwise turn every
/// quantised file into a "mixed" one. A file without matrices is described by all its tensors. A llama2.c file is
/// <c>F32</c> (version 0) or <c>Q8_0 (llama2.c int8)</c> (version 2), counted as its whole data section; an ONNX export is
/// <c>F32 (ONNX export)</c> (the exporter writes fp32), with no per-type breakdown. How an engine holds the weights
/// once loaded is another matter — it may widen them to fp32, or re-quantise them to Q8_0 when asked (see
/// <see cref="ManagedModelLoader.RequantizesOnLoad"/>); a loaded model reports it as <c>EngineDescription.Precision</c>.
/// </remarks>
public sealed record ModelWeightFormat
{
    /// <summary>The name of <see cref="ModelFormat.Llama2cInt8"/> weights.</summary>
    public const string Llama2cInt8Name = "Q8_0 (llama2.c int8)";

    /// <summary>The name of an ONNX export's weights.</summary>
    public const string OnnxExportName = "F32 (ONNX export)";

    /// <summary>The name of the weights of another tool's ONNX export (no manifest says how they are stored).</summary>
    public const string ForeignOnnxExportName = "ONNX export by another tool";

    /// <summary>The format in one phrase: a type name, <c>mixed (A 62%, B 38%)</c>, or one of the constants above.</summary>
    public required string Name { get; init; }

    /// <summary>The file format the weights are in.</summary>
    public required ModelFormat Container { get; init; }

    /// <summary>The storage types counted and their shares, largest first (empty for an ONNX export).</summary>
    public required IReadOnlyList<WeightTypeShare> Types { get; init; }

    /// <summary>True when the matrices are stored in more than one type.</summary>
    public bool IsMixed => Types.Count > 1;

    /// <summary>The type when there is only one (<c>F32</c>, <c>Q8_0</c>, …); null for a mixed file or an ONNX export.</summary>
    public string? SingleType => Types.Count == 1 ? Types[0].Type : null;

    /// <summary>Describes the weights at <paramref name="source"/> (<see cref="ResolvedModel.WeightFormat"/> keeps the result for a model).</summary>
    /// <exception cref="InvalidDataException">A GGUF or safetensors header is malformed.</exception>
    /// <exception cref="FileNotFoundException">A weight file is missing.</exception>
    public static ModelWeightFormat Of(ModelSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Format switch
        {
            ModelFormat.Gguf => OfGguf(source.Path),
            ModelFormat.HuggingFace => OfSafetensors(source.Path),
            ModelFormat.Llama2cInt8 => Single(source, "Q8_0", Llama2cQ80Layout.HeaderBytes, Llama2cInt8Name),
            ModelFormat.OnnxExport => new ModelWeightFormat { Name = OnnxExportWeights(source.Path), Container = source.Format, Types = [] },
            _ => Single(source, "F32", Llama2cLayout.HeaderBytes, "F32"),
        };
    }

    /// <summary>
    /// An export's weights as its manifest names them (<c>int4 (fused ONNX export)</c>); <see cref="OnnxExportName"/> for a
    /// portable fp32 export or a manifest that does not say; <see cref="ForeignOnnxExportName"/> without a manifest.
    /// </summary>
    private static string OnnxExportWeights(string path)
    {
        string directory = File.Exists(path) ? System.IO.Path.GetDirectoryName(path)! : path;   // an .onnx file named itself
        string manifest = System.IO.Path.Combine(directory, ModelSource.ExportManifestFileName);
        if (!File.Exists(manifest))
            return ForeignOnnxExportName;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(manifest));
            string weights = json.RootElement.TryGetProperty("weights", out var w) ? w.GetString() ?? "fp32" : "fp32";
            string profile = json.RootElement.TryGetProperty("profile", out var p) ? p.GetString() ?? "portable" : "portable";
            return weights == "fp32" && profile == "portable" ? OnnxExportName : $"{weights} ({profile} ONNX export)";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException)
        {
            return OnnxExportName;   // loading the export reports what is wrong with its manifest
        }
    }

    /// <summary>
    /// Describes a set of tensors given as (type, bytes, dimension count): the matrices when there are any, else all
    /// of them. The building block of <see cref="Of"/>, public so that a writer (e.g. a quantizer) can name what it writes.
    /// </summary>
    public static ModelWeightFormat FromTensors(ModelFormat container, IEnumerable<(string Type, long Bytes, int Dimensions)> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var all = tensors.ToList();
        var counted = all.Any(t => t.Dimensions >= 2) ? all.Where(t => t.Dimensions >= 2).ToList() : all;
        long total = counted.Sum(t => t.Bytes);
        var types = counted.GroupBy(t => t.Type, StringComparer.Ordinal)
            .Select(g => (Type: g.Key, Bytes: g.Sum(t => t.Bytes)))
            .OrderByDescending(g => g.Bytes).ThenBy(g => g.Type, StringComparer.Ordinal)
            .Select(g => new WeightTypeShare(g.Type, g.Bytes, total == 0 ? 0 : (double)g.Bytes / total))
            .ToList();
        return new ModelWeightFormat { Name = NameOf(types), Container = container, Types = types };
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    // "F16", or "mixed (Q4_K 62%, Q6_K 38%)": whole percents, "<1%" for a share that rounds to nothing.
    private static string NameOf(IReadOnlyList<WeightTypeShare> types) => types.Count switch
    {
        0 => "none",
        1 => types[0].Type,
        _ => "mixed (" + string.Join(", ", types.Select(t => $"{t.Type} {Percent(t.Fraction)}")) + ")",
    };

    private static string Percent(double fraction)
    {
        double percent = Math.Round(fraction * 100, MidpointRounding.AwayFromZero);
        return percent < 1 ? "<1%" : percent.ToString("F0", CultureInfo.InvariantCulture) + "%";
    }

    private static ModelWeightFormat OfGguf(string path)
    {
        using GgufFile file = GgufFile.Open(path);   // a mapping: only the header is read
        return FromTensors(ModelFormat.Gguf, file.Tensors.Select(t => (t.Type.ToString(), t.ByteLength, t.Dimensions.Count)));
    }

    private static ModelWeightFormat OfSafetensors(string directory)
    {
        using var memory = new WeightMemory();   // owns the mappings until the headers have been read
        var set = SafetensorsTensorSet.Open(directory, memory);
        return FromTensors(ModelFormat.HuggingFace, set.Names.Select(name =>
        {
            set.TryGet(name, out _, out SafetensorsTensor tensor);
            return (tensor.DType.Name(), tensor.ByteLength, tensor.Shape.Count);
        }));
    }

    private static ModelWeightFormat Single(ModelSource source, string type, int headerBytes, string name)
    {
        long bytes = Math.Max(0, new FileInfo(source.Path).Length - headerBytes);
        return new ModelWeightFormat { Name = name, Container = source.Format, Types = [new WeightTypeShare(type, bytes, 1)] };
    }
}
