using System.Text;

namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// Streams the texts of an input file, one per row, in file order. Nothing is read ahead beyond a
/// stream buffer, so files of any size work. Malformed input is an <see cref="InvalidDataException"/>
/// naming the file, the line and what was expected.
/// </summary>
public static class EmbedInputs
{
    /// <summary>The default column (CSV) or field (JSON Lines) holding the texts.</summary>
    public const string DefaultColumn = "text";

    /// <summary>
    /// The texts of <paramref name="path"/>. <paramref name="column"/> names the CSV column or JSON field
    /// (ignored for plain text). The file is opened on the first <c>MoveNext</c>.
    /// </summary>
    public static IEnumerable<string> Read(string path, EmbedInputFormat format, string column = DefaultColumn)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentException.ThrowIfNullOrEmpty(column);
        return format switch
        {
            EmbedInputFormat.Text => PlainTextInput.Read(path),
            EmbedInputFormat.Csv => CsvInput.Read(path, column),
            EmbedInputFormat.JsonLines => JsonLinesInput.Read(path, column),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown input format."),
        };
    }

    /// <summary>
    /// Counts the rows of <paramref name="path"/> by reading it through, which also validates every row
    /// before any time is spent embedding.
    /// </summary>
    public static long Count(string path, EmbedInputFormat format, string column = DefaultColumn, CancellationToken cancellationToken = default)
    {
        long rows = 0;
        foreach (string _ in Read(path, format, column))
        {
            if ((++rows & 0xFFF) == 0) cancellationToken.ThrowIfCancellationRequested();
        }
        return rows;
    }

    internal static StreamReader OpenText(string path)
    {
        if (Directory.Exists(path))
            throw new FileNotFoundException($"Input '{path}' is a directory, not a file.", path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Input file '{path}' not found.", path);
        // UTF-8 with BOM detection (a BOM for UTF-16/32 switches the decoding); invalid bytes become U+FFFD.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        return new StreamReader(stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
    }
}
