using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Tokenization;
using MlPipelines.ManagedEngine.Tokenization.HuggingFace;

namespace MlPipelines.ManagedEngine.Loading;

/// <summary>Opens a tokenizer file of either kind, and finds the tokenizer that belongs to a model.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// The names <see cref="FindBeside"/> tries, in order ({0} is the vocabulary size). tokenizer.json comes
    /// last: a Hugging Face directory that also ships a SentencePiece tokenizer.model is read through that.
    /// </summary>
    private static readonly string[] Candidates = ["tokenizer.bin", "tokenizer.model", "tok{0}.bin", "tok{0}.model", "tokenizer.json"];

    /// <summary>
    /// Loads a llama2.c <c>tokenizer.bin</c>, a SentencePiece <c>.model</c>, a Hugging Face <c>tokenizer.json</c>
    /// (see <see cref="HuggingFaceTokenizer"/>) or the tokenizer inside a GGUF file (see <see cref="GgufTokenizer"/>),
    /// telling them apart by content: a tokenizer.bin is an int32 max_token_length followed by (score, length, bytes)
    /// records that end exactly at the end of the file; a ModelProto starts with the tag of field 1 (0x0A); a
    /// tokenizer.json is a JSON object (its first non-blank byte is '{') with a "model".
    /// If two readings are possible the extension decides (".model" → SentencePiece, ".json" → tokenizer.json).
    /// </summary>
    /// <param name="path">The tokenizer file.</param>
    /// <param name="expectedVocabSize">If given, the vocabulary size the file must have.</param>
    /// <exception cref="InvalidDataException">The file is neither kind, or is a corrupt one.</exception>
    /// <exception cref="NotSupportedException">A SentencePiece model this library cannot reproduce exactly.</exception>
    public static PieceTokenizer Load(string path, int? expectedVocabSize = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (GgufFile.HasMagic(path))
        {
            // A GGUF model (or vocabulary-only file) carries its tokenizer; read it without loading the file whole.
            PieceTokenizer embedded = GgufTokenizer.Load(path);
            if (expectedVocabSize is int expected && embedded.VocabularySize != expected)
                throw new InvalidDataException($"'{path}': its tokenizer has {embedded.VocabularySize} tokens; the model expects {expected}.");
            return embedded;
        }
        bool jsonHint = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        if (jsonHint) return HuggingFaceTokenizer.Load(path, expectedVocabSize);
        byte[] data = TokenizerFiles.ReadAll(path);
        if (data.Length == 0) throw new InvalidDataException($"'{path}' is empty; expected a llama2.c tokenizer.bin, a SentencePiece .model or a tokenizer.json.");

        bool binShape = Llama2cTokenizer.HasTokenizerBinShape(data);
        if (!binShape && StartsLikeJsonObject(data))
        {
            if (data.Length > TokenizerFiles.MaxJsonBytes)
                throw new InvalidDataException($"'{path}' is {data.Length} bytes; a tokenizer.json is expected to be at most {TokenizerFiles.MaxJsonBytes} bytes.");
            return TokenizerJsonReader.Read(data, path, TokenizerConfig.ReadBeside(path), expectedVocabSize, parseSpecialTokens: false);
        }
        bool protoShape = data[0] == 0x0A;
        bool modelHint = path.EndsWith(".model", StringComparison.OrdinalIgnoreCase);
        bool binHint = path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase);

        bool asModel = (protoShape, binShape) switch
        {
            (true, false) => true,
            (false, true) => false,
            (true, true) => modelHint,
            // Neither shape: let the reader the extension points at explain what is wrong.
            _ => modelHint || !binHint && data[0] == 0x0A,
        };
        if (!protoShape && !binShape && !modelHint && !binHint)
            throw new InvalidDataException($"'{path}' is neither a llama2.c tokenizer.bin (int32 max_token_length, then score/length/bytes records to the end of the file), a SentencePiece .model (protobuf ModelProto) nor a tokenizer.json (a JSON object).");

        return asModel
            ? SentencePieceModelTokenizer.FromBytes(data, path, expectedVocabSize)
            : Llama2cTokenizer.FromBytes(data, path, expectedVocabSize);
    }

    /// <summary>A JSON object: '{' after optional whitespace and UTF-8 byte order mark.</summary>
    private static bool StartsLikeJsonObject(ReadOnlySpan<byte> data)
    {
        if (data.StartsWith("\uFEFF"u8)) data = data[3..];
        foreach (byte b in data)
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') continue;
            return b == (byte)'{';
        }
        return false;
    }

    /// <summary>
    /// Finds the tokenizer for a model: in the model file's directory (or in <paramref name="modelPath"/>
    /// itself if it is a directory), the first of tokenizer.bin, tokenizer.model,
    /// tok{vocabSize}.bin, tok{vocabSize}.model, tokenizer.json that exists; null if none does.
    /// </summary>
    public static string? FindBeside(string modelPath, int vocabSize)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        string? directory = Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath));
        if (directory is null) return null;
        foreach (string pattern in Candidates)
        {
            string candidate = Path.Combine(directory, string.Format(System.Globalization.CultureInfo.InvariantCulture, pattern, vocabSize));
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
