namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>How an embedding job reads its texts.</summary>
public enum EmbedInputFormat
{
    /// <summary>Plain text: every line is one text (empty lines included, so row i is line i + 1).</summary>
    Text,

    /// <summary>CSV (RFC 4180) with a header row; the texts are one named column.</summary>
    Csv,

    /// <summary>JSON Lines: one JSON object per line; the texts are one named string field.</summary>
    JsonLines,
}

/// <summary>How an embedding job writes its vectors.</summary>
public enum EmbedOutputFormat
{
    /// <summary>CSV with the header <c>index,text,e0,…,e{d-1}</c>.</summary>
    Csv,

    /// <summary>JSON Lines: <c>{"index":i,"text":"…","embedding":[…]}</c> per row.</summary>
    JsonLines,

    /// <summary>Parquet: <c>index</c> int64, <c>text</c> string, <c>embedding</c> list of float.</summary>
    Parquet,
}

/// <summary>Chooses formats from file extensions or from the names users type.</summary>
public static class EmbedFormats
{
    /// <summary>The input format implied by <paramref name="path"/>'s extension: .csv, .jsonl/.json, else plain text.</summary>
    public static EmbedInputFormat InputFromPath(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" => EmbedInputFormat.Csv,
        ".jsonl" or ".json" or ".ndjson" => EmbedInputFormat.JsonLines,
        _ => EmbedInputFormat.Text,   // .txt and anything else: the least surprising reading of an unknown file
    };

    /// <summary>The output format implied by <paramref name="path"/>'s extension.</summary>
    /// <exception cref="ArgumentException">The extension is not .csv, .jsonl/.json or .parquet.</exception>
    public static EmbedOutputFormat OutputFromPath(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" => EmbedOutputFormat.Csv,
        ".jsonl" or ".json" or ".ndjson" => EmbedOutputFormat.JsonLines,
        ".parquet" => EmbedOutputFormat.Parquet,
        // Guessing here would write a format the user did not ask for under a misleading name.
        _ => throw new ArgumentException(
            $"Cannot tell the output format of '{path}' from its extension: use .csv, .jsonl or .parquet, or name the format: csv, jsonl or parquet (EmbedJobOptions.OutputFormat)."),
    };

    /// <summary>Parses an input format name: <c>text</c>/<c>txt</c>, <c>csv</c>, <c>jsonl</c>/<c>json</c>.</summary>
    public static EmbedInputFormat ParseInput(string name) => name.ToLowerInvariant() switch
    {
        "text" or "txt" => EmbedInputFormat.Text,
        "csv" => EmbedInputFormat.Csv,
        "jsonl" or "json" => EmbedInputFormat.JsonLines,
        _ => throw new ArgumentException($"Unknown input format '{name}': expected text, csv or jsonl."),
    };

    /// <summary>Parses an output format name: <c>csv</c>, <c>jsonl</c>/<c>json</c>, <c>parquet</c>.</summary>
    public static EmbedOutputFormat ParseOutput(string name) => name.ToLowerInvariant() switch
    {
        "csv" => EmbedOutputFormat.Csv,
        "jsonl" or "json" => EmbedOutputFormat.JsonLines,
        "parquet" => EmbedOutputFormat.Parquet,
        _ => throw new ArgumentException($"Unknown output format '{name}': expected csv, jsonl or parquet."),
    };
}
