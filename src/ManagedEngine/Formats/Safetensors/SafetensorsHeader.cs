using System.Text.Json;
using MlPipelines.ManagedEngine.IO;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// Parses and validates the JSON header of a safetensors file:
/// <c>{"name": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value"}}</c>.
/// </summary>
/// <remarks>
/// Every number that later sizes or addresses memory is checked here, in <see cref="long"/> with
/// explicit overflow tests: dimensions are non-negative, the element count times the dtype size
/// equals <c>end - begin</c>, ranges lie inside the data section, and, as the format requires (and
/// the reference implementation enforces, to rule out polyglot files), the ranges tile the data
/// section exactly: no overlaps, no holes, no trailing bytes. Tensor names must be unique.
/// </remarks>
internal static class SafetensorsHeader
{
    /// <summary>The reserved key holding free-form string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>The parsed header: tensors by name, and the metadata strings.</summary>
    public sealed record Contents(IReadOnlyDictionary<string, SafetensorsTensor> Tensors, IReadOnlyDictionary<string, string> Metadata);

    /// <summary>Parses <paramref name="json"/>; <paramref name="dataLength"/> is the size of the data section that follows it.</summary>
    /// <exception cref="InvalidDataException">The header is malformed; the message names <paramref name="path"/> and the tensor.</exception>
    public static Contents Parse(ReadOnlyMemory<byte> json, long dataLength, string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"the {json.Length}-byte header is not valid JSON ({e.Message}); expected an object of tensor entries");
        }

        using (document)
        {
            JsonText.CheckStrings(json.Span, document.RootElement, message => Invalid(path, $"the {json.Length}-byte header {message}; expected a JSON object of tensor entries"));
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Invalid(path, $"the header is a JSON {Kind(root)}; expected an object of tensor entries");

            var tensors = new Dictionary<string, SafetensorsTensor>(StringComparer.Ordinal);
            Dictionary<string, string>? metadata = null;
            foreach (JsonProperty entry in root.EnumerateObject())
            {
                if (entry.Name == MetadataKey)
                {
                    if (metadata is not null)
                        throw Invalid(path, $"the header holds \"{MetadataKey}\" twice");
                    metadata = ParseMetadata(entry.Value, path);
                    continue;
                }
                // JsonDocument keeps duplicate keys; a second entry would silently shadow the first.
                if (tensors.ContainsKey(entry.Name))
                    throw InvalidTensor(path, entry.Name, "is listed twice in the header; tensor names must be unique");
                tensors.Add(entry.Name, ParseTensor(entry.Name, entry.Value, dataLength, path));
            }

            CheckTiling(tensors.Values, dataLength, path);
            return new Contents(tensors, metadata ?? new Dictionary<string, string>());
        }
    }

    private static Dictionary<string, string> ParseMetadata(JsonElement value, string path)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (value.ValueKind == JsonValueKind.Null)
            return metadata;
        if (value.ValueKind != JsonValueKind.Object)
            throw Invalid(path, $"\"{MetadataKey}\" is a JSON {Kind(value)}; expected an object of strings");
        foreach (JsonProperty p in value.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw Invalid(path, $"\"{MetadataKey}\" entry \"{p.Name}\" is a JSON {Kind(p.Value)}; expected a string");
            metadata[p.Name] = p.Value.GetString()!;
        }
        return metadata;
    }

    private static SafetensorsTensor ParseTensor(string name, JsonElement entry, long dataLength, string path)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw InvalidTensor(path, name, $"is a JSON {Kind(entry)}; expected an object with dtype, shape and data_offsets");

        JsonElement dtypeValue = Required(entry, "dtype", JsonValueKind.String, name, path);
        string dtypeName = dtypeValue.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out SafetensorsDType dtype))
            throw InvalidTensor(path, name, $"has dtype \"{dtypeName}\", which is not a known safetensors dtype ({SafetensorsDTypes.KnownNames})");

        JsonElement shapeValue = Required(entry, "shape", JsonValueKind.Array, name, path);
        // The array's length is bounded by the header's size, which the caller has already capped.
        var shape = new long[shapeValue.GetArrayLength()];
        for (int d = 0; d < shape.Length; d++)
            shape[d] = NonNegativeInteger(shapeValue[d], $"shape dimension {d}", name, path);

        JsonElement offsets = Required(entry, "data_offsets", JsonValueKind.Array, name, path);
        if (offsets.GetArrayLength() != 2)
            throw InvalidTensor(path, name, $"has {offsets.GetArrayLength()} data_offsets; expected exactly 2 ([begin, end])");
        long begin = NonNegativeInteger(offsets[0], "data_offsets begin", name, path);
        long end = NonNegativeInteger(offsets[1], "data_offsets end", name, path);

        long bytes = ByteSize(shape, dtype, name, path);
        if (end < begin)
            throw InvalidTensor(path, name, $"has data_offsets [{begin}, {end}]: end is before begin");
        if (end > dataLength)
            throw InvalidTensor(path, name, $"has data_offsets [{begin}, {end}], beyond the {dataLength}-byte data section " +
                "that follows the header; the file is truncated or the offsets are wrong");
        if (end - begin != bytes)
            throw InvalidTensor(path, name, $"has shape {SafetensorsTensor.FormatShape(shape)} of {dtypeName} ({bytes} bytes) " +
                $"but data_offsets [{begin}, {end}] span {end - begin} bytes; they must be equal");

        return new SafetensorsTensor(name, dtype, shape, begin, end);
    }

    /// <summary>product(shape) * element size, or an error when it does not fit in a long.</summary>
    private static long ByteSize(long[] shape, SafetensorsDType dtype, string name, string path)
    {
        long bytes = dtype.Size();
        foreach (long dim in shape)
        {
            // Dimensions are non-negative, so a single division test detects overflow before it happens.
            if (dim != 0 && bytes > long.MaxValue / dim)
                throw InvalidTensor(path, name, $"has shape {SafetensorsTensor.FormatShape(shape)} of {dtype.Name()}, " +
                    "whose byte size overflows a 64-bit integer");
            bytes *= dim;
        }
        return bytes;
    }

    /// <summary>Sorted by position, each tensor must start where the previous one ended, and the last end the data section.</summary>
    private static void CheckTiling(IEnumerable<SafetensorsTensor> tensors, long dataLength, string path)
    {
        SafetensorsTensor? previous = null;
        long covered = 0;
        foreach (SafetensorsTensor t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.Begin < covered)
                throw InvalidTensor(path, t.Name, $"has data_offsets [{t.Begin}, {t.End}], overlapping tensor \"{previous!.Name}\" " +
                    $"at [{previous.Begin}, {previous.End}]; tensor byte ranges must not overlap");
            if (t.Begin > covered)
                throw InvalidTensor(path, t.Name, $"starts at data offset {t.Begin} but the tensors before it end at {covered}; " +
                    "the data section must hold no unindexed bytes");
            covered = t.End;
            previous = t;
        }
        if (covered != dataLength)
            throw Invalid(path, $"the tensors cover {covered} bytes but {dataLength} bytes follow the header; " +
                "the data section must hold no unindexed bytes (trailing data, or a header from another file)");
    }

    private static JsonElement Required(JsonElement entry, string key, JsonValueKind kind, string name, string path)
    {
        if (!entry.TryGetProperty(key, out JsonElement value))
            throw InvalidTensor(path, name, $"has no \"{key}\"");
        if (value.ValueKind != kind)
            throw InvalidTensor(path, name, $"has \"{key}\" as a JSON {Kind(value)}; expected a JSON {kind.ToString().ToLowerInvariant()}");
        return value;
    }

    private static long NonNegativeInteger(JsonElement value, string what, string name, string path)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long v) && v >= 0)
            return v;
        string shown = value.ValueKind == JsonValueKind.Number ? value.GetRawText() : "a JSON " + Kind(value);
        throw InvalidTensor(path, name, $"has {what} {shown}; expected an integer from 0 to {long.MaxValue}");
    }

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    private static InvalidDataException Invalid(string path, string message) => new($"{path}: {message}");

    private static InvalidDataException InvalidTensor(string path, string name, string message) =>
        new($"{path}: tensor \"{name}\" {message}");
}
