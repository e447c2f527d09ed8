namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>Answers whether two adjacent symbols may merge, and into what.</summary>
internal interface IMergeRules
{
    /// <summary>
    /// <paramref name="piece"/> is the concatenation of the left symbol (its first
    /// <paramref name="leftLength"/> chars) and the right one. Returns false if they do not merge.
    /// </summary>
    bool TryMerge(ReadOnlySpan<char> piece, int leftLength, out int id, out float score);
}

/// <summary>
/// Score-ordered BPE over a doubly linked list of symbols with a priority queue of adjacent pairs.
/// It gives exactly the result of llama2.c's O(n²) loop (and of sentencepiece's BPE): repeatedly
/// merge the pair with the highest score, the leftmost one among equal scores. Symbols are spans of
/// one key buffer; a merged symbol is the contiguous span of its parts, so a candidate's text never
/// needs copying, and a queued pair can be recognised as stale by its length alone.
/// </summary>
internal static class BpeMerger
{
    private readonly record struct Candidate(int Left, int Right, int Length, int Id);

    private readonly record struct Priority(float Score, int Left);

    private sealed class PriorityOrder : IComparer<Priority>
    {
        public static readonly PriorityOrder Instance = new();

        // Highest score first; on equal scores the leftmost pair, as run.c's strict '>' scan picks it.
        public int Compare(Priority a, Priority b) =>
            a.Score != b.Score ? (a.Score > b.Score ? -1 : 1) : a.Left.CompareTo(b.Left);
    }

    /// <summary>
    /// Merges symbols in place. <paramref name="starts"/>/<paramref name="lengths"/> delimit the initial
    /// symbols (consecutive spans of <paramref name="key"/>), <paramref name="ids"/> their ids;
    /// <paramref name="frozen"/> (optional) marks symbols that never merge. On return the surviving
    /// symbols are listed in order by <paramref name="next"/> starting at index 0 (if any), with
    /// merged symbols' ids and lengths updated; merged-away symbols have length 0.
    /// </summary>
    public static void Merge<TRules>(ReadOnlySpan<char> key, int[] starts, int[] lengths, int[] ids, int[] next,
        ReadOnlySpan<bool> frozen, int count, TRules rules) where TRules : IMergeRules
    {
        if (count < 2)
        {
            if (count == 1) next[0] = -1;
            return;
        }
        var prev = new int[count];
        for (int i = 0; i < count; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }

        var queue = new PriorityQueue<Candidate, Priority>(count, PriorityOrder.Instance);
        for (int i = 0; i + 1 < count; i++)
            TryQueue(key, starts, lengths, frozen, i, i + 1, queue, rules);

        while (queue.TryDequeue(out var c, out _))
        {
            // Stale if either side has since merged into something else.
            if (lengths[c.Left] == 0 || lengths[c.Right] == 0 || next[c.Left] != c.Right
                || lengths[c.Left] + lengths[c.Right] != c.Length)
                continue;

            lengths[c.Left] = c.Length;
            ids[c.Left] = c.Id;
            lengths[c.Right] = 0;
            int after = next[c.Right];
            next[c.Left] = after;
            if (after != -1) prev[after] = c.Left;

            if (prev[c.Left] != -1) TryQueue(key, starts, lengths, frozen, prev[c.Left], c.Left, queue, rules);
            if (after != -1) TryQueue(key, starts, lengths, frozen, c.Left, after, queue, rules);
        }
    }

    private static void TryQueue<TRules>(ReadOnlySpan<char> key, int[] starts, int[] lengths, ReadOnlySpan<bool> frozen,
        int left, int right, PriorityQueue<Candidate, Priority> queue, TRules rules) where TRules : IMergeRules
    {
        if (!frozen.IsEmpty && (frozen[left] || frozen[right])) return;
        int length = lengths[left] + lengths[right];
        if (rules.TryMerge(key.Slice(starts[left], length), lengths[left], out int id, out float score))
            queue.Enqueue(new Candidate(left, right, length, id), new Priority(score, left));
    }
}
