using System.Text.Json;
using MlPipelines.ManagedEngine.IO;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>
/// What this library reads from a <c>tokenizer_config.json</c> beside a tokenizer.json: the BOS/EOS token
/// names and whether BOS/EOS are added (transformers lets these override the tokenizer.json). The names
/// may be strings or <c>{"content": …}</c> objects; absent or null fields stay null.
/// </summary>
internal sealed record TokenizerConfig(string? BosToken, string? EosToken, bool? AddBosToken, bool? AddEosToken)
{
    public const string FileName = "tokenizer_config.json";

    /// <summary>Reads the tokenizer_config.json in the directory of <paramref name="tokenizerPath"/>, or null if there is none.</summary>
    public static TokenizerConfig? ReadBeside(string tokenizerPath)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(tokenizerPath));
        if (directory is null) return null;
        string path = Path.Combine(directory, FileName);
        return File.Exists(path) ? Parse(TokenizerFiles.ReadAll(path, TokenizerFiles.MaxJsonBytes), path) : null;
    }

    public static TokenizerConfig Parse(ReadOnlySpan<byte> data, string name)
    {
        var f = new JsonFields(name, "tokenizer_config.json");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(data.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{name}' is not a valid tokenizer_config.json: {e.Message}", e);
        }
        using (doc)
        {
            JsonText.CheckStrings(data, doc.RootElement, message => new InvalidDataException($"'{name}' is not a valid tokenizer_config.json: {message}"));
            JsonElement root = f.Object(doc.RootElement, "$");
            return new TokenizerConfig(TokenName(f, root, "bos_token"), TokenName(f, root, "eos_token"),
                f.Optional(root, "add_bos_token") is JsonElement b ? f.Bool(b, "$.add_bos_token") : null,
                f.Optional(root, "add_eos_token") is JsonElement e ? f.Bool(e, "$.add_eos_token") : null);
        }
    }

    private static string? TokenName(JsonFields f, JsonElement root, string field)
    {
        if (f.Optional(root, field) is not JsonElement value) return null;
        return value.ValueKind == JsonValueKind.Object
            ? f.String(f.Required(value, "content", $"$.{field}"), $"$.{field}.content")
            : f.String(value, $"$.{field}");
    }
}
