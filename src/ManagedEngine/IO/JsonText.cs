using System.Text.Json;
using System.Text.Unicode;

namespace MlPipelines.ManagedEngine.IO;

/// <summary>
/// Checks that every string of a parsed JSON document can be read. <see cref="JsonDocument"/> accepts invalid UTF-8
/// inside strings and unpaired surrogate escapes (<c>"\ud800"</c>) while parsing, and only fails, with an
/// <see cref="InvalidOperationException"/>, when such a name or value is decoded; a reader that checks here first turns
/// that into its own error naming the file.
/// </summary>
internal static class JsonText
{
    /// <summary>Throws <paramref name="error"/>(what is wrong) when <paramref name="utf8"/>, parsed as <paramref name="root"/>, holds a string that cannot be decoded.</summary>
    public static void CheckStrings(ReadOnlySpan<byte> utf8, JsonElement root, Func<string, Exception> error)
    {
        if (!Utf8.IsValid(utf8))
            throw error("is not valid UTF-8");
        // Only an escape of a UTF-16 surrogate (\uD800-\uDFFF) can still fail to decode: walk the document only then.
        if (HasSurrogateEscape(utf8))
        {
            try
            {
                DecodeAll(root);
            }
            catch (InvalidOperationException e)
            {
                throw error($"holds a string that cannot be decoded ({e.Message})");
            }
        }
    }

    private static bool HasSurrogateEscape(ReadOnlySpan<byte> utf8)
    {
        for (int i = utf8.IndexOf("\\u"u8); i >= 0 && i + 3 < utf8.Length; i = utf8[(i + 2)..].IndexOf("\\u"u8) is var next and >= 0 ? i + 2 + next : -1)
            if (utf8[i + 2] is (byte)'d' or (byte)'D' && utf8[i + 3] is >= (byte)'8' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F')
                return true;
        return false;
    }

    private static void DecodeAll(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty p in element.EnumerateObject())
                {
                    _ = p.Name;
                    DecodeAll(p.Value);
                }
                break;
            case JsonValueKind.Array:
                foreach (JsonElement item in element.EnumerateArray())
                    DecodeAll(item);
                break;
            case JsonValueKind.String:
                element.GetString();
                break;
        }
    }
}
