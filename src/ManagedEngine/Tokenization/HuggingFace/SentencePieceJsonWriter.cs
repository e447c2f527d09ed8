using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>What a piece of a SentencePiece-style vocabulary is, for <see cref="SentencePieceJsonWriter"/>.</summary>
internal enum PieceKind
{
    /// <summary>A text piece that BPE may form by merging.</summary>
    Normal,
    /// <summary>The unknown piece.</summary>
    Unknown,
    /// <summary>A control piece (BOS, EOS): never formed from text.</summary>
    Control,
    /// <summary>A byte-fallback piece <c>&lt;0xXX&gt;</c>.</summary>
    Byte,
}

/// <summary>
/// A SentencePiece-style BPE vocabulary (a SentencePiece <c>.model</c> or a llama2.c <c>tokenizer.bin</c>) as the pieces,
/// scores and kinds <see cref="SentencePieceJsonWriter"/> needs. Pieces spell spaces as '▁' (U+2581).
/// </summary>
internal sealed record PieceVocabulary(string SourceName, IReadOnlyList<string> Pieces, IReadOnlyList<float> Scores,
    IReadOnlyList<PieceKind> Kinds, int UnkId, int BosId, int EosId, bool AddDummyPrefix, bool ByteFallback, bool AddBos, bool AddEos,
    bool RemoveExtraWhitespaces = false);

/// <summary>
/// Writes a SentencePiece-style BPE vocabulary as the Llama 2 form of tokenizer.json (what transformers' converter makes of
/// a <c>tokenizer.model</c>): a BPE model with byte fallback, a normalizer that prepends '▁' and turns spaces into '▁',
/// no pre-tokenizer, the <c>Replace</c>/<c>ByteFallback</c>/<c>Fuse</c>/<c>Strip</c> decoder, and a post-processor adding BOS
/// as the tokenizer does. Read back by <see cref="TokenizerJsonReader"/>, by Hugging Face's tokenizers and by
/// onnxruntime-genai.
/// </summary>
/// <remarks>
/// SentencePiece's BPE has no merge list: it merges the adjacent pair whose concatenation is the best-scoring piece. A
/// tokenizer.json needs ranked merges, so every split of every normal piece into two pieces becomes a merge, ranked by the
/// merged piece's score (then its id). That is the same choice at every step except where two different splits of one
/// piece are both possible at different places of a text: SentencePiece then takes the leftmost, the merge list the
/// better-ranked split (transformers' own conversion has the same property).
/// </remarks>
internal static class SentencePieceJsonWriter
{
    private const string Space = "\u2581";

    private static JsonWriterOptions Options => TokenizerJsonParts.Options;

    public static byte[] Write(PieceVocabulary v)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            WriteAddedTokens(w, v);
            WriteNormalizer(w, v);
            w.WriteNull("pre_tokenizer");
            WritePostProcessor(w, v);
            WriteDecoder(w, v);
            WriteModel(w, v);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>The tokenizer_config.json beside it: the BOS/EOS/UNK tokens and whether BOS/EOS are added.</summary>
    public static byte[] WriteConfig(PieceVocabulary v)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            w.WriteString("tokenizer_class", "LlamaTokenizerFast");
            if (v.BosId >= 0) w.WriteString("bos_token", v.Pieces[v.BosId]);
            if (v.EosId >= 0) w.WriteString("eos_token", v.Pieces[v.EosId]);
            if (v.UnkId >= 0) w.WriteString("unk_token", v.Pieces[v.UnkId]);
            w.WriteBoolean("add_bos_token", v.AddBos);
            w.WriteBoolean("add_eos_token", v.AddEos);
            w.WriteBoolean("legacy", true);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void WriteAddedTokens(Utf8JsonWriter w, PieceVocabulary v)
    {
        w.WriteStartArray("added_tokens");
        for (int id = 0; id < v.Pieces.Count; id++)
        {
            if (v.Kinds[id] is PieceKind.Unknown or PieceKind.Control)
                TokenizerJsonParts.AddedToken(w, id, v.Pieces[id], special: true);
        }
        w.WriteEndArray();
    }

    /// <summary>
    /// The Llama 2 normalizer, plus SentencePiece's <c>remove_extra_whitespaces</c> as regex replacements where the model
    /// asks for it: leading spaces dropped, runs of spaces made one, and trailing '▁' (spaces, or '▁' typed in the text)
    /// dropped after the dummy prefix is added. <c>\A</c> and <c>\z</c> anchor at the ends of the text in .NET and in
    /// Oniguruma alike (their <c>^</c> and <c>$</c> differ at line breaks).
    /// </summary>
    private static void WriteNormalizer(Utf8JsonWriter w, PieceVocabulary v)
    {
        w.WriteStartObject("normalizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("normalizers");
        if (v.RemoveExtraWhitespaces)
        {
            Replace(w, "Regex", @"\A +", "");
            Replace(w, "Regex", " {2,}", " ");
        }
        if (v.AddDummyPrefix)
        {
            w.WriteStartObject();
            w.WriteString("type", "Prepend");
            w.WriteString("prepend", Space);
            w.WriteEndObject();
        }
        Replace(w, "String", " ", Space);
        if (v.RemoveExtraWhitespaces)
            Replace(w, "Regex", Space + @"+\z", "");
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>A <c>Replace</c> step (normalizer or decoder) whose pattern is a <c>String</c> or a <c>Regex</c>.</summary>
    private static void Replace(Utf8JsonWriter w, string patternKind, string pattern, string content)
    {
        w.WriteStartObject();
        w.WriteString("type", "Replace");
        w.WriteStartObject("pattern");
        w.WriteString(patternKind, pattern);
        w.WriteEndObject();
        w.WriteString("content", content);
        w.WriteEndObject();
    }

    private static void WritePostProcessor(Utf8JsonWriter w, PieceVocabulary v)
    {
        var prefix = v.AddBos && v.BosId >= 0 ? new[] { v.BosId } : [];
        var suffix = v.AddEos && v.EosId >= 0 ? new[] { v.EosId } : [];
        TokenizerJsonParts.TemplateProcessing(w, prefix, suffix, id => v.Pieces[id]);
    }

    private static void WriteDecoder(Utf8JsonWriter w, PieceVocabulary v)
    {
        w.WriteStartObject("decoder");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("decoders");
        Replace(w, "String", Space, " ");
        if (v.ByteFallback)
        {
            w.WriteStartObject();
            w.WriteString("type", "ByteFallback");
            w.WriteEndObject();
        }
        w.WriteStartObject();
        w.WriteString("type", "Fuse");
        w.WriteEndObject();
        if (v.AddDummyPrefix)
        {
            w.WriteStartObject();
            w.WriteString("type", "Strip");
            w.WriteString("content", " ");
            w.WriteNumber("start", 1);
            w.WriteNumber("stop", 0);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter w, PieceVocabulary v)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        if (v.UnkId >= 0) w.WriteString("unk_token", v.Pieces[v.UnkId]); else w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", true);
        w.WriteBoolean("byte_fallback", v.ByteFallback);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int id = 0; id < v.Pieces.Count; id++)
            if (seen.Add(v.Pieces[id]))
                w.WriteNumber(v.Pieces[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in Merges(v))
            w.WriteStringValue(left + " " + right);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Every split of a normal piece into two normal pieces, best-scoring merged piece first.</summary>
    internal static IEnumerable<(string Left, string Right)> Merges(PieceVocabulary v)
    {
        var normal = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < v.Pieces.Count; id++)
            if (v.Kinds[id] == PieceKind.Normal)
                normal.TryAdd(v.Pieces[id], id);
        var merges = new List<(float Score, int Id, int Split, string Left, string Right)>();
        foreach (var (piece, id) in normal)
        {
            if (piece.Contains(' ', StringComparison.Ordinal))
                throw new NotSupportedException($"'{v.SourceName}': piece {id} contains a space, which a tokenizer.json merge cannot hold.");
            // Splits at text-element boundaries only: a surrogate pair stays whole, as the BPE's characters do.
            for (int split = 1; split < piece.Length; split++)
            {
                if (char.IsLowSurrogate(piece[split])) continue;
                string left = piece[..split], right = piece[split..];
                if (normal.ContainsKey(left) && normal.ContainsKey(right))
                    merges.Add((v.Scores[id], id, split, left, right));
            }
        }
        return merges.OrderByDescending(m => m.Score).ThenBy(m => m.Id).ThenBy(m => m.Split).Select(m => (m.Left, m.Right));
    }

    /// <summary>A byte-fallback piece's text for byte <paramref name="value"/>: <c>&lt;0xXX&gt;</c>.</summary>
    public static string BytePiece(int value) => string.Create(CultureInfo.InvariantCulture, $"<0x{value:X2}>");

    /// <summary>A piece as UTF-8 bytes with spaces spelled as '▁' (llama2.c writes them as spaces).</summary>
    public static string SpacesAsMeta(ReadOnlySpan<byte> piece) => Encoding.UTF8.GetString(piece).Replace(" ", Space, StringComparison.Ordinal);
}
