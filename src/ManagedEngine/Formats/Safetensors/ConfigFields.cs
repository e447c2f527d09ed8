using System.Text.Json;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// Typed access to the top-level fields of a config.json object. A field that is absent or JSON null
/// takes the given default; a field of the wrong JSON type is an error naming the file and the field.
/// </summary>
internal readonly struct ConfigFields(JsonElement root, string path)
{
    /// <summary>The file, for messages.</summary>
    public string Path => path;

    /// <summary>True when the field is present and not null.</summary>
    public bool Has(string name) => root.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null;

    /// <summary>The field's JSON text, shortened for messages.</summary>
    public string Raw(string name) => Shown(root.GetProperty(name));

    /// <summary>A required integer field.</summary>
    public int Int(string name) => OptionalInt(name)
        ?? throw new InvalidDataException($"{path}: required field {name} is missing; expected an integer");

    /// <summary>An integer field with a default.</summary>
    public int Int(string name, int fallback) => OptionalInt(name) ?? fallback;

    /// <summary>An integer field, or null when absent.</summary>
    public int? OptionalInt(string name) => Get(name) is JsonElement v ? AsInt(v, name) : null;

    /// <summary>A number field with a default.</summary>
    public float Float(string name, float fallback)
    {
        if (Get(name) is not JsonElement v)
            return fallback;
        // Numbers beyond double's range parse as infinity; ones that only overflow float are left to
        // the caller's range checks.
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw WrongType(name, v, "a finite number");
        return (float)d;
    }

    /// <summary>A boolean field with a default.</summary>
    public bool Bool(string name, bool fallback)
    {
        if (Get(name) is not JsonElement v)
            return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(name, v, "true or false"),
        };
    }

    /// <summary>A string field, or null when absent.</summary>
    public string? OptionalString(string name)
    {
        if (Get(name) is not JsonElement v)
            return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw WrongType(name, v, "a string");
    }

    /// <summary>An array-of-strings field (empty when absent).</summary>
    public IReadOnlyList<string> StringArray(string name)
    {
        if (Get(name) is not JsonElement v)
            return [];
        if (v.ValueKind != JsonValueKind.Array)
            throw WrongType(name, v, "an array of strings");
        var values = new List<string>();
        foreach (JsonElement e in v.EnumerateArray())
            values.Add(e.ValueKind == JsonValueKind.String ? e.GetString()! : throw WrongType(name, e, "an array of strings"));
        return values;
    }

    /// <summary>A nested object's fields (messages name the file and the object), or null when absent.</summary>
    public ConfigFields? OptionalObject(string name)
    {
        if (Get(name) is not JsonElement v)
            return null;
        return v.ValueKind == JsonValueKind.Object ? new ConfigFields(v, $"{path}: {name}") : throw WrongType(name, v, "an object");
    }

    /// <summary>
    /// A token id field: an integer, or a list of them (generation configs list several EOS tokens;
    /// the first is the model's own), with a default when absent.
    /// </summary>
    public int TokenId(string name, int fallback)
    {
        if (Get(name) is not JsonElement v)
            return fallback;
        if (v.ValueKind != JsonValueKind.Array)
            return AsInt(v, name);
        if (v.GetArrayLength() == 0)
            throw new InvalidDataException($"{path}: field {name} is an empty array; expected a token id or a non-empty array of them");
        return AsInt(v[0], name);
    }

    /// <summary>All ids of a token id field (an integer or a non-empty list of them); empty when absent.</summary>
    public IReadOnlyList<int> TokenIds(string name)
    {
        if (Get(name) is not JsonElement v)
            return [];
        if (v.ValueKind != JsonValueKind.Array)
            return [AsInt(v, name)];
        if (v.GetArrayLength() is 0 or > 1024)
            throw new InvalidDataException($"{path}: field {name} has {v.GetArrayLength()} entries; expected a token id or a list of 1 to 1024 of them");
        var ids = new List<int>();
        foreach (JsonElement e in v.EnumerateArray()) ids.Add(AsInt(e, name));
        return ids;
    }

    private JsonElement? Get(string name) =>
        root.TryGetProperty(name, out JsonElement v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private int AsInt(JsonElement v, string name) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw WrongType(name, v, "an integer");

    private InvalidDataException WrongType(string name, JsonElement v, string expected)
    {
        return new InvalidDataException($"{path}: field {name} = {Shown(v)}; expected {expected}");
    }

    /// <summary>The value as one line of compact JSON, at most 80 characters, for messages.</summary>
    private static string Shown(JsonElement value)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
            value.WriteTo(writer);
        string json = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
        return json.Length > 80 ? json[..80] + "..." : json;
    }
}
