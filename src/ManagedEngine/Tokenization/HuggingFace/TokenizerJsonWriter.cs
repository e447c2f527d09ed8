using System.Text.Json;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>
/// Writes a byte-level BPE <see cref="HuggingFaceTokenizer"/> (such as one read from a GGUF <c>gpt2</c> vocabulary) as a
/// tokenizer.json that Hugging Face's tokenizers library, onnxruntime-genai and <see cref="TokenizerJsonReader"/> read back to
/// the same encoding: the BPE model with its merges in rank order, the added tokens, the pre-tokenizer's regex splits and
/// <c>ByteLevel</c>, the <c>ByteLevel</c> decoder, and a <c>TemplateProcessing</c> post-processor with the BOS/EOS it adds.
/// </summary>
internal static class TokenizerJsonWriter
{
    /// <exception cref="NotSupportedException">The tokenizer has normalizers or pre-tokenizer steps other than splits and ByteLevel.</exception>
    public static byte[] Write(HuggingFaceTokenizer tokenizer)
    {
        if (!tokenizer.IsByteLevel || tokenizer.Normalizers.Count > 0)
            throw new NotSupportedException($"'{tokenizer.SourceName}': only byte-level BPE tokenizers without normalizers can be written as tokenizer.json.");
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, TokenizerJsonParts.Options))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            WriteAddedTokens(w, tokenizer);
            w.WriteNull("normalizer");
            WritePreTokenizer(w, tokenizer);
            WritePostProcessor(w, tokenizer);
            w.WriteStartObject("decoder");
            w.WriteString("type", "ByteLevel");
            w.WriteBoolean("add_prefix_space", true);
            w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
            WriteModel(w, tokenizer);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// A tokenizer_config.json naming the BOS/EOS tokens (a tokenizer.json alone cannot say which ids they are unless its
    /// post-processor adds them), whether they are added, and the chat template if there is one.
    /// </summary>
    public static byte[] WriteConfig(HuggingFaceTokenizer tokenizer, string? chatTemplate)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, TokenizerJsonParts.Options))
        {
            w.WriteStartObject();
            w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            if (tokenizer.BosId >= 0) w.WriteString("bos_token", tokenizer.GetToken(tokenizer.BosId));
            if (tokenizer.EosId >= 0) w.WriteString("eos_token", tokenizer.GetToken(tokenizer.EosId));
            w.WriteBoolean("add_bos_token", tokenizer.AddBeginningOfSentence);
            w.WriteBoolean("add_eos_token", tokenizer.AddEndOfSentence);
            if (chatTemplate is not null) w.WriteString("chat_template", chatTemplate);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static void WriteAddedTokens(Utf8JsonWriter w, HuggingFaceTokenizer tokenizer)
    {
        w.WriteStartArray("added_tokens");
        foreach (AddedToken t in tokenizer.AddedTokenList())
            TokenizerJsonParts.AddedToken(w, t.Id, t.Content, t.Special, t.SingleWord, t.LStrip, t.RStrip);
        w.WriteEndArray();
    }

    private static void WritePreTokenizer(Utf8JsonWriter w, HuggingFaceTokenizer tokenizer)
    {
        w.WriteStartObject("pre_tokenizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        foreach (PreTokenizerStep step in tokenizer.PreTokenizers)
        {
            w.WriteStartObject();
            switch (step)
            {
                case SplitStep split:
                    w.WriteString("type", "Split");
                    w.WriteStartObject("pattern");
                    w.WriteString("Regex", split.Pattern.Pattern);
                    w.WriteEndObject();
                    w.WriteString("behavior", split.Behavior.ToString());
                    w.WriteBoolean("invert", split.Invert);
                    break;
                case ByteLevelStep byteLevel:
                    w.WriteString("type", "ByteLevel");
                    w.WriteBoolean("add_prefix_space", byteLevel.AddPrefixSpace);
                    w.WriteBoolean("trim_offsets", true);
                    w.WriteBoolean("use_regex", byteLevel.UsesGpt2Split);
                    break;
                default:
                    throw new NotSupportedException($"'{tokenizer.SourceName}': the pre-tokenizer step {step.GetType().Name} cannot be written as tokenizer.json.");
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The ids the tokenizer adds by default (BOS/EOS as its flags say) as a single-sequence template.</summary>
    private static void WritePostProcessor(Utf8JsonWriter w, HuggingFaceTokenizer tokenizer)
    {
        var (prefix, suffix) = tokenizer.PostProcessor;
        if (prefix.Length == 0 && tokenizer.AddBeginningOfSentence && tokenizer.BosId >= 0) prefix = [tokenizer.BosId];
        if (suffix.Length == 0 && tokenizer.AddEndOfSentence && tokenizer.EosId >= 0) suffix = [tokenizer.EosId];
        TokenizerJsonParts.TemplateProcessing(w, prefix, suffix, tokenizer.GetToken);
    }

    private static void WriteModel(Utf8JsonWriter w, HuggingFaceTokenizer tokenizer)
    {
        BpeModel model = tokenizer.Model;
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        if (model.UnkId >= 0) w.WriteString("unk_token", model.TokenText(model.UnkId)); else w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", model.FuseUnk);
        w.WriteBoolean("byte_fallback", model.ByteFallback);
        w.WriteBoolean("ignore_merges", model.IgnoreMerges);
        w.WriteStartObject("vocab");
        for (int id = 0; id < model.Size; id++)
            if (model.TokenText(id) is { } text && model.TryGetId(text, out int owner) && owner == id)
                w.WriteNumber(text, id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (string merge in model.MergesInRankOrder()) w.WriteStringValue(merge);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
