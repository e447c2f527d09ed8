namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// CSV output: header <c>index,text,e0,…,e{d-1}</c>, then one row per text: the input row number, the text
/// (quoted as RFC 4180 requires when it holds a comma, quote or line break) and one column per dimension,
/// which is what spreadsheets and <c>pandas.read_csv</c> load without extra parsing.
/// </summary>
internal sealed class CsvEmbeddingSink : LineFileSink
{
    // writeHeader is false for a shard of a distributed job: its rows are appended to a file that has the header.
    public CsvEmbeddingSink(string path, int dimension, long committedBytes, bool writeHeader = true) : base(path, committedBytes)
    {
        if (IsNew && writeHeader) Writer.Write(Header(dimension));
    }

    /// <summary>The header line, <c>index,text,e0,…,e{d-1}</c> and its line break.</summary>
    public static string Header(int dimension) =>
        "index,text" + string.Concat(Enumerable.Range(0, dimension).Select(i => ",e" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "\n";

    public override void Write(long index, string text, ReadOnlySpan<float> vector)
    {
        WriteInteger(index);
        Writer.Write(',');
        WriteText(text);
        foreach (float value in vector)
        {
            Writer.Write(',');
            WriteFloat(value);
        }
        Writer.Write('\n');
    }

    private void WriteText(string text)
    {
        if (text.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            Writer.Write(text);
            return;
        }
        Writer.Write('"');
        int start = 0;
        for (int i = text.IndexOf('"'); i >= 0; i = text.IndexOf('"', start))
        {
            Writer.Write(text.AsSpan(start, i + 1 - start));
            Writer.Write('"');   // a quote inside a quoted field is doubled
            start = i + 1;
        }
        Writer.Write(text.AsSpan(start));
        Writer.Write('"');
    }
}
