using System.Text;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.AI;

/// <summary>
/// A reply's text as its tokens arrive: each token's bytes decoded as UTF-8, with the bytes of a character split across
/// tokens held back until it is complete (so the pieces joined equal the UTF-8 decoding of all the bytes), then passed
/// through the stop sequences.
/// </summary>
internal sealed class ReplyText(PieceTokenizer tokenizer, IReadOnlyList<string> stopSequences)
{
    private readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();
    private readonly StopSequenceFilter _stops = new(stopSequences);
    private char[] _chars = new char[64];

    /// <summary>Whether a stop sequence has ended the text.</summary>
    public bool Stopped => _stops.Stopped;

    /// <summary>Adds token <paramref name="token"/> (after <paramref name="previous"/>); returns the text it releases, possibly empty.</summary>
    public string Append(int previous, int token) => Decode(tokenizer.GetPieceBytes(previous, token), flush: false);

    /// <summary>The text still held back at the end: an unfinished character becomes U+FFFD, as a whole-text decode gives it.</summary>
    public string Finish() => Decode([], flush: true) + _stops.Finish();

    private string Decode(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _utf8.GetCharCount(bytes, flush);
        if (needed > _chars.Length) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int count = _utf8.GetChars(bytes, _chars, flush);
        return count == 0 && !flush ? "" : _stops.Append(_chars.AsSpan(0, count));
    }
}
