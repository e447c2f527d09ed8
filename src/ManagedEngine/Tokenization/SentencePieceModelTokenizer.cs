using System.Buffers;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>
/// A SentencePiece BPE <c>.model</c> (ModelProto) encoded and decoded as sentencepiece itself does,
/// with the file's own normalizer settings (add_dummy_prefix, remove_extra_whitespaces,
/// escape_whitespaces), score-ordered merges with leftmost tie-breaking, user-defined pieces kept
/// whole, unused pieces resegmented, and byte fallback (or one unk per run of unknown characters).
/// </summary>
/// <remarks>
/// <para>Why not Microsoft's <see cref="LlamaTokenizer"/>: in Microsoft.ML.Tokenizers 2.0.1 it orders
/// equal-score merges differently from sentencepiece (runs such as "!!!!!!"), exposes no scores or
/// piece types, and its decoding differs from sentencepiece's (unknown-piece surface, bytes spelling
/// '▁', the leading space after a lone "▁" piece). Reading the few proto fields needed here is
/// smaller than patching around those differences.</para>
/// <para>Supported: BPE models with the identity normalization (no precompiled charsmap) and
/// whitespace as a prefix. Others raise <see cref="NotSupportedException"/> naming the file and rule.
/// Decoding follows current sentencepiece (0.2.x), where only the first leading '▁' is dropped.</para>
/// <para>Through the plain <see cref="Tokenizer"/> API, BOS is added by default (as
/// <see cref="LlamaTokenizer"/> does), EOS is not; normalization/pre-tokenization flags are ignored,
/// the file's normalizer always applies.</para>
/// </remarks>
public sealed class SentencePieceModelTokenizer : PieceTokenizer
{
    private const string SpaceSymbol = "\u2581";

    private readonly SentencePieceModelProto _model;
    private readonly string[] _pieceText;
    private readonly string[] _pieceKeys;
    private readonly PieceIndex _all = new();       // sentencepiece's PieceToId over every piece
    private readonly PieceIndex _mergeable = new(); // pieces_: normal, user-defined, unused
    private readonly PieceIndex _userDefined = new();
    private readonly int _maxUserDefinedLength;
    private readonly int[] _byteIds = new int[256];
    private readonly int[] _byteValues;             // byte piece → its byte, else -1
    private readonly RunCPieceTable _table;

    private SentencePieceModelTokenizer(SentencePieceModelProto model, string name, bool addBos, bool addEos)
        : base(addBos, addEos)
    {
        _model = model;
        SourceName = name;
        int n = model.Pieces.Count;
        InvalidDataException Bad(string what) => new($"'{name}' is not a valid SentencePiece model: {what}.");

        if (model.ModelType != SentencePieceModelProto.ModelTypeBpe)
            throw new NotSupportedException($"'{name}' is a SentencePiece model of type {ModelTypeName(model.ModelType)}; only BPE models are supported.");
        if (model.TreatWhitespaceAsSuffix)
            throw new NotSupportedException($"'{name}' sets treat_whitespace_as_suffix, which is not supported.");
        if (model.PrecompiledCharsMapLength > 0)
            throw new NotSupportedException($"'{name}' uses the normalization rule '{model.NormalizerName}' (a precompiled charsmap of {model.PrecompiledCharsMapLength} bytes); only the identity rule is supported.");

        _pieceText = new string[n];
        _pieceKeys = new string[n];
        _byteValues = new int[n];
        var exported = new byte[n][];
        for (int id = 0; id < n; id++)
        {
            byte[] piece = model.Pieces[id];
            _pieceText[id] = Encoding.UTF8.GetString(piece);
            _pieceKeys[id] = PieceIndex.Key(piece);
            if (!_all.TryAdd(_pieceKeys[id], id))
                throw Bad($"piece {id} '{_pieceText[id]}' is defined twice");
            PieceType type = model.Types[id];
            if (type is PieceType.Normal or PieceType.UserDefined or PieceType.Unused)
                _mergeable.TryAdd(_pieceKeys[id], id);
            if (type == PieceType.UserDefined)
            {
                _userDefined.TryAdd(_pieceKeys[id], id);
                _maxUserDefinedLength = Math.Max(_maxUserDefinedLength, piece.Length);
            }
            _byteValues[id] = -1;
            if (type == PieceType.Byte)
            {
                // As sentencepiece: byte pieces only make sense with byte fallback.
                if (!model.ByteFallback) throw Bad($"byte piece {id} '{_pieceText[id]}' is present although byte_fallback is off");
                if (piece.Length != 6 || !RunCPieceTable.TryParseBytePiece(piece, out byte value) || piece[5] != '>')
                    throw Bad($"byte piece {id} '{_pieceText[id]}' is not of the form <0xXX>");
                _byteValues[id] = value;
            }
            // What llama2.c's export writes for this piece, so GetPieceBytes prints like tokenizer.bin.
            exported[id] = id == model.BosId ? "\n<s>\n"u8.ToArray()
                : id == model.EosId ? "\n</s>\n"u8.ToArray()
                : Encoding.UTF8.GetBytes(_pieceText[id].Replace(SpaceSymbol, " ", StringComparison.Ordinal));
        }

        if ((uint)model.UnkId >= (uint)n || model.Types[model.UnkId] != PieceType.Unknown)
            throw Bad($"unk_id {model.UnkId} does not name an unknown piece");
        foreach (var (field, id) in new[] { ("bos_id", model.BosId), ("eos_id", model.EosId), ("pad_id", model.PadId) })
            if (id < -1 || id >= n) throw Bad($"{field} {id} is outside the vocabulary of {n} pieces");
        if (model.ByteFallback)
            for (int b = 0; b < 256; b++)
            {
                if (!_all.TryGet($"<0x{b:X2}>", out int id) || model.Types[id] != PieceType.Byte)
                    throw Bad($"byte_fallback is on but byte piece <0x{b:X2}> is missing");
                _byteIds[b] = id;
            }
        _table = new RunCPieceTable(exported, model.BosId);
    }

    /// <summary>Loads a SentencePiece BPE <c>.model</c> file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="expectedVocabSize">If given, the number of pieces the file must hold (the model's vocab size).</param>
    /// <param name="addBeginningOfSentence">Whether the plain <see cref="Tokenizer"/> encoding API adds BOS.</param>
    /// <param name="addEndOfSentence">Whether the plain <see cref="Tokenizer"/> encoding API adds EOS.</param>
    /// <exception cref="InvalidDataException">The file is not a well-formed SentencePiece model.</exception>
    /// <exception cref="NotSupportedException">The model is not BPE, or needs a normalization rule other than identity.</exception>
    public static SentencePieceModelTokenizer Load(string path, int? expectedVocabSize = null,
        bool addBeginningOfSentence = true, bool addEndOfSentence = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return FromBytes(TokenizerFiles.ReadAll(path), path, expectedVocabSize, addBeginningOfSentence, addEndOfSentence);
    }

    /// <summary>Parses ModelProto content; <paramref name="name"/> names the source in errors.</summary>
    internal static SentencePieceModelTokenizer FromBytes(ReadOnlySpan<byte> data, string name, int? expectedVocabSize = null,
        bool addBeginningOfSentence = true, bool addEndOfSentence = false)
    {
        var model = SentencePieceModelProto.Parse(data, name);
        if (expectedVocabSize is int expected && model.Pieces.Count != expected)
            throw new InvalidDataException($"'{name}' is not a valid tokenizer for this model: it holds {model.Pieces.Count} pieces, but the model's vocabulary has {expected}.");
        return new SentencePieceModelTokenizer(model, name, addBeginningOfSentence, addEndOfSentence);
    }

    /// <summary>Wraps a model built elsewhere (see <see cref="SentencePieceModelProto.FromVocabulary"/>); <paramref name="name"/> names it in errors.</summary>
    internal static SentencePieceModelTokenizer FromModel(SentencePieceModelProto model, string name,
        bool addBeginningOfSentence = true, bool addEndOfSentence = false) =>
        new(model, name, addBeginningOfSentence, addEndOfSentence);

    private static string ModelTypeName(int type) => type switch
    {
        1 => "UNIGRAM", 2 => "BPE", 3 => "WORD", 4 => "CHAR", _ => type.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The file (or name) this model was read from.</summary>
    public string SourceName { get; }

    /// <summary>The normalizer's name in the file ("identity" for the supported models).</summary>
    public string NormalizerName => _model.NormalizerName;

    /// <summary>normalizer_spec.add_dummy_prefix: a '▁' is put before non-empty text.</summary>
    public bool AddDummyPrefix => _model.AddDummyPrefix;

    /// <summary>normalizer_spec.remove_extra_whitespaces: leading/trailing spaces dropped, runs collapsed.</summary>
    public bool RemoveExtraWhitespaces => _model.RemoveExtraWhitespaces;

    /// <summary>normalizer_spec.escape_whitespaces: spaces become '▁'.</summary>
    public bool EscapeWhitespaces => _model.EscapeWhitespaces;

    /// <summary>trainer_spec.byte_fallback: unknown characters become their UTF-8 byte pieces.</summary>
    public bool ByteFallback => _model.ByteFallback;

    /// <summary>
    /// This tokenizer as a SentencePiece <c>.model</c> file (ModelProto bytes) that loads back to the same
    /// encoder and decoder — for vocabularies that came from elsewhere, such as a GGUF file, to be shipped
    /// in the standard form (an ONNX export does this).
    /// </summary>
    /// <exception cref="NotSupportedException">The model used a precompiled normalization charsmap.</exception>
    public byte[] ToModelBytes() => SentencePieceModelWriter.Write(_model);

    /// <summary>
    /// This tokenizer as a Llama 2 style tokenizer.json (BPE with byte fallback; see <c>SentencePieceJsonWriter</c> for how
    /// the merges are derived from the scores), for tools that read only Hugging Face files, such as onnxruntime-genai.
    /// </summary>
    /// <remarks>
    /// <c>remove_extra_whitespaces</c> becomes regex replacements in the normalizer (Llama 2's own file has it off).
    /// </remarks>
    /// <exception cref="NotSupportedException">
    /// The model has user-defined pieces or keeps spaces unescaped, which the Llama 2 form does not express.
    /// </exception>
    public byte[] ToTokenizerJson() => HuggingFace.SentencePieceJsonWriter.Write(Vocabulary());

    /// <summary>The tokenizer_config.json to put beside <see cref="ToTokenizerJson"/> (BOS/EOS/UNK and whether BOS/EOS are added).</summary>
    /// <exception cref="NotSupportedException">As <see cref="ToTokenizerJson"/>.</exception>
    public byte[] ToTokenizerConfigJson() => HuggingFace.SentencePieceJsonWriter.WriteConfig(Vocabulary());

    private HuggingFace.PieceVocabulary Vocabulary()
    {
        NotSupportedException Unsupported(string what) => new($"'{SourceName}' cannot be written as a tokenizer.json: {what}.");
        if (!_model.EscapeWhitespaces) throw Unsupported("it keeps spaces unescaped (escape_whitespaces is off)");
        var kinds = new HuggingFace.PieceKind[_pieceText.Length];
        for (int id = 0; id < kinds.Length; id++)
            kinds[id] = _model.Types[id] switch
            {
                PieceType.Normal or PieceType.Unused => HuggingFace.PieceKind.Normal,
                PieceType.Unknown => HuggingFace.PieceKind.Unknown,
                PieceType.Control => HuggingFace.PieceKind.Control,
                PieceType.Byte => HuggingFace.PieceKind.Byte,
                _ => throw Unsupported($"piece {id} '{_pieceText[id]}' is user-defined"),
            };
        return new HuggingFace.PieceVocabulary(SourceName, _pieceText, _model.Scores, kinds, _model.UnkId, BosId, EosId,
            _model.AddDummyPrefix, _model.ByteFallback, AddBeginningOfSentence, AddEndOfSentence, _model.RemoveExtraWhitespaces);
    }

    /// <summary>The unknown piece's id.</summary>
    public int UnknownId => _model.UnkId;

    /// <inheritdoc/>
    public override int VocabularySize => _pieceText.Length;

    /// <inheritdoc/>
    public override int BosId => _model.BosId;

    /// <inheritdoc/>
    public override int EosId => _model.EosId;

    /// <summary>The piece of <paramref name="id"/> as stored (with '▁').</summary>
    public string GetPiece(int id) => _pieceText[CheckId(id)];

    /// <summary>The score of <paramref name="id"/>.</summary>
    public float GetScore(int id) => _model.Scores[CheckId(id)];

    /// <inheritdoc/>
    public override ReadOnlySpan<byte> GetPieceBytes(int previous, int token) => _table.Get(previous, token);

    /// <inheritdoc/>
    protected override void EncodeCore(ReadOnlySpan<char> text, bool addBos, bool addEos, List<int> ids, List<Range>? offsets)
    {
        if (addBos && BosId >= 0)
        {
            ids.Add(BosId);
            offsets?.Add(0..0);
        }
        var normalized = SentencePieceNormalizer.Normalize(text, _model.AddDummyPrefix, _model.RemoveExtraWhitespaces, _model.EscapeWhitespaces);
        if (normalized.Length > 0) EncodeNormalized(normalized, ids, offsets);
        if (addEos && EosId >= 0)
        {
            ids.Add(EosId);
            offsets?.Add(text.Length..text.Length);
        }
    }

    private void EncodeNormalized(NormalizedText normalized, List<int> ids, List<Range>? offsets)
    {
        string key = normalized.Key;
        int capacity = key.Length;
        var starts = new int[capacity];
        var lengths = new int[capacity];
        var symbolIds = new int[capacity];
        var next = new int[capacity];
        var frozen = new bool[capacity];
        int count = 0;
        for (int pos = 0; pos < key.Length; count++)
        {
            int length = UserDefinedLength(key, pos);
            frozen[count] = length > 0;
            if (length == 0) length = Utf8Length(key[pos]);
            length = Math.Min(length, key.Length - pos);
            starts[count] = pos;
            lengths[count] = length;
            symbolIds[count] = -1; // resolved after merging, by the symbol's text
            pos += length;
        }

        var rules = new Rules(this);
        BpeMerger.Merge(key, starts, lengths, symbolIds, next, frozen, count, rules);

        bool previousUnknown = false;
        for (int s = 0; count > 0 && s != -1; s = next[s])
            Resegment(key, starts[s], lengths[s], rules.ReverseMerges, normalized, ids, offsets, ref previousUnknown);
    }

    /// <summary>sentencepiece's resegmentation: an unused piece is split back into the two pieces it was merged from.</summary>
    private void Resegment(string key, int start, int length, Dictionary<string, (int Left, int Right)>? reverse,
        NormalizedText normalized, List<int> ids, List<Range>? offsets, ref bool previousUnknown)
    {
        var piece = key.AsSpan(start, length);
        int id = _all.TryGet(piece, out int found) ? found : _model.UnkId;
        if (_model.Types[id] == PieceType.Unused && reverse != null
            && reverse.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(piece, out var split))
        {
            Resegment(key, start, split.Left, reverse, normalized, ids, offsets, ref previousUnknown);
            Resegment(key, start + split.Left, split.Right, reverse, normalized, ids, offsets, ref previousUnknown);
            return;
        }

        Range range = normalized.OriginalRange(start, length);
        bool unknown = _model.Types[id] == PieceType.Unknown;
        if (unknown && _model.ByteFallback)
        {
            foreach (char b in piece)
            {
                ids.Add(_byteIds[b]);
                offsets?.Add(range);
            }
        }
        else if (unknown && previousUnknown)
        {
            // sentencepiece merges a run of unknown pieces into one.
            if (offsets != null) offsets[^1] = offsets[^1].Start..range.End;
        }
        else
        {
            ids.Add(id);
            offsets?.Add(range);
        }
        previousUnknown = unknown;
    }

    private int UserDefinedLength(string key, int pos)
    {
        for (int length = Math.Min(_maxUserDefinedLength, key.Length - pos); length > 0; length--)
            if (_userDefined.TryGet(key.AsSpan(pos, length), out _)) return length;
        return 0;
    }

    /// <summary>Length of the UTF-8 sequence a lead byte starts (the normalized text is valid UTF-8).</summary>
    private static int Utf8Length(char leadByte) => leadByte switch
    {
        < (char)0xC0 => 1,
        < (char)0xE0 => 2,
        < (char)0xF0 => 3,
        _ => 4,
    };

    private sealed class Rules(SentencePieceModelTokenizer owner) : IMergeRules
    {
        public Dictionary<string, (int Left, int Right)>? ReverseMerges { get; private set; }

        public bool TryMerge(ReadOnlySpan<char> piece, int leftLength, out int id, out float score)
        {
            score = 0;
            if (!owner._mergeable.TryGet(piece, out id)) return false;
            score = owner._model.Scores[id];
            if (owner._model.Types[id] == PieceType.Unused)
            {
                // As sentencepiece's rev_merge: the latest split queued for this piece wins.
                ReverseMerges ??= new Dictionary<string, (int, int)>(StringComparer.Ordinal);
                ReverseMerges[piece.ToString()] = (leftLength, piece.Length - leftLength);
            }
            return true;
        }
    }

    private int CheckId(int id) =>
        (uint)id < (uint)_pieceText.Length ? id : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id must be in [0, {_pieceText.Length}).");

    // ---- decoding (sentencepiece's SentencePieceProcessor::Decode) ----

    /// <summary>
    /// Decodes as sentencepiece: control pieces vanish, the unknown piece shows trainer_spec.unk_surface,
    /// '▁' becomes a space, the first leading '▁' is dropped (all leading ones when
    /// remove_extra_whitespaces), and runs of byte pieces are joined into UTF-8 (an invalid byte: U+FFFD).
    /// </summary>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new Utf8TextBuilder();
        var state = new DecodeState();
        foreach (int id in ids) AppendDecoded(text, state, id);
        text.Flush();
        return text.ToString();
    }

    /// <inheritdoc/>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        var state = new DecodeState();
        return DecodeToSpan.Run(ids, destination, (text, id) => AppendDecoded(text, state, id), out idsConsumed, out charsWritten);
    }

    private sealed class DecodeState
    {
        public bool StartPassed; // sentencepiece's is_bos_ws == false
        public bool LeadingSpaceSeen; // sentencepiece's bos_ws_seen
    }

    private void AppendDecoded(Utf8TextBuilder text, DecodeState state, int id)
    {
        CheckId(id);
        if (_byteValues[id] >= 0)
        {
            text.AppendBytes([(byte)_byteValues[id]]);
            return;
        }
        text.Flush();
        if (state.LeadingSpaceSeen || text.Length > 0) state.StartPassed = true;
        state.LeadingSpaceSeen = false;
        switch (_model.Types[id])
        {
            case PieceType.Control:
                return;
            case PieceType.Unknown:
                text.AppendText(_model.UnkSurface);
                return;
        }
        string piece = _pieceText[id];
        if (!state.StartPassed && (_model.AddDummyPrefix || _model.RemoveExtraWhitespaces) && piece.StartsWith(SpaceSymbol, StringComparison.Ordinal))
        {
            piece = piece[SpaceSymbol.Length..];
            state.LeadingSpaceSeen = !_model.RemoveExtraWhitespaces;
        }
        text.AppendText(piece.Replace(SpaceSymbol, " ", StringComparison.Ordinal));
    }

    // ---- Microsoft.ML.Tokenizers.Tokenizer ----

    /// <inheritdoc/>
    protected override string PieceText(int id) => _pieceText[id];
}
