using System.Text.Json;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>
/// Typed reads of a tokenizer JSON file's fields; every wrong type or range becomes an
/// <see cref="InvalidDataException"/> naming the file and the field's JSON path.
/// </summary>
internal sealed class JsonFields(string file, string kind)
{
    public string File { get; } = file;

    public InvalidDataException Bad(string path, string what) => new($"'{File}' is not a valid {kind}: {path} {what}.");

    public NotSupportedException Unsupported(string path, string what) => new($"'{File}': {path} {what}; this is not supported.");

    public JsonElement? Optional(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public JsonElement Required(JsonElement obj, string name, string path) =>
        Optional(obj, name) ?? throw Bad($"{path}.{name}", "is missing");

    public JsonElement Object(JsonElement value, string path) =>
        value.ValueKind == JsonValueKind.Object ? value : throw Bad(path, $"is {Describe(value)}, expected an object");

    public JsonElement Array(JsonElement value, string path) =>
        value.ValueKind == JsonValueKind.Array ? value : throw Bad(path, $"is {Describe(value)}, expected an array");

    public string String(JsonElement value, string path) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Bad(path, $"is {Describe(value)}, expected a string");

    public bool Bool(JsonElement value, string path) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Bad(path, $"is {Describe(value)}, expected true or false"),
    };

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int Int(JsonElement value, string path, int min, int max)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long n))
            throw Bad(path, $"is {Describe(value)}, expected an integer");
        if (n < min || n > max) throw Bad(path, $"is {n}, expected {min}..{max}");
        return (int)n;
    }

    public string? OptionalString(JsonElement obj, string name, string path) =>
        Optional(obj, name) is JsonElement v ? String(v, $"{path}.{name}") : null;

    public bool OptionalBool(JsonElement obj, string name, string path, bool fallback) =>
        Optional(obj, name) is JsonElement v ? Bool(v, $"{path}.{name}") : fallback;

    public string Type(JsonElement obj, string path) => String(Required(Object(obj, path), "type", path), $"{path}.type");

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
