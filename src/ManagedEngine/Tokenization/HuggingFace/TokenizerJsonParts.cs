using System.Text.Json;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>The pieces of a tokenizer.json that both writers (byte-level and SentencePiece-style) emit the same way.</summary>
internal static class TokenizerJsonParts
{
    /// <summary>The writer options of both: indented, non-ASCII kept as it is (the vocabulary is UTF-8 text).</summary>
    public static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>One entry of <c>added_tokens</c>.</summary>
    public static void AddedToken(Utf8JsonWriter w, int id, string content, bool special, bool singleWord = false, bool lstrip = false, bool rstrip = false)
    {
        w.WriteStartObject();
        w.WriteNumber("id", id);
        w.WriteString("content", content);
        w.WriteBoolean("single_word", singleWord);
        w.WriteBoolean("lstrip", lstrip);
        w.WriteBoolean("rstrip", rstrip);
        w.WriteBoolean("normalized", false);
        w.WriteBoolean("special", special);
        w.WriteEndObject();
    }

    /// <summary>A <c>TemplateProcessing</c> post-processor adding <paramref name="prefix"/> and <paramref name="suffix"/> to a single sequence.</summary>
    public static void TemplateProcessing(Utf8JsonWriter w, int[] prefix, int[] suffix, Func<int, string> text)
    {
        w.WriteStartObject("post_processor");
        w.WriteString("type", "TemplateProcessing");
        w.WriteStartArray("single");
        foreach (int id in prefix) SpecialTokenPiece(w, text(id));
        w.WriteStartObject();
        w.WriteStartObject("Sequence");
        w.WriteString("id", "A");
        w.WriteNumber("type_id", 0);
        w.WriteEndObject();
        w.WriteEndObject();
        foreach (int id in suffix) SpecialTokenPiece(w, text(id));
        w.WriteEndArray();
        w.WriteStartArray("pair");
        w.WriteEndArray();
        w.WriteStartObject("special_tokens");
        foreach (int id in prefix.Concat(suffix).Distinct())
        {
            string token = text(id);
            w.WriteStartObject(token);
            w.WriteString("id", token);
            w.WriteStartArray("ids");
            w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteStartArray("tokens");
            w.WriteStringValue(token);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void SpecialTokenPiece(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteStartObject("SpecialToken");
        w.WriteString("id", text);
        w.WriteNumber("type_id", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
