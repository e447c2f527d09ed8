namespace MlPipelines.AI;

/// <summary>
/// Generated text checked against stop sequences as it grows: text is released only once it cannot be the start of a
/// stop sequence, and a completed stop sequence ends the text just before it (the sequence itself is never returned).
/// </summary>
internal sealed class StopSequenceFilter(IReadOnlyList<string> stops)
{
    private readonly System.Text.StringBuilder _text = new();
    private readonly int _longest = stops.Count == 0 ? 0 : stops.Max(s => s.Length);
    private int _released;

    /// <summary>Whether a stop sequence has been seen; no more text is released after it.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Appends generated characters; returns the text now safe to release (empty if none).</summary>
    public string Append(ReadOnlySpan<char> chars)
    {
        if (Stopped) return "";
        _text.Append(chars);
        if (stops.Count == 0) return Release(_text.Length);

        // A stop sequence can only end in the new characters, so it starts no earlier than this.
        int from = Math.Max(0, _text.Length - chars.Length - _longest + 1);
        string window = _text.ToString(from, _text.Length - from);
        int cut = int.MaxValue;
        foreach (string stop in stops)
        {
            int at = window.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0) cut = Math.Min(cut, from + at);
        }
        if (cut != int.MaxValue)
        {
            Stopped = true;
            return Release(Math.Max(cut, _released));
        }
        return Release(_text.Length - HeldBack(window));
    }

    /// <summary>Whatever is held back at the end of the generation (a partial stop sequence that never completed).</summary>
    public string Finish() => Stopped ? "" : Release(_text.Length);

    /// <summary>The length of the longest end of <paramref name="window"/> that begins some stop sequence.</summary>
    private int HeldBack(string window)
    {
        int held = 0;
        foreach (string stop in stops)
            for (int length = Math.Min(stop.Length - 1, window.Length); length > held; length--)
                if (window.AsSpan(window.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    held = length;
                    break;
                }
        return held;
    }

    private string Release(int end)
    {
        if (end <= _released) return "";
        string piece = _text.ToString(_released, end - _released);
        _released = end;
        return piece;
    }
}
