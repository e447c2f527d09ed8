using System.Text;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;

namespace MlPipelines.ManagedEngine.Formats.Gguf;

/// <summary>
/// A tokenizer as GGUF's <c>tokenizer.ggml.*</c> metadata, in the form llama.cpp's converter writes and llama.cpp (and
/// <see cref="GgufTokenizer"/>) read back: a byte-level BPE <c>tokenizer.json</c> becomes <c>gpt2</c> (tokens, types,
/// merges and the <c>pre</c> name whose pre-tokenization matches), a SentencePiece <c>.model</c> becomes <c>llama</c>
/// (pieces, scores, types).
/// </summary>
internal sealed class GgufVocabulary
{
    // GGUF token types (llama.cpp's llama_token_type).
    private const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;

    private readonly Action<GgufWriter> _write;
    private readonly IReadOnlyList<string> _tokens;

    private GgufVocabulary(IReadOnlyList<string> tokens, Action<GgufWriter> write)
    {
        _tokens = tokens;
        _write = write;
    }

    /// <summary>Number of tokens.</summary>
    public int Count => _tokens.Count;

    /// <summary>The id of the token whose text is <paramref name="text"/>, or null.</summary>
    public int? Find(string text)
    {
        for (int id = 0; id < _tokens.Count; id++)
            if (_tokens[id] == text) return id;
        return null;
    }

    /// <summary>Adds the tokenizer's metadata.</summary>
    public void WriteTo(GgufWriter writer) => _write(writer);

    /// <summary>Reads a tokenizer.json (byte-level BPE), a SentencePiece <c>.model</c>, or the vocabulary inside a GGUF file.</summary>
    /// <exception cref="NotSupportedException">Another kind of tokenizer, or a pre-tokenizer llama.cpp has no name for.</exception>
    public static GgufVocabulary FromFile(string path)
    {
        if (GgufFile.HasMagic(path))
            return FromGguf(path);
        if (Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase))
            return FromTokenizerJson(HuggingFaceTokenizer.Load(path), path);
        if (Path.GetExtension(path).Equals(".model", StringComparison.OrdinalIgnoreCase))
            return FromSentencePiece(SentencePieceModelProto.Parse(File.ReadAllBytes(path), path));
        throw new NotSupportedException($"'{path}': a GGUF vocabulary can be written from a tokenizer.json (byte-level BPE), a SentencePiece .model or another GGUF file, not from this file.");
    }

    private static GgufVocabulary FromTokenizerJson(HuggingFaceTokenizer tokenizer, string path)
    {
        if (!tokenizer.IsByteLevel || tokenizer.Normalizers.Count > 0)
            throw new NotSupportedException($"'{path}' is not a byte-level BPE tokenizer.json; SentencePiece-style vocabularies go into GGUF from their tokenizer.model.");
        string pre = MatchingPreTokenizer(tokenizer)
            ?? throw new NotSupportedException($"'{path}': its pre-tokenizer splits text unlike any llama.cpp pre-tokenizer this library writes " +
                $"({string.Join(", ", GgufByteLevelVocabulary.PreTokenizerNames)}).");
        var tokens = new string[tokenizer.VocabularySize];
        var types = new int[tokens.Length];
        for (int id = 0; id < tokens.Length; id++)
        {
            string text = tokenizer.GetToken(id);
            (tokens[id], types[id]) = text.Length == 0 ? ($"[PAD{id}]", Unused) : (text, Normal);
        }
        foreach (AddedToken added in tokenizer.AddedTokenList())
            types[added.Id] = added.Special ? Control : UserDefined;
        List<string> merges = tokenizer.Model.MergesInRankOrder();
        return new GgufVocabulary(tokens, w =>
        {
            w.String("tokenizer.ggml.model", GgufByteLevelVocabulary.Model)
                .String("tokenizer.ggml.pre", pre)
                .Strings("tokenizer.ggml.tokens", tokens)
                .Int32s("tokenizer.ggml.token_type", types)
                .Strings("tokenizer.ggml.merges", merges)
                .Bool("tokenizer.ggml.add_bos_token", tokenizer.AddBeginningOfSentence)
                .Bool("tokenizer.ggml.add_eos_token", tokenizer.AddEndOfSentence);
            if (tokenizer.BosId >= 0) w.UInt32("tokenizer.ggml.bos_token_id", (uint)tokenizer.BosId);
            if (tokenizer.EosId >= 0) w.UInt32("tokenizer.ggml.eos_token_id", (uint)tokenizer.EosId);
        });
    }

    /// <summary>
    /// The llama.cpp pre-tokenizer that splits a probe text exactly as the tokenizer's own pre-tokenizer does (llama.cpp's
    /// converter identifies it the same way: by the ids a probe text encodes to, not by the regex's spelling).
    /// </summary>
    private static string? MatchingPreTokenizer(HuggingFaceTokenizer tokenizer)
    {
        int[] expected = tokenizer.Encode(Probe, addBos: false, addEos: false, parseSpecialTokens: false);
        foreach (string pre in GgufByteLevelVocabulary.PreTokenizerNames)
        {
            var steps = GgufByteLevelVocabulary.PreTokenizerSteps(pre, tokenizer.SourceName)!;
            if (tokenizer.WithPreTokenizers(steps).Encode(Probe, false, false, false).AsSpan().SequenceEqual(expected))
                return pre;
        }
        return null;
    }

    // Text on which the pre-tokenizers differ: runs of digits, contractions in both cases, punctuation runs, newlines and
    // tabs, leading spaces, and letters of several scripts and emoji.
    private const string Probe = "\n \n\n \t\t x\r\n  y   z\n\n\n 1 12 123 1234 12345 3.14 1,000 x2y ١٢٣ I'm you'RE we'Ve he'd they'LL it's " +
        "'tis ''' \"\"\" ... ?!?! ---=== (a) [b] {c} <d> $5 100% a+b=c ^~| Ünïcödé naïve café Привет мир Γειά 你好世界 こんにちは " +
        "안녕하세요 مرحبا שלום नमस्ते 🙂🙂 🦙 👩‍💻 \u00a0nbsp\u2003em   trailing   ";

    /// <summary>Every <c>tokenizer.ggml.*</c> key of another GGUF file, copied as it is (a re-quantised file keeps its vocabulary).</summary>
    private static GgufVocabulary FromGguf(string path)
    {
        using GgufFile file = GgufFile.Open(path);
        string[] tokens = file.GetStringArray("tokenizer.ggml.tokens") ?? throw file.Missing("tokenizer.ggml.tokens", "an ARRAY of STRING");
        var keys = file.Metadata.Where(p => p.Key.StartsWith("tokenizer.ggml.", StringComparison.Ordinal)).ToList();
        return new GgufVocabulary(tokens, w =>
        {
            foreach (var (key, value) in keys)
            {
                switch (value)
                {
                    case string text: w.String(key, text); break;
                    case string[] texts: w.Strings(key, texts); break;
                    case int[] ints: w.Int32s(key, ints); break;
                    case float[] floats: w.Float32s(key, floats); break;
                    case uint u: w.UInt32(key, u); break;
                    case int i: w.Int32(key, i); break;
                    case float f: w.Float32(key, f); break;
                    case bool b: w.Bool(key, b); break;
                    default: throw new NotSupportedException($"{path}: metadata '{key}' of type {value.GetType().Name} cannot be copied.");
                }
            }
        });
    }

    private static GgufVocabulary FromSentencePiece(SentencePieceModelProto proto)
    {
        var tokens = proto.Pieces.Select(p => Encoding.UTF8.GetString(p)).ToArray();
        var types = proto.Types.Select(t => (int)t).ToArray();
        var scores = proto.Scores.ToArray();
        return new GgufVocabulary(tokens, w =>
        {
            w.String("tokenizer.ggml.model", "llama")
                .Strings("tokenizer.ggml.tokens", tokens)
                .Float32s("tokenizer.ggml.scores", scores)
                .Int32s("tokenizer.ggml.token_type", types)
                .Bool("tokenizer.ggml.add_space_prefix", proto.AddDummyPrefix)
                .UInt32("tokenizer.ggml.unknown_token_id", (uint)proto.UnkId);
            if (proto.BosId >= 0) w.UInt32("tokenizer.ggml.bos_token_id", (uint)proto.BosId);
            if (proto.EosId >= 0) w.UInt32("tokenizer.ggml.eos_token_id", (uint)proto.EosId);
        });
    }
}
