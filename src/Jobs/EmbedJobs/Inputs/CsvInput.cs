using System.Text;

namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// CSV as RFC 4180 describes it: a header row naming the columns; fields separated by commas; a field
/// in double quotes may hold commas, line breaks and doubled quotes (<c>""</c> is one <c>"</c>). Line
/// breaks may be \n, \r\n or \r. Empty lines are skipped (a trailing one is common); a record whose field
/// count differs from the header's is an error, since it usually means a quoting mistake that would
/// otherwise shift every later text.
/// </summary>
internal static class CsvInput
{
    public static IEnumerable<string> Read(string path, string column)
    {
        using StreamReader stream = EmbedInputs.OpenText(path);
        var reader = new CsvRecordReader(stream, path);
        var fields = new List<string>();
        if (!reader.ReadRecord(fields))
            throw new InvalidDataException($"{path}: the file is empty; expected a header row naming a column '{column}'.");
        int width = fields.Count;
        int index = fields.IndexOf(column);
        if (index < 0)
            throw new InvalidDataException(
                $"{path}: line 1: the header has no column '{column}' (columns: {string.Join(", ", fields.Take(20))}); choose one (EmbedJobOptions.Column).");
        while (reader.ReadRecord(fields))
        {
            if (fields.Count != width)
                throw new InvalidDataException(
                    $"{path}: line {reader.RecordLine}: the record has {fields.Count} field(s) but the header has {width}; check the quoting (a quote inside a quoted field is written \"\").");
            yield return fields[index];
        }
    }
}

/// <summary>Splits a character stream into CSV records, tracking the line each record starts on.</summary>
internal sealed class CsvRecordReader(TextReader reader, string path)
{
    private readonly StringBuilder _field = new();
    private long _line = 1;

    /// <summary>The 1-based line on which the last record read starts.</summary>
    public long RecordLine { get; private set; }

    public bool ReadRecord(List<string> fields)
    {
        fields.Clear();
        int ch = reader.Read();
        while (ch is '\r' or '\n')   // empty lines
        {
            EndOfLine(ch);
            ch = reader.Read();
        }
        if (ch == -1)
            return false;
        RecordLine = _line;
        while (true)
        {
            _field.Clear();
            ch = ch == '"' ? ReadQuoted() : ReadUnquoted(ch);
            fields.Add(_field.ToString());
            if (ch == ',')
            {
                ch = reader.Read();
                continue;
            }
            if (ch != -1)
                EndOfLine(ch);
            return true;
        }
    }

    // Returns the character after the field (',', '\r', '\n' or -1).
    private int ReadUnquoted(int ch)
    {
        // A quote inside an unquoted field is kept as text: lenient like most spreadsheets, and unambiguous.
        while (ch is not (',' or '\r' or '\n' or -1))
        {
            _field.Append((char)ch);
            ch = reader.Read();
        }
        return ch;
    }

    private int ReadQuoted()
    {
        long opened = _line;
        while (true)
        {
            int ch = reader.Read();
            if (ch == -1)
                throw new InvalidDataException($"{path}: line {opened}: a quoted field is never closed (missing '\"' before the end of the file).");
            if (ch == '"')
            {
                ch = reader.Read();
                if (ch == '"')
                {
                    _field.Append('"');
                    continue;
                }
                if (ch is not (',' or '\r' or '\n' or -1))
                    throw new InvalidDataException(
                        $"{path}: line {_line}: unexpected '{(char)ch}' after the closing quote of a field; expected ',' or the end of the line (write a quote inside a quoted field as \"\").");
                return ch;
            }
            if (ch == '\n' || (ch == '\r' && reader.Peek() != '\n'))
                _line++;
            _field.Append((char)ch);
        }
    }

    // Finishes the line break that starts with ch (a \r may be followed by \n).
    private void EndOfLine(int ch)
    {
        _line++;
        if (ch == '\r' && reader.Peek() == '\n')
            reader.Read();
    }
}
