using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// The tokenizer embedded in a GGUF file, for <c>tokenizer.ggml.model = "llama"</c> (SentencePiece
/// BPE, as Llama 1/2, Mistral and TinyLlama use): it encodes and decodes exactly as the
/// <see cref="SentencePieceModelTokenizer"/> of the original <c>tokenizer.model</c> does; and for
/// <c>"gpt2"</c> (byte-level BPE, as Llama 3 uses) a <see cref="Tokenization.HuggingFace.HuggingFaceTokenizer"/>
/// that encodes as llama.cpp does (see <see cref="GgufByteLevelVocabulary"/>).
/// </summary>
/// <remarks>
/// Read from <c>tokenizer.ggml.tokens</c> (pieces, '▁' for a space), <c>tokenizer.ggml.scores</c>
/// (merge priorities), <c>tokenizer.ggml.token_type</c> (1 normal, 2 unknown, 3 control,
/// 4 user-defined, 5 unused, 6 byte), the ids <c>tokenizer.ggml.unknown_token_id</c> (default 0),
/// <c>bos_token_id</c> (1), <c>eos_token_id</c> (2) and <c>padding_token_id</c> (none), and the flags
/// <c>tokenizer.ggml.add_bos_token</c> (true), <c>add_eos_token</c> (false) and
/// <c>add_space_prefix</c> (true). GGUF stores no normalizer, so llama.cpp's is assumed: spaces
/// escaped, whitespace kept as is, and byte fallback when the vocabulary has byte pieces. The piece
/// at the unknown id counts as sentencepiece's unknown piece even when the file types it control.
/// </remarks>
public static class GgufTokenizer
{
    /// <summary>The <c>tokenizer.ggml.model</c> value this reader handles.</summary>
    public const string SentencePieceModel = "llama";

    /// <summary>Reads the tokenizer of the GGUF file at <paramref name="path"/> (a model or a vocabulary-only file).</summary>
    /// <exception cref="InvalidDataException">The file is malformed, or its tokenizer arrays are missing or inconsistent.</exception>
    /// <exception cref="NotSupportedException">The tokenizer is neither SentencePiece BPE ("llama") nor byte-level BPE ("gpt2"), or its pre-tokenizer is unknown.</exception>
    public static PieceTokenizer Load(string path)
    {
        using GgufFile file = GgufFile.Open(path);
        return file.GetString("tokenizer.ggml.model") == GgufByteLevelVocabulary.Model
            ? GgufByteLevelVocabulary.FromFile(file)
            : FromFile(file);
    }

    internal static SentencePieceModelTokenizer FromFile(GgufFile f)
    {
        string model = f.GetString("tokenizer.ggml.model")
            ?? throw f.Missing("tokenizer.ggml.model", "\"llama\" (the file holds no tokenizer)");
        if (model != SentencePieceModel)
            throw new NotSupportedException($"{f.Path}: tokenizer.ggml.model is '{model}'; only '{SentencePieceModel}' (SentencePiece BPE) and '{GgufByteLevelVocabulary.Model}' (byte-level BPE) tokenizers are supported.");

        string[] tokens = f.GetStringArray("tokenizer.ggml.tokens") ?? throw f.Missing("tokenizer.ggml.tokens", "an ARRAY of STRING");
        float[] scores = f.GetFloatArray("tokenizer.ggml.scores") ?? throw f.Missing("tokenizer.ggml.scores", "an ARRAY of FLOAT32 (BPE merge priorities)");
        int[] types = f.GetInt32Array("tokenizer.ggml.token_type") ?? throw f.Missing("tokenizer.ggml.token_type", "an ARRAY of INT32");
        if (tokens.Length == 0) throw f.Invalid("tokenizer.ggml.tokens", "is empty");
        if (scores.Length != tokens.Length) throw f.Invalid("tokenizer.ggml.scores", $"holds {scores.Length} values for {tokens.Length} tokens");
        if (types.Length != tokens.Length) throw f.Invalid("tokenizer.ggml.token_type", $"holds {types.Length} values for {tokens.Length} tokens");

        int last = tokens.Length - 1;
        int unk = f.GetInt32("tokenizer.ggml.unknown_token_id", 0, last) ?? 0;
        int bos = f.GetInt32("tokenizer.ggml.bos_token_id", -1, last) ?? 1;
        int eos = f.GetInt32("tokenizer.ggml.eos_token_id", -1, last) ?? 2;
        int pad = f.GetInt32("tokenizer.ggml.padding_token_id", -1, last) ?? -1;
        bool byteFallback = types.Contains((int)PieceType.Byte);
        if (types[unk] == (int)PieceType.Control)
        {
            // llama.cpp's Hugging Face converter types every special added token CONTROL, <unk> included
            // (Phi-3's vocabulary, for one); sentencepiece's own model has it UNKNOWN, which is what encoding
            // and decoding need.
            types = (int[])types.Clone();
            types[unk] = (int)PieceType.Unknown;
        }

        var proto = SentencePieceModelProto.FromVocabulary(f.Path, tokens, scores, types, unk, bos, eos, pad,
            addDummyPrefix: f.GetBool("tokenizer.ggml.add_space_prefix") ?? true, byteFallback);
        return SentencePieceModelTokenizer.FromModel(proto, f.Path,
            addBeginningOfSentence: f.GetBool("tokenizer.ggml.add_bos_token") ?? true,
            addEndOfSentence: f.GetBool("tokenizer.ggml.add_eos_token") ?? false);
    }
}
