namespace MlPipelines.ManagedEngine.Model;

/// <summary>What happens to a text whose tokens do not fit (the context, or a configured limit).</summary>
public enum LongInputPolicy
{
    /// <summary>Keep the first tokens and drop the end (BOS, when added, is kept).</summary>
    TruncateEnd,

    /// <summary>Keep the last tokens and drop the start; BOS, when added, stays first.</summary>
    TruncateStart,

    /// <summary>Refuse the text with an <see cref="ArgumentException"/> naming its length and the limit.</summary>
    Error,
}

/// <summary>Applies a <see cref="LongInputPolicy"/> to token ids.</summary>
public static class TokenLimits
{
    /// <summary>
    /// <paramref name="ids"/> cut to at most <paramref name="limit"/> tokens as <paramref name="policy"/> says;
    /// <paramref name="keepFirst"/> keeps a leading BOS in place when the start is dropped.
    /// </summary>
    /// <exception cref="ArgumentException">Too long under <see cref="LongInputPolicy.Error"/>.</exception>
    public static int[] Fit(int[] ids, int limit, LongInputPolicy policy, bool keepFirst)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        if (ids.Length <= limit)
            return ids;
        return policy switch
        {
            LongInputPolicy.TruncateEnd => ids[..limit],
            LongInputPolicy.TruncateStart when keepFirst && limit > 1 => [ids[0], .. ids[^(limit - 1)..]],
            LongInputPolicy.TruncateStart => ids[^limit..],
            _ => throw new ArgumentException($"the text is {ids.Length} tokens long; at most {limit} fit (set the long-input policy to truncate instead)."),
        };
    }
}
