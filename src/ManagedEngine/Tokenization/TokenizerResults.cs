using Microsoft.ML.Tokenizers;

namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>Builds <see cref="EncodeResults{T}"/> for the piece tokenizers, honouring MaxTokenCount.</summary>
internal static class TokenizerResults
{
    public static EncodeResults<EncodedToken> Tokens(List<int> ids, List<Range> offsets, Func<int, string> pieceText, int maxTokenCount, int textLength)
    {
        int count = Kept(ids.Count, maxTokenCount);
        var tokens = new EncodedToken[count];
        for (int i = 0; i < count; i++) tokens[i] = new EncodedToken(ids[i], pieceText(ids[i]), offsets[i]);
        return new EncodeResults<EncodedToken> { Tokens = tokens, NormalizedText = null, CharsConsumed = Consumed(offsets, count, textLength) };
    }

    public static EncodeResults<int> Ids(List<int> ids, List<Range> offsets, int maxTokenCount, int textLength)
    {
        int count = Kept(ids.Count, maxTokenCount);
        if (count < ids.Count) ids.RemoveRange(count, ids.Count - count);
        return new EncodeResults<int> { Tokens = ids, NormalizedText = null, CharsConsumed = Consumed(offsets, count, textLength) };
    }

    private static int Kept(int count, int maxTokenCount)
    {
        if (maxTokenCount <= 0) throw new ArgumentOutOfRangeException(nameof(maxTokenCount), maxTokenCount, "The maximum token count must be positive.");
        return Math.Min(count, maxTokenCount);
    }

    private static int Consumed(List<Range> offsets, int kept, int textLength)
    {
        if (kept == offsets.Count) return textLength;
        return kept == 0 ? 0 : offsets[kept - 1].End.GetOffset(textLength);
    }
}
