using System.Text.Json;

namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// JSON Lines: each non-blank line is one JSON object whose <c>column</c> field is a string. Blank
/// lines are skipped (editors and concatenation leave them); anything else that is not such an object
/// is an error naming the line.
/// </summary>
internal static class JsonLinesInput
{
    public static IEnumerable<string> Read(string path, string column)
    {
        using StreamReader reader = EmbedInputs.OpenText(path);
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            yield return TextOf(line, path, lineNumber, column);
        }
    }

    private static string TextOf(string line, string path, long lineNumber, string column)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw Error(path, lineNumber, $"not valid JSON ({e.Message}); expected one JSON object per line");
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                string hint = root.ValueKind == JsonValueKind.Array ? " (a JSON array is not supported: write one object per line)" : "";
                throw Error(path, lineNumber, $"expected a JSON object with a string field '{column}', found {Describe(root.ValueKind)}{hint}");
            }
            if (!root.TryGetProperty(column, out JsonElement value))
            {
                string fields = string.Join(", ", root.EnumerateObject().Select(p => p.Name).Take(10));
                throw Error(path, lineNumber, $"the object has no field '{column}' (fields: {(fields.Length == 0 ? "none" : fields)}); choose one (EmbedJobOptions.Column)");
            }
            if (value.ValueKind != JsonValueKind.String)
                throw Error(path, lineNumber, $"field '{column}' is {Describe(value.ValueKind)}, expected a string");
            return value.GetString()!;
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    private static InvalidDataException Error(string path, long line, string message) => new($"{path}: line {line}: {message}.");
}
