using System.Buffers;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> with a BPE model, encoded and decoded as the tokenizers library
/// does: added tokens first, then the normalizer, the pre-tokenizer, BPE merges by rank, the
/// post-processor's BOS/EOS; decoding through the file's decoder chain. This covers the byte-level BPE
/// of Llama 3 / SmolLM2 / DeepSeek-R1-Distill-Llama and the SentencePiece-style BPE (byte fallback,
/// '▁' for spaces) of LlamaTokenizerFast files (Llama 2, TinyLlama, Mistral). GGUF files with a
/// <c>gpt2</c> vocabulary load into the same class (see <c>GgufTokenizer</c>).
/// </summary>
/// <remarks>
/// <para>Special added tokens (<c>"special": true</c>, such as <c>&lt;|eot_id|&gt;</c>) are recognised in text
/// only when asked (<see cref="ParseSpecialTokens"/> or the <see cref="Encode(string, bool, bool, bool)"/>
/// overload): by default their text is tokenized like any other, as llama.cpp does without
/// <c>parse_special</c>. Non-special added tokens are always recognised, as in tokenizers.</para>
/// <para>BOS: the post-processor's template (<c>TemplateProcessing</c>, <c>RobertaProcessing</c>,
/// <c>BertProcessing</c>) decides what the plain <see cref="Tokenizer"/> API adds; a
/// <c>tokenizer_config.json</c> beside the file may override it (<c>add_bos_token</c>,
/// <c>add_eos_token</c>) and name the BOS/EOS tokens (<c>bos_token</c>, <c>eos_token</c>), as
/// transformers does.</para>
/// <para>Decoding: <see cref="GetPieceBytes"/> gives a token's exact bytes (a byte-level token's raw
/// bytes, a byte-fallback token's single byte), special tokens their text; <see cref="Decode(IEnumerable{int})"/>
/// skips special tokens (tokenizers' <c>skip_special_tokens</c>).</para>
/// </remarks>
public sealed class HuggingFaceTokenizer : PieceTokenizer
{
    private readonly BpeModel _model;
    private readonly AddedTokens _added;
    private readonly Dictionary<string, int> _addedIds = new(StringComparer.Ordinal);
    private readonly IReadOnlyList<NormalizerStep> _normalizers;
    private readonly IReadOnlyList<PreTokenizerStep> _preTokenizers;
    private readonly DecoderPlan _decoder;
    private readonly string?[] _tokenText;
    private readonly bool[] _special;
    private readonly int[] _prefix;
    private readonly int[] _suffix;

    internal HuggingFaceTokenizer(string sourceName, BpeModel model, IReadOnlyList<AddedToken> addedTokens,
        IReadOnlyList<NormalizerStep> normalizers, IReadOnlyList<PreTokenizerStep> preTokenizers, IReadOnlyList<DecoderStep> decoders,
        int[] prefix, int[] suffix, int bosId, int eosId, bool addBos, bool addEos, bool parseSpecialTokens)
        : base(addBos, addEos)
    {
        SourceName = sourceName;
        _model = model;
        _normalizers = normalizers;
        _preTokenizers = preTokenizers;
        _prefix = prefix;
        _suffix = suffix;
        BosId = bosId;
        EosId = eosId;
        ParseSpecialTokens = parseSpecialTokens;

        int size = model.Size;
        foreach (AddedToken t in addedTokens) size = Math.Max(size, t.Id + 1);
        _tokenText = new string?[size];
        _special = new bool[size];
        for (int id = 0; id < model.Size; id++) _tokenText[id] = model.TokenText(id);
        foreach (AddedToken t in addedTokens)
        {
            _tokenText[t.Id] = t.Content;
            _special[t.Id] = t.Special;
            _addedIds.TryAdd(t.Content, t.Id);
        }
        _added = new AddedTokens(addedTokens);
        _decoder = new DecoderPlan(decoders, _tokenText, _special);
    }

    /// <summary>
    /// This tokenizer as tokenizer.json bytes (for a tokenizer read from a GGUF file, so that an export carries a standard
    /// file that Hugging Face's tokenizers and onnxruntime-genai read).
    /// </summary>
    /// <exception cref="NotSupportedException">The tokenizer is not byte-level BPE, or has normalizers.</exception>
    public byte[] ToTokenizerJson() => TokenizerJsonWriter.Write(this);

    /// <summary>
    /// The tokenizer_config.json to put beside <see cref="ToTokenizerJson"/>: the BOS/EOS tokens, whether they are added,
    /// and <paramref name="chatTemplate"/> when given.
    /// </summary>
    public byte[] ToTokenizerConfigJson(string? chatTemplate = null) => TokenizerJsonWriter.WriteConfig(this, chatTemplate);

    /// <summary>The BPE model (for writing the vocabulary into another format).</summary>
    internal BpeModel Model => _model;

    /// <summary>The pre-tokenizer steps, in order.</summary>
    internal IReadOnlyList<PreTokenizerStep> PreTokenizers => _preTokenizers;

    /// <summary>Ids the post-processor puts before and after a sequence.</summary>
    internal (int[] Prefix, int[] Suffix) PostProcessor => (_prefix, _suffix);

    /// <summary>The normalizer steps, in order.</summary>
    internal IReadOnlyList<NormalizerStep> Normalizers => _normalizers;

    /// <summary>Whether the pre-tokenizer ends in <c>ByteLevel</c> (a byte-level BPE vocabulary, GPT-2's alphabet).</summary>
    internal bool IsByteLevel => _preTokenizers.Count > 0 && _preTokenizers[^1] is ByteLevelStep;

    /// <summary>The same vocabulary with other pre-tokenizer steps and no post-processor, as a GGUF reader would build it.</summary>
    internal HuggingFaceTokenizer WithPreTokenizers(IReadOnlyList<PreTokenizerStep> steps) =>
        new(SourceName, _model, AddedTokenList(), [], steps, [new DecoderStep.ByteLevel()], [], [], BosId, EosId,
            addBos: false, addEos: false, parseSpecialTokens: false);

    /// <summary>The added tokens (special or not), by id.</summary>
    internal List<AddedToken> AddedTokenList()
    {
        var list = new List<AddedToken>();
        foreach (var (content, id) in _addedIds) list.Add(new AddedToken(id, content, _special[id]));
        list.Sort((a, b) => a.Id.CompareTo(b.Id));
        return list;
    }

    /// <summary>Loads a tokenizer.json (and the tokenizer_config.json beside it, if any).</summary>
    /// <param name="path">The tokenizer.json file.</param>
    /// <param name="expectedVocabSize">If given, the vocabulary size (largest id + 1) the file must have.</param>
    /// <param name="parseSpecialTokens">Whether the plain <see cref="Tokenizer"/> API and <see cref="PieceTokenizer.Encode(string, bool, bool)"/> recognise special tokens in text.</param>
    /// <exception cref="InvalidDataException">The file is not a well-formed tokenizer.json.</exception>
    /// <exception cref="NotSupportedException">The file uses a model, normalizer, pre-tokenizer or decoder this library does not implement.</exception>
    public static HuggingFaceTokenizer Load(string path, int? expectedVocabSize = null, bool parseSpecialTokens = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] data = TokenizerFiles.ReadAll(path, TokenizerFiles.MaxJsonBytes);
        return TokenizerJsonReader.Read(data, path, TokenizerConfig.ReadBeside(path), expectedVocabSize, parseSpecialTokens);
    }

    /// <summary>The file (or name) this tokenizer was read from.</summary>
    public string SourceName { get; }

    /// <summary>Whether special tokens written in the text are recognised by default.</summary>
    public bool ParseSpecialTokens { get; }

    /// <inheritdoc/>
    public override int VocabularySize => _tokenText.Length;

    /// <inheritdoc/>
    public override int BosId { get; }

    /// <inheritdoc/>
    public override int EosId { get; }

    /// <summary>Number of merges of the BPE model.</summary>
    public int MergeCount => _model.MergeCount;

    /// <summary>The token text of <paramref name="id"/> as stored (byte-level characters such as "Ġ", or '▁'), or an added token's content.</summary>
    public string GetToken(int id) => _tokenText[CheckId(id)] ?? "";

    /// <summary>Whether <paramref name="id"/> is a special added token.</summary>
    public bool IsSpecial(int id) => _special[CheckId(id)];

    /// <summary>The id of an added token (by its content) or of a vocabulary token (by its stored text).</summary>
    public bool TryGetTokenId(string token, out int id)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _addedIds.TryGetValue(token, out id) || _model.TryGetId(token, out id);
    }

    /// <summary>
    /// Encodes <paramref name="text"/>; with <paramref name="parseSpecialTokens"/>, special tokens written in
    /// the text (e.g. "&lt;|eot_id|&gt;" in a chat prompt) become their ids.
    /// </summary>
    public int[] Encode(string text, bool addBos, bool addEos, bool parseSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        Encode(text, addBos, addEos, parseSpecialTokens, ids, null);
        return ids.ToArray();
    }

    /// <inheritdoc/>
    protected override void EncodeCore(ReadOnlySpan<char> text, bool addBos, bool addEos, List<int> ids, List<Range>? offsets) =>
        Encode(text, addBos, addEos, ParseSpecialTokens, ids, offsets);

    private void Encode(ReadOnlySpan<char> text, bool addBos, bool addEos, bool parseSpecial, List<int> ids, List<Range>? offsets)
    {
        if (addBos) AddAll(_prefix.Length > 0 ? _prefix : BosId >= 0 ? [BosId] : [], 0..0);
        var tokenIds = new List<int>();
        var tokenLengths = new List<int>();
        foreach (var (start, length, token) in _added.Split(text, parseSpecial))
        {
            if (token is not null)
            {
                ids.Add(token.Id);
                offsets?.Add(start..(start + length));
                continue;
            }
            AlignedText normalized = AlignedText.FromOriginal(text.Slice(start, length), start);
            foreach (NormalizerStep step in _normalizers) normalized = step.Apply(normalized);
            foreach (AlignedText word in PreTokenizerStep.Run(_preTokenizers, normalized))
            {
                tokenIds.Clear();
                tokenLengths.Clear();
                _model.Encode(word.Text, tokenIds, tokenLengths);
                int pos = 0;
                for (int i = 0; i < tokenIds.Count; i++)
                {
                    ids.Add(tokenIds[i]);
                    offsets?.Add(word.OriginalRange(pos, tokenLengths[i]));
                    pos += tokenLengths[i];
                }
            }
        }
        if (addEos) AddAll(_suffix.Length > 0 ? _suffix : EosId >= 0 ? [EosId] : [], text.Length..text.Length);

        void AddAll(int[] special, Range at)
        {
            foreach (int id in special)
            {
                ids.Add(id);
                offsets?.Add(at);
            }
        }
    }

    // ---- decoding ----

    /// <inheritdoc/>
    /// <remarks>
    /// A byte-level token's raw bytes (possibly part of a UTF-8 character), a byte-fallback token's byte,
    /// otherwise the token through the decoder chain; right after BOS (or with no previous token) the
    /// chain's start-of-text rules apply (Strip or Metaspace dropping the leading space). Special tokens
    /// give their text.
    /// </remarks>
    public override ReadOnlySpan<byte> GetPieceBytes(int previous, int token) =>
        _decoder.Get(CheckId(token), previous < 0 || previous == BosId);

    /// <summary>Decodes as tokenizers' <c>decode(ids, skip_special_tokens=True)</c>.</summary>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var kept = new List<int>();
        foreach (int id in ids)
            if (!_special[CheckId(id)]) kept.Add(id);
        return _decoder.Decode(kept);
    }

    /// <inheritdoc/>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        bool atStart = true;
        return DecodeToSpan.Run(ids, destination, (text, id) =>
        {
            if (_special[CheckId(id)]) return;
            text.AppendBytes(_decoder.Get(id, atStart));
            atStart = false;
        }, out idsConsumed, out charsWritten);
    }

    /// <inheritdoc/>
    protected override string PieceText(int id) => _tokenText[id] ?? "";

    private int CheckId(int id) =>
        (uint)id < (uint)_tokenText.Length ? id : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id must be in [0, {_tokenText.Length}).");
}
