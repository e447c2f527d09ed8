using System.Text;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>One decoder of a tokenizer.json's decoder chain.</summary>
internal abstract record DecoderStep
{
    /// <summary><c>Replace</c> with a string pattern: per token.</summary>
    public sealed record Replace(string Pattern, string Content) : DecoderStep;

    /// <summary><c>ByteFallback</c>: a &lt;0xXX&gt; token is its byte; runs of them are decoded as UTF-8.</summary>
    public sealed record ByteFallback : DecoderStep;

    /// <summary><c>Fuse</c>: the tokens become one string, so later steps see the whole text.</summary>
    public sealed record Fuse : DecoderStep;

    /// <summary><c>Strip</c>: up to Start leading and Stop trailing Content chars removed.</summary>
    public sealed record Strip(char Content, int Start, int Stop) : DecoderStep;

    /// <summary><c>Metaspace</c>: the replacement char is a space, and dropped in the first token when a prefix was prepended.</summary>
    public sealed record Metaspace(char Replacement, bool DropInFirst) : DecoderStep;

    /// <summary><c>ByteLevel</c>: GPT-2's byte characters back to bytes (and the tokens fused).</summary>
    public sealed record ByteLevel : DecoderStep;
}

/// <summary>
/// A tokenizer.json decoder chain turned into per-token bytes, precomputed for every token both at the
/// start of the text (after BOS, where Strip and Metaspace drop the leading space) and elsewhere, so
/// streaming reads them without allocating; and the whole-text decoding tokenizers' <c>decode</c> does.
/// </summary>
internal sealed class DecoderPlan
{
    private readonly IReadOnlyList<DecoderStep> _steps;
    private readonly bool _byteLevel;
    private readonly byte[] _blob;
    private readonly int[] _offsets; // [2 * id] elsewhere, [2 * id + 1] at the start
    private readonly int[] _lengths;
    private readonly int[] _byteValue; // ByteFallback's byte for a <0xXX> token, else -1
    private readonly int _trailingStrip;
    private readonly char _trailingStripChar;

    /// <param name="steps">The decoder chain.</param>
    /// <param name="tokenText">Each id's token text (null: no token has this id).</param>
    /// <param name="special">Which ids are special added tokens: they print their text, untouched by the decoders.</param>
    public DecoderPlan(IReadOnlyList<DecoderStep> steps, IReadOnlyList<string?> tokenText, IReadOnlyList<bool> special)
    {
        _steps = steps;
        _byteLevel = steps.Any(s => s is DecoderStep.ByteLevel);
        bool fused = false;
        foreach (DecoderStep step in steps)
        {
            if (step is DecoderStep.Fuse or DecoderStep.ByteLevel) fused = true;
            if (step is DecoderStep.Strip { Stop: > 0 } strip && fused)
            {
                _trailingStrip = strip.Stop;
                _trailingStripChar = strip.Content;
            }
        }

        int n = tokenText.Count;
        _offsets = new int[2 * n];
        _lengths = new int[2 * n];
        _byteValue = new int[n];
        var blob = new List<byte>();
        for (int id = 0; id < n; id++)
        {
            _byteValue[id] = -1;
            for (int first = 0; first < 2; first++)
            {
                _offsets[2 * id + first] = blob.Count;
                string? text = tokenText[id];
                if (text is null) { }
                else if (special[id]) blob.AddRange(Encoding.UTF8.GetBytes(text));
                else
                {
                    byte[] bytes = TokenBytes(text, first == 1, out bool isByte);
                    if (isByte) _byteValue[id] = bytes[0];
                    blob.AddRange(bytes);
                }
                _lengths[2 * id + first] = blob.Count - _offsets[2 * id + first];
            }
        }
        _blob = blob.ToArray();
    }

    public ReadOnlySpan<byte> Get(int token, bool atStart) =>
        new(_blob, _offsets[2 * token + (atStart ? 1 : 0)], _lengths[2 * token + (atStart ? 1 : 0)]);

    /// <summary>tokenizers' decode of ids that are all valid and already stripped of skipped tokens.</summary>
    public string Decode(IReadOnlyList<int> ids)
    {
        var text = new StringBuilder();
        var bytes = new List<byte>();
        bool byteRun = false;
        for (int i = 0; i < ids.Count; i++)
        {
            int id = ids[i];
            bool isByte = _byteValue[id] >= 0;
            if (!_byteLevel && byteRun && !isByte) FlushRun();
            bytes.AddRange(Get(id, i == 0));
            byteRun = isByte;
        }
        FlushRun();
        string result = text.ToString();
        for (int k = 0; k < _trailingStrip && result.Length > 0 && result[^1] == _trailingStripChar; k++) result = result[..^1];
        return result;

        void FlushRun()
        {
            if (bytes.Count == 0) return;
            byte[] run = bytes.ToArray();
            bytes.Clear();
            // ByteLevel decodes all bytes at once, lossily (one U+FFFD per maximal invalid sequence, as Rust's
            // from_utf8_lossy); ByteFallback turns a run that is not valid UTF-8 into one U+FFFD per byte.
            if (_byteLevel || IsValidUtf8(run)) text.Append(Encoding.UTF8.GetString(run));
            else text.Append('\uFFFD', run.Length);
        }
    }

    private static bool IsValidUtf8(byte[] bytes) => System.Text.Unicode.Utf8.IsValid(bytes);

    /// <summary>One token through the chain; <paramref name="isByte"/> when ByteFallback made it a raw byte.</summary>
    private byte[] TokenBytes(string token, bool first, out bool isByte)
    {
        isByte = false;
        string s = token;
        bool fused = false;
        foreach (DecoderStep step in _steps)
        {
            switch (step)
            {
                case DecoderStep.Replace r:
                    s = s.Replace(r.Pattern, r.Content, StringComparison.Ordinal);
                    break;
                case DecoderStep.ByteFallback when TryBytePiece(s, out byte value):
                    isByte = true;
                    return [value];
                case DecoderStep.Fuse:
                    fused = true;
                    break;
                case DecoderStep.Strip strip:
                    if (!fused || first)
                    {
                        int start = 0;
                        while (start < strip.Start && start < s.Length && s[start] == strip.Content) start++;
                        int end = s.Length;
                        if (!fused)
                            for (int k = 0; k < strip.Stop && end > start && s[end - 1] == strip.Content; k++) end--;
                        s = s[start..end];
                    }
                    break;
                case DecoderStep.Metaspace m:
                    s = first && m.DropInFirst
                        ? s.Replace(m.Replacement.ToString(), "", StringComparison.Ordinal)
                        : s.Replace(m.Replacement, ' ');
                    break;
                case DecoderStep.ByteLevel:
                    return ByteLevelAlphabet.Decode(s);
            }
        }
        return Encoding.UTF8.GetBytes(s);
    }

    /// <summary>tokenizers' ByteFallback test: exactly "&lt;0x" two hex digits "&gt;".</summary>
    private static bool TryBytePiece(string s, out byte value)
    {
        value = 0;
        if (s.Length != 6 || !s.StartsWith("<0x", StringComparison.Ordinal) || s[5] != '>') return false;
        return byte.TryParse(s.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }
}
