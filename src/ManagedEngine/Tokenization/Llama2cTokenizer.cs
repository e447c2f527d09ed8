using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>
/// The tokenizer of llama2.c: a <c>tokenizer.bin</c> vocabulary (pieces with real spaces, merge
/// scores) encoded exactly as run.c's <c>encode</c> and decoded as its <c>decode</c>.
/// </summary>
/// <remarks>
/// <para>File format: int32 max_token_length, then until the end of the file, per token: float32
/// score, int32 byte length, the piece's bytes. Ids 0, 1, 2 are unk, BOS, EOS, and ids 3..258 the
/// byte-fallback tokens (byte + 3), as run.c hard-codes.</para>
/// <para>Through the plain <see cref="Tokenizer"/> API, BOS is added by default (as Microsoft's
/// <see cref="LlamaTokenizer"/> does), EOS is not; normalization/pre-tokenization flags are ignored,
/// because encoding differently from run.c would produce ids the model never saw.</para>
/// <para>Where run.c is undefined or C-specific this class chooses: a vocabulary with duplicate pieces
/// resolves a lookup to the lowest id (run.c's unstable qsort + bsearch returns an arbitrary one; the
/// shipped vocabularies have no duplicates); pieces and text are compared as whole byte strings, so
/// a NUL character in the text is a normal character (run.c stops at it); if the vocabulary has no
/// " " piece, the dummy prefix is the byte-fallback token of ' ' (run.c would index vocab[-1]).</para>
/// </remarks>
public sealed class Llama2cTokenizer : PieceTokenizer
{
    /// <summary>Upper bound on max_token_length accepted from a file header.</summary>
    private const int MaxPieceLength = 1 << 16;

    /// <summary>Upper bound on the size of a tokenizer file that is read into memory.</summary>
    internal const long MaxFileBytes = 512L << 20;

    private const int ByteFallbackOffset = 3;
    private const float RunCMinScore = -1e10f; // run.c's initial best_score: merges must beat it

    private readonly byte[][] _pieces;
    private readonly string[] _pieceKeys;
    private readonly string[] _pieceText;
    private readonly float[] _scores;
    private readonly PieceIndex _index = new();
    private readonly RunCPieceTable _table;
    private readonly int _dummyPrefixId;

    private Llama2cTokenizer(List<byte[]> pieces, List<float> scores, int maxTokenLength, string name,
        bool addBeginningOfSentence, bool addEndOfSentence)
        : base(addBeginningOfSentence, addEndOfSentence)
    {
        _pieces = pieces.ToArray();
        _scores = scores.ToArray();
        _pieceKeys = new string[_pieces.Length];
        _pieceText = new string[_pieces.Length];
        for (int id = 0; id < _pieces.Length; id++)
        {
            _pieceKeys[id] = PieceIndex.Key(_pieces[id]);
            _pieceText[id] = Encoding.UTF8.GetString(_pieces[id]);
            _index.TryAdd(_pieceKeys[id], id);
        }
        _table = new RunCPieceTable(_pieces, BosTokenId);
        _dummyPrefixId = _index.TryGet(" ", out int space) ? space : ' ' + ByteFallbackOffset;
        MaxTokenLength = maxTokenLength;
        SourceName = name;
    }

    private const int BosTokenId = 1, EosTokenId = 2;

    /// <summary>
    /// Loads a llama2.c <c>tokenizer.bin</c>.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="expectedVocabSize">If given, the number of pieces the file must hold (the model's vocab size).</param>
    /// <param name="addBeginningOfSentence">Whether the plain <see cref="Tokenizer"/> encoding API adds BOS.</param>
    /// <param name="addEndOfSentence">Whether the plain <see cref="Tokenizer"/> encoding API adds EOS.</param>
    /// <exception cref="InvalidDataException">The file is not a well-formed tokenizer.bin.</exception>
    public static Llama2cTokenizer Load(string path, int? expectedVocabSize = null,
        bool addBeginningOfSentence = true, bool addEndOfSentence = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return FromBytes(TokenizerFiles.ReadAll(path), path, expectedVocabSize, addBeginningOfSentence, addEndOfSentence);
    }

    /// <summary>Parses tokenizer.bin content; <paramref name="name"/> names the source in errors.</summary>
    internal static Llama2cTokenizer FromBytes(ReadOnlySpan<byte> data, string name, int? expectedVocabSize = null,
        bool addBeginningOfSentence = true, bool addEndOfSentence = false)
    {
        InvalidDataException Bad(string what) => new($"'{name}' is not a valid llama2.c tokenizer.bin: {what}.");

        if (data.IsEmpty) throw Bad("the file is empty");
        if (data.Length < 4) throw Bad($"the file has {data.Length} bytes, too short for the max_token_length header");
        int maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxTokenLength <= 0 || maxTokenLength > MaxPieceLength)
            throw Bad($"max_token_length is {maxTokenLength}, expected 1..{MaxPieceLength}");

        var pieces = new List<byte[]>();
        var scores = new List<float>();
        int pos = 4;
        while (pos < data.Length)
        {
            int id = pieces.Count;
            if (data.Length - pos < 8)
                throw Bad($"token {id} at offset {pos} is truncated ({data.Length - pos} bytes left, its score and length need 8)");
            float score = BinaryPrimitives.ReadSingleLittleEndian(data[pos..]);
            int length = BinaryPrimitives.ReadInt32LittleEndian(data[(pos + 4)..]);
            if (float.IsNaN(score)) throw Bad($"token {id} at offset {pos} has a NaN score");
            if (length < 0) throw Bad($"token {id} at offset {pos} has a negative length {length}");
            if (length > maxTokenLength)
                throw Bad($"token {id} at offset {pos} has length {length}, more than max_token_length {maxTokenLength}");
            pos += 8;
            if (length > data.Length - pos)
                throw Bad($"token {id} at offset {pos - 8} has length {length}, past the end of the file ({data.Length - pos} bytes left)");
            pieces.Add(data.Slice(pos, length).ToArray());
            scores.Add(score);
            pos += length;
        }

        if (pieces.Count < 256 + ByteFallbackOffset)
            throw Bad($"it holds {pieces.Count} tokens; llama2.c needs at least {256 + ByteFallbackOffset} (unk, BOS, EOS and 256 byte tokens)");
        if (expectedVocabSize is int expected && pieces.Count != expected)
            throw Bad($"it holds {pieces.Count} tokens, but the model's vocabulary has {expected}");
        return new Llama2cTokenizer(pieces, scores, maxTokenLength, name, addBeginningOfSentence, addEndOfSentence);
    }

    /// <summary>Walks the structure only: true if <paramref name="data"/> is shaped like a tokenizer.bin to its last byte.</summary>
    internal static bool HasTokenizerBinShape(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4) return false;
        int maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxTokenLength <= 0 || maxTokenLength > MaxPieceLength) return false;
        int pos = 4, count = 0;
        while (pos < data.Length)
        {
            if (data.Length - pos < 8) return false;
            int length = BinaryPrimitives.ReadInt32LittleEndian(data[(pos + 4)..]);
            if (length < 0 || length > maxTokenLength || length > data.Length - pos - 8) return false;
            pos += 8 + length;
            count++;
        }
        return count > 0;
    }

    /// <summary>The file (or name) this vocabulary was read from.</summary>
    public string SourceName { get; }

    /// <summary>The max_token_length header of the file.</summary>
    public int MaxTokenLength { get; }

    /// <inheritdoc/>
    public override int VocabularySize => _pieces.Length;

    /// <inheritdoc/>
    public override int BosId => BosTokenId;

    /// <inheritdoc/>
    public override int EosId => EosTokenId;

    /// <summary>The piece bytes of <paramref name="id"/> as stored in the file.</summary>
    public ReadOnlySpan<byte> GetPiece(int id) => _pieces[CheckId(id)];

    /// <summary>The merge score of <paramref name="id"/>.</summary>
    public float GetScore(int id) => _scores[CheckId(id)];

    /// <inheritdoc/>
    public override ReadOnlySpan<byte> GetPieceBytes(int previous, int token) => _table.Get(previous, token);

    /// <summary>
    /// This tokenizer as a Llama 2 style tokenizer.json (BPE with byte fallback, merges ranked by the file's scores; see
    /// <c>SentencePieceJsonWriter</c>), for tools that read only Hugging Face files, such as onnxruntime-genai. Ids 0–2 are
    /// written as <c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c> and <c>&lt;/s&gt;</c>, spaces in pieces as '▁'.
    /// </summary>
    /// <remarks>
    /// One difference is inherent to that form: a '▁' (U+2581) typed in the text is a space to a tokenizer.json, as it is
    /// to SentencePiece, while run.c encodes it as its three UTF-8 bytes. Every other text gets the same ids.
    /// </remarks>
    /// <exception cref="NotSupportedException">Ids 3–258 are not the byte pieces run.c falls back to.</exception>
    public byte[] ToTokenizerJson() => HuggingFace.SentencePieceJsonWriter.Write(Vocabulary());

    /// <summary>The tokenizer_config.json to put beside <see cref="ToTokenizerJson"/>.</summary>
    /// <exception cref="NotSupportedException">As <see cref="ToTokenizerJson"/>.</exception>
    public byte[] ToTokenizerConfigJson() => HuggingFace.SentencePieceJsonWriter.WriteConfig(Vocabulary());

    private HuggingFace.PieceVocabulary Vocabulary()
    {
        int n = _pieces.Length;
        if (n < ByteFallbackOffset + 256)
            throw new NotSupportedException($"'{SourceName}' cannot be written as a tokenizer.json: its {n} pieces cannot hold the 256 byte pieces run.c falls back to.");
        var text = new string[n];
        var kinds = new HuggingFace.PieceKind[n];
        for (int id = 0; id < n; id++)
        {
            if (id < ByteFallbackOffset)
            {
                (text[id], kinds[id]) = id switch
                {
                    0 => ("<unk>", HuggingFace.PieceKind.Unknown),
                    BosTokenId => ("<s>", HuggingFace.PieceKind.Control),
                    _ => ("</s>", HuggingFace.PieceKind.Control),
                };
            }
            else if (id < ByteFallbackOffset + 256)
            {
                text[id] = HuggingFace.SentencePieceJsonWriter.BytePiece(id - ByteFallbackOffset);
                if (_pieceText[id] != text[id])
                    throw new NotSupportedException($"'{SourceName}' cannot be written as a tokenizer.json: piece {id} is '{_pieceText[id]}', not the byte piece {text[id]} run.c falls back to.");
                kinds[id] = HuggingFace.PieceKind.Byte;
            }
            else
            {
                text[id] = HuggingFace.SentencePieceJsonWriter.SpacesAsMeta(_pieces[id]);
                kinds[id] = HuggingFace.PieceKind.Normal;
            }
        }
        return new HuggingFace.PieceVocabulary(SourceName, text, _scores, kinds, UnkId: 0, BosTokenId, EosTokenId,
            AddDummyPrefix: true, ByteFallback: true, AddBeginningOfSentence, AddEndOfSentence);
    }

    /// <summary>run.c's <c>encode</c>, optionally also reporting each token's range in <paramref name="text"/>.</summary>
    protected override void EncodeCore(ReadOnlySpan<char> text, bool addBos, bool addEos, List<int> ids, List<Range>? offsets)
    {
        int capacity = text.Length * 4 + 2; // at most 4 byte tokens per char, plus BOS and the dummy prefix
        var starts = new int[capacity];
        var lengths = new int[capacity];
        var symbolIds = new int[capacity];
        var charStart = new int[capacity];
        var charEnd = new int[capacity];
        var key = new StringBuilder(text.Length * 2 + 16);
        int count = 0;

        void Add(int id, int from, int to)
        {
            starts[count] = key.Length;
            key.Append(_pieceKeys[id]);
            lengths[count] = _pieceKeys[id].Length;
            symbolIds[count] = id;
            charStart[count] = from;
            charEnd[count] = to;
            count++;
        }

        if (addBos) Add(BosTokenId, 0, 0);
        if (!text.IsEmpty) Add(_dummyPrefixId, 0, 0);

        Span<byte> utf8 = stackalloc byte[4];
        Span<char> codepointKey = stackalloc char[4];
        for (int i = 0; i < text.Length;)
        {
            // A lone surrogate becomes U+FFFD, as it would when the string is converted to UTF-8.
            Rune.DecodeFromUtf16(text[i..], out Rune rune, out int used);
            int n = rune.EncodeToUtf8(utf8);
            for (int b = 0; b < n; b++) codepointKey[b] = (char)utf8[b];
            if (_index.TryGet(codepointKey[..n], out int id))
                Add(id, i, i + used);
            else
                for (int b = 0; b < n; b++) Add(utf8[b] + ByteFallbackOffset, i, i + used);
            i += used;
        }

        var next = new int[Math.Max(count, 1)];
        string keyText = key.ToString();
        BpeMerger.Merge(keyText, starts, lengths, symbolIds, next, default, count, new Rules(this));

        for (int s = 0; count > 0 && s != -1; s = next[s])
        {
            ids.Add(symbolIds[s]);
            if (offsets != null)
            {
                // A surviving symbol absorbed every initial symbol up to the next survivor.
                int last = (next[s] == -1 ? count : next[s]) - 1;
                offsets.Add(charStart[s]..Math.Max(charStart[s], charEnd[last]));
            }
        }
        if (addEos)
        {
            ids.Add(EosTokenId);
            offsets?.Add(text.Length..text.Length);
        }
    }

    private readonly struct Rules(Llama2cTokenizer owner) : IMergeRules
    {
        public bool TryMerge(ReadOnlySpan<char> piece, int leftLength, out int id, out float score)
        {
            score = 0;
            if (!owner._index.TryGet(piece, out id)) return false;
            score = owner._scores[id];
            return score > RunCMinScore;
        }
    }

    private int CheckId(int id) =>
        (uint)id < (uint)_pieces.Length ? id : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id must be in [0, {_pieces.Length}).");

    // ---- Microsoft.ML.Tokenizers.Tokenizer ----

    /// <inheritdoc/>
    protected override string PieceText(int id) => _pieceText[id];

    /// <summary>
    /// Decodes ids as run.c prints them, joined: each token's <see cref="GetPieceBytes"/> (so the
    /// leading space is dropped at the start and after BOS), BOS and EOS skipped, and the bytes
    /// decoded as UTF-8 once, so byte-fallback tokens form characters.
    /// </summary>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new Utf8TextBuilder();
        int previous = BosTokenId;
        foreach (int id in ids) previous = AppendDecoded(text, previous, id);
        text.Flush();
        return text.ToString();
    }

    /// <inheritdoc/>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        int previous = BosTokenId;
        return DecodeToSpan.Run(ids, destination, (text, id) => previous = AppendDecoded(text, previous, id),
            out idsConsumed, out charsWritten);
    }

    private int AppendDecoded(Utf8TextBuilder text, int previous, int id)
    {
        CheckId(id);
        if (id != BosTokenId && id != EosTokenId) text.AppendBytes(_table.Get(previous, id));
        return id;
    }
}
