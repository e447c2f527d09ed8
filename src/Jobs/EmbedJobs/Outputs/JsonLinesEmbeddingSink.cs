namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// JSON Lines output: <c>{"index":i,"text":"…","embedding":[…]}</c> per row. Non-ASCII text is written as
/// is (UTF-8), only what JSON requires is escaped. JSON has no NaN or infinity, so a non-finite value
/// (only a broken model produces one) is written as <c>null</c>.
/// </summary>
internal sealed class JsonLinesEmbeddingSink(string path, long committedBytes) : LineFileSink(path, committedBytes)
{
    public override void Write(long index, string text, ReadOnlySpan<float> vector)
    {
        Writer.Write("{\"index\":");
        WriteInteger(index);
        Writer.Write(",\"text\":");
        WriteString(text);
        Writer.Write(",\"embedding\":[");
        for (int i = 0; i < vector.Length; i++)
        {
            if (i > 0) Writer.Write(',');
            if (float.IsFinite(vector[i])) WriteFloat(vector[i]);
            else Writer.Write("null");
        }
        Writer.Write("]}\n");
    }

    private void WriteString(string text)
    {
        Writer.Write('"');
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c >= 0x20 && c != '"' && c != '\\')
                continue;
            Writer.Write(text.AsSpan(start, i - start));
            start = i + 1;
            switch (c)
            {
                case '"': Writer.Write("\\\""); break;
                case '\\': Writer.Write("\\\\"); break;
                case '\n': Writer.Write("\\n"); break;
                case '\r': Writer.Write("\\r"); break;
                case '\t': Writer.Write("\\t"); break;
                default:
                    Writer.Write("\\u00");
                    Writer.Write("0123456789abcdef"[c >> 4]);
                    Writer.Write("0123456789abcdef"[c & 0xF]);
                    break;
            }
        }
        Writer.Write(text.AsSpan(start));
        Writer.Write('"');
    }
}
