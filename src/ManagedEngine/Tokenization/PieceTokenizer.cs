using Microsoft.ML.Tokenizers;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>
/// A tokenizer over a LLaMA-style piece vocabulary (SentencePiece pieces with merge scores and
/// byte fallback). It is a <see cref="Tokenizer"/> like any other from Microsoft.ML.Tokenizers, and
/// adds what generation needs: the special ids and the exact bytes each generated token prints.
/// </summary>
public abstract class PieceTokenizer : Tokenizer
{
    /// <summary>Sets what the plain <see cref="Tokenizer"/> encoding API adds around the ids.</summary>
    protected PieceTokenizer(bool addBeginningOfSentence, bool addEndOfSentence)
    {
        AddBeginningOfSentence = addBeginningOfSentence;
        AddEndOfSentence = addEndOfSentence;
    }

    /// <summary>Whether the plain <see cref="Tokenizer"/> encoding API adds BOS (default true, as Microsoft's LlamaTokenizer).</summary>
    public bool AddBeginningOfSentence { get; }

    /// <summary>Whether the plain <see cref="Tokenizer"/> encoding API adds EOS (default false).</summary>
    public bool AddEndOfSentence { get; }

    /// <summary>Number of pieces in the vocabulary.</summary>
    public abstract int VocabularySize { get; }

    /// <summary>Beginning-of-sequence id.</summary>
    public abstract int BosId { get; }

    /// <summary>End-of-sequence id.</summary>
    public abstract int EosId { get; }

    /// <summary>
    /// Encodes <paramref name="text"/> to ids, optionally with BOS first and EOS last, exactly as the
    /// tokenizer's reference implementation does.
    /// </summary>
    public int[] Encode(string text, bool addBos, bool addEos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        EncodeCore(text, addBos, addEos, ids, null);
        return ids.ToArray();
    }

    /// <summary>
    /// The UTF-8 bytes that llama2.c's <c>decode(prev, token)</c> yields for <paramref name="token"/>
    /// following <paramref name="previous"/>: the piece with '▁' as a space, the leading space dropped
    /// right after BOS, and byte-fallback tokens (<c>&lt;0xXX&gt;</c>) as their single raw byte.
    /// Returns precomputed memory, so streaming output allocates nothing per token.
    /// </summary>
    public abstract ReadOnlySpan<byte> GetPieceBytes(int previous, int token);

    /// <summary>
    /// The tokenizer's own encoder: appends the ids of <paramref name="text"/> (with BOS/EOS as asked)
    /// to <paramref name="ids"/>, and each token's range in the text to <paramref name="offsets"/> when given.
    /// </summary>
    protected abstract void EncodeCore(ReadOnlySpan<char> text, bool addBos, bool addEos, List<int> ids, List<Range>? offsets);

    /// <summary>The text of piece <paramref name="id"/> as <see cref="EncodedToken.Value"/> reports it.</summary>
    protected abstract string PieceText(int id);

    // ---- Microsoft.ML.Tokenizers.Tokenizer: both kinds encode through EncodeCore ----

    /// <inheritdoc/>
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        ReadOnlySpan<char> input = text is null ? textSpan : text.AsSpan();
        var ids = new List<int>();
        var offsets = new List<Range>();
        EncodeCore(input, AddBeginningOfSentence, AddEndOfSentence, ids, offsets);
        return TokenizerResults.Tokens(ids, offsets, PieceText, settings.MaxTokenCount, input.Length);
    }

    /// <inheritdoc/>
    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        ReadOnlySpan<char> input = text is null ? textSpan : text.AsSpan();
        var ids = new List<int>();
        var offsets = new List<Range>();
        EncodeCore(input, AddBeginningOfSentence, AddEndOfSentence, ids, offsets);
        return TokenizerResults.Ids(ids, offsets, settings.MaxTokenCount, input.Length);
    }

    /// <inheritdoc/>
    protected override int CountTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings) =>
        EncodeToIds(text, textSpan, settings).Tokens.Count;
}
