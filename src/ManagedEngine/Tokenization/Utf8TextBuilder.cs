using System.Buffers;
using System.Text;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>
/// Accumulates decoded text from token bytes. Bytes are decoded as UTF-8 the way sentencepiece
/// decodes byte-fallback runs: each byte that does not start a valid character becomes one U+FFFD
/// (not one per maximal invalid subsequence, as .NET's decoder would), and a character split across
/// tokens is joined. It also remembers, for each token, whether all text up to it is final, which is
/// what the <c>Decode(ids, Span&lt;char&gt;, …)</c> overload reports as ids consumed.
/// </summary>
internal sealed class Utf8TextBuilder
{
    private readonly StringBuilder _text = new();
    private readonly byte[] _pending = new byte[4];
    private int _pendingCount;

    public int Length => _text.Length;

    /// <summary>True when no partial character waits for more bytes.</summary>
    public bool IsAtBoundary => _pendingCount == 0;

    public void AppendBytes(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            _pending[_pendingCount++] = b;
            Drain(final: false);
        }
    }

    /// <summary>Appends already-decoded text, ending any pending byte run first.</summary>
    public void AppendText(string text)
    {
        Flush();
        _text.Append(text);
    }

    /// <summary>Ends the current byte run: an unfinished character becomes one U+FFFD per byte.</summary>
    public void Flush() => Drain(final: true);

    public override string ToString() => _text.ToString();

    /// <summary>The text from <paramref name="start"/> to the end (what a stream has not handed out yet).</summary>
    public string ToString(int start) => _text.ToString(start, _text.Length - start);

    public void CopyTo(int count, Span<char> destination) => _text.CopyTo(0, destination, count);

    private void Drain(bool final)
    {
        while (_pendingCount > 0)
        {
            var status = Rune.DecodeFromUtf8(_pending.AsSpan(0, _pendingCount), out Rune rune, out int consumed);
            if (status == OperationStatus.Done)
            {
                _text.Append(rune.ToString());
                Shift(consumed);
            }
            else if (status == OperationStatus.NeedMoreData && !final)
            {
                return;
            }
            else
            {
                _text.Append('\uFFFD');
                Shift(1);
            }
        }
    }

    private void Shift(int count)
    {
        _pendingCount -= count;
        _pending.AsSpan(count, _pendingCount).CopyTo(_pending);
    }
}

/// <summary>Shared plumbing for the span-based <c>Tokenizer.Decode</c> overload.</summary>
internal static class DecodeToSpan
{
    /// <summary>
    /// Runs <paramref name="append"/> for each id, then copies as much finished text as fits: on
    /// <see cref="OperationStatus.DestinationTooSmall"/>, only whole ids whose text is final are counted.
    /// </summary>
    public static OperationStatus Run(IEnumerable<int> ids, Span<char> destination, Action<Utf8TextBuilder, int> append,
        out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new Utf8TextBuilder();
        int count = 0, fitIds = 0, fitChars = 0;
        foreach (int id in ids)
        {
            append(text, id);
            count++;
            if (text.IsAtBoundary && text.Length <= destination.Length)
            {
                fitIds = count;
                fitChars = text.Length;
            }
        }
        text.Flush();
        if (text.Length <= destination.Length)
        {
            fitIds = count;
            fitChars = text.Length;
        }
        text.CopyTo(fitChars, destination);
        idsConsumed = fitIds;
        charsWritten = fitChars;
        return fitIds == count ? OperationStatus.Done : OperationStatus.DestinationTooSmall;
    }
}
