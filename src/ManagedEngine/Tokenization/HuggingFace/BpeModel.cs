using System.Collections.Concurrent;
using System.Text;

namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>
/// The <c>BPE</c> model of Hugging Face tokenizers: a vocabulary, merges ranked by their order in the
/// file, and the options Llama-family files use (<c>ignore_merges</c>, <c>byte_fallback</c>,
/// <c>unk_token</c>/<c>fuse_unk</c>). Encodes one pre-token ("word") at a time.
/// </summary>
/// <remarks>
/// The merge loop is written here rather than taken from Microsoft.ML.Tokenizers' <c>BpeTokenizer</c>
/// or from <see cref="BpeMerger"/>: Hugging Face ranks merges by (left id, right id) pairs, not by the
/// merged text or a score, applies the lowest rank first and the leftmost pair among equal ranks, and checks
/// <c>ignore_merges</c> before merging; this class does
/// exactly that over a linked list of symbols with a priority queue, as tokenizers' <c>Word::merge_all</c>.
/// </remarks>
internal sealed class BpeModel
{
    /// <summary>Pre-tokens longer than this are not cached (most words are short; a long one is rare).</summary>
    private const int MaxCachedWordLength = 256;
    private const int MaxCacheEntries = 50_000;

    private readonly string?[] _idToToken;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly int[] _byteIds = new int[256];
    private readonly ConcurrentDictionary<string, (int[] Ids, int[] Lengths)> _cache = new(StringComparer.Ordinal);

    /// <param name="idToToken">Token text by id (null where no token has the id).</param>
    /// <param name="tokenToId">Token text to id.</param>
    /// <param name="merges">(left id, right id) → (rank, merged id), see <see cref="PairKey"/>.</param>
    /// <param name="byteFallback">Characters missing from the vocabulary become their &lt;0xXX&gt; byte tokens.</param>
    /// <param name="ignoreMerges">A word that is itself a token is emitted whole, before any merging.</param>
    /// <param name="unkId">The unknown token (-1: none, unknown characters are dropped).</param>
    /// <param name="fuseUnk">A run of unknown characters becomes one unknown token.</param>
    public BpeModel(string?[] idToToken, Dictionary<string, int> tokenToId, Dictionary<long, (int Rank, int NewId)> merges,
        bool byteFallback, bool ignoreMerges, int unkId, bool fuseUnk)
    {
        _idToToken = idToToken;
        _tokenToId = tokenToId;
        _lookup = tokenToId.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        ByteFallback = byteFallback;
        IgnoreMerges = ignoreMerges;
        UnkId = unkId;
        FuseUnk = fuseUnk;
        for (int b = 0; b < 256; b++)
            _byteIds[b] = tokenToId.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
    }

    public bool ByteFallback { get; }
    public bool IgnoreMerges { get; }
    public int UnkId { get; }
    public bool FuseUnk { get; }
    public int MergeCount => _merges.Count;

    /// <summary>One more than the largest token id.</summary>
    public int Size => _idToToken.Length;

    public string? TokenText(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _lookup.TryGetValue(token, out id);

    public static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>The merges as "left right" token texts, in rank order (as tokenizer.json and GGUF list them).</summary>
    public List<string> MergesInRankOrder()
    {
        var ordered = new List<(int Rank, string Text)>(_merges.Count);
        foreach (var (pair, (rank, _)) in _merges)
            ordered.Add((rank, _idToToken[(int)(pair >> 32)] + " " + _idToToken[(int)(uint)pair]));
        ordered.Sort((a, b) => a.Rank.CompareTo(b.Rank));
        return ordered.ConvertAll(m => m.Text);
    }

    /// <summary>
    /// Appends the ids of <paramref name="word"/> and, per id, how many of its chars the token covers
    /// (byte-fallback tokens of one char share it: the first gets its length, the others 0).
    /// </summary>
    public void Encode(string word, List<int> ids, List<int> lengths)
    {
        if (word.Length == 0) return;
        if (word.Length <= MaxCachedWordLength && _cache.TryGetValue(word, out var cached))
        {
            ids.AddRange(cached.Ids);
            lengths.AddRange(cached.Lengths);
            return;
        }
        int firstId = ids.Count;
        EncodeUncached(word, ids, lengths);
        if (word.Length <= MaxCachedWordLength)
        {
            // A bounded cache: when full it starts over, which costs speed, never correctness.
            if (_cache.Count >= MaxCacheEntries) _cache.Clear();
            _cache.TryAdd(word, (ids.GetRange(firstId, ids.Count - firstId).ToArray(), lengths.GetRange(firstId, lengths.Count - firstId).ToArray()));
        }
    }

    private void EncodeUncached(string word, List<int> ids, List<int> lengths)
    {
        if (IgnoreMerges && _lookup.TryGetValue(word, out int whole))
        {
            ids.Add(whole);
            lengths.Add(word.Length);
            return;
        }

        // Initial symbols: one per character (code point), byte-fallback tokens or unk where the vocabulary lacks it.
        var symbolIds = new List<int>(word.Length);
        var symbolLengths = new List<int>(word.Length);
        int unkLength = 0; // a pending unk symbol's length (fuse_unk joins a run)
        bool unkPending = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int pos = 0; pos < word.Length;)
        {
            int charLength = char.IsHighSurrogate(word[pos]) && pos + 1 < word.Length && char.IsLowSurrogate(word[pos + 1]) ? 2 : 1;
            ReadOnlySpan<char> ch = word.AsSpan(pos, charLength);
            pos += charLength;
            if (_lookup.TryGetValue(ch, out int id))
            {
                FlushUnk();
                Add(id, charLength);
                continue;
            }
            if (ByteFallback && TryByteTokens(ch, utf8, out int byteCount))
            {
                FlushUnk();
                for (int i = 0; i < byteCount; i++) Add(_byteIds[utf8[i]], i == 0 ? charLength : 0);
                continue;
            }
            if (UnkId >= 0)
            {
                if (unkPending && !FuseUnk) FlushUnk();
                unkPending = true;
                unkLength += charLength;
            }
            // No unk token and no byte fallback: tokenizers drops the character.
        }
        FlushUnk();

        void Add(int id, int length)
        {
            symbolIds.Add(id);
            symbolLengths.Add(length);
        }

        void FlushUnk()
        {
            if (!unkPending) return;
            Add(UnkId, unkLength);
            unkPending = false;
            unkLength = 0;
        }

        MergeAll(symbolIds, symbolLengths, ids, lengths);
    }

    private bool TryByteTokens(ReadOnlySpan<char> ch, Span<byte> utf8, out int count)
    {
        count = Encoding.UTF8.GetBytes(ch, utf8);
        for (int i = 0; i < count; i++)
            if (_byteIds[utf8[i]] < 0) return false;
        return true;
    }

    private readonly record struct Candidate(int Left, int Right, int LeftId, int RightId, int NewId);

    /// <summary>Lowest rank first, leftmost among equal ranks (tokenizers' <c>Merge</c> ordering).</summary>
    private void MergeAll(List<int> symbolIds, List<int> symbolLengths, List<int> ids, List<int> lengths)
    {
        int n = symbolIds.Count;
        var id = symbolIds.ToArray();
        var length = symbolLengths.ToArray();
        var next = new int[n];
        var prev = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }
        var queue = new PriorityQueue<Candidate, (int Rank, int Left)>();
        for (int i = 0; i + 1 < n; i++) Queue(i, i + 1);

        while (queue.TryDequeue(out Candidate c, out _))
        {
            if (!alive[c.Left] || !alive[c.Right] || next[c.Left] != c.Right || id[c.Left] != c.LeftId || id[c.Right] != c.RightId)
                continue; // stale: one side has merged since
            id[c.Left] = c.NewId;
            length[c.Left] += length[c.Right];
            alive[c.Right] = false;
            int after = next[c.Right];
            next[c.Left] = after;
            if (after != -1) prev[after] = c.Left;
            if (prev[c.Left] != -1) Queue(prev[c.Left], c.Left);
            if (after != -1) Queue(c.Left, after);
        }

        for (int i = 0; n > 0 && i != -1; i = next[i])
        {
            ids.Add(id[i]);
            lengths.Add(length[i]);
        }

        void Queue(int left, int right)
        {
            if (_merges.TryGetValue(PairKey(id[left], id[right]), out var merge))
                queue.Enqueue(new Candidate(left, right, id[left], id[right], merge.NewId), (merge.Rank, left));
        }
    }
}
