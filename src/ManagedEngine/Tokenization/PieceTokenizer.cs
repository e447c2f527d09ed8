using Microsoft.ML.Tokenizers;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>
/// A tokenizer over a LLaMA-style piece vocabulary (SentencePiece pieces with merge scores and
/// byte fallback). It is a <see cref="Tokenizer"/> like any other from Microsoft.ML.Tokenizers, and
/// adds what generation needs: the special ids and the exact bytes each generated token prints.
/// </summary>
public abstract class PieceTokenizer : Tokenizer
{
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
    public abstract int[] Encode(string text, bool addBos, bool addEos);

    /// <summary>
    /// The UTF-8 bytes that llama2.c's <c>decode(prev, token)</c> yields for <paramref name="token"/>
    /// following <paramref name="previous"/>: the piece with '▁' as a space, the leading space dropped
    /// right after BOS, and byte-fallback tokens (<c>&lt;0xXX&gt;</c>) as their single raw byte.
    /// Returns precomputed memory, so streaming output allocates nothing per token.
    /// </summary>
    public abstract ReadOnlySpan<byte> GetPieceBytes(int previous, int token);
}
